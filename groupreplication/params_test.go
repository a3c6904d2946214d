package groupreplication_test

import (
	"testing"
	"time"

	"github.com/replbench/replbench/groupreplication"
	"github.com/replbench/replbench/groupreplication/flowcontrol"
	"github.com/replbench/replbench/groupreplication/group"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/prototest"
)

// TestParamsRefuseImpossibleValues: review finding P2. These values were accepted (or
// crashed the run at start, like a GTID block size of 0); the registered protocol now
// refuses them up front with MySQL's documented range.
func TestParamsRefuseImpossibleValues(t *testing.T) {
	p, err := protocols.Lookup("gr")
	if err != nil {
		t.Fatal(err)
	}
	if err := prototest.CheckParams(p.Resolve,
		prototest.Param("group_replication_flow_control_certifier_threshold", "-1", "parameter group_replication_flow_control_certifier_threshold: -1 is out of range (accepted: 0 to 2147483647)"),
		prototest.Param("group_replication_flow_control_applier_threshold", "-1", "accepted: 0 to 2147483647"),
		prototest.Param("group_replication_gtid_assignment_block_size", "0", "parameter group_replication_gtid_assignment_block_size: 0 is out of range (accepted: at least 1)"),
		prototest.Param("replica_parallel_workers", "-1", "parameter replica_parallel_workers: -1 is out of range (accepted: 0 to 1024)"),
		prototest.Param("slave_parallel_workers", "1025", "parameter replica_parallel_workers: 1025 is out of range (accepted: 0 to 1024)"),
		prototest.Param("group_replication_flow_control_period", "0", "accepted: 1 to 60"),
		prototest.Param("group_replication_flow_control_period", "61", "accepted: 1 to 60"),
		prototest.Param("group_replication_flow_control_hold_percent", "101", "accepted: 0 to 100"),
		prototest.Param("group_replication_flow_control_release_percent", "1001", "accepted: 0 to 1000"),
		prototest.Param("group_replication_flow_control_member_quota_percent", "-1", "accepted: 0 to 100"),
		prototest.Param("group_replication_flow_control_min_quota", "-1", "accepted: 0 to 2147483647"),
		prototest.Param("group_replication_auto_increment_increment", "0", "accepted: 1 to 65535"),
		prototest.Param("group_replication_transaction_size_limit", "-1", "accepted: 0 to 2147483647"),
		prototest.Param("group_replication_member_expel_timeout", "3601", "accepted: 0 to 3600"),
		prototest.Param("group_replication_unreachable_majority_timeout", "-1", "accepted: 0 to 31536000"),
		prototest.Param("group_replication_autorejoin_tries", "2017", "accepted: 0 to 2016"),
		prototest.Param("group_replication_member_weight", "101", "accepted: 0 to 100"),
		prototest.Param("gr_model_raft_election_ticks", "2", "accepted: 3 to 2147483647"),
		prototest.Param("gr_model_raft_tick", "0s", "accepted: at least 1ms"),
		prototest.Param("gr_model_autorejoin_interval", "0s", "accepted: at least 1ms"),
		prototest.Param("group_replication_message_cache_size", "0", "accepted: 4096 to"),
	); err != nil {
		t.Error(err)
	}
}

// TestCheckParams: MySQL refuses a minimum quota or minimum recovery quota above a set
// maximum quota; 0 means no maximum.
func TestCheckParams(t *testing.T) {
	p, err := protocols.Lookup("gr")
	if err != nil {
		t.Fatal(err)
	}
	const minQ, minRec, maxQ = "group_replication_flow_control_min_quota", "group_replication_flow_control_min_recovery_quota", "group_replication_flow_control_max_quota"
	if err := prototest.CheckParams(p.Resolve, []prototest.ParamCase{
		{},
		{User: map[string]string{minQ: "500", minRec: "500"}}, // max_quota 0: no maximum
		{User: map[string]string{minQ: "500", minRec: "500", maxQ: "500"}},
		{User: map[string]string{maxQ: "5"}},
		{User: map[string]string{minQ: "501", maxQ: "500"}, Want: "group_replication_flow_control_min_quota (501) cannot be larger than group_replication_flow_control_max_quota (500)"},
		{User: map[string]string{minRec: "501", maxQ: "500"}, Want: "group_replication_flow_control_min_recovery_quota (501) cannot be larger than group_replication_flow_control_max_quota (500)"},
	}...); err != nil {
		t.Error(err)
	}
}

// TestParseSettings: the registered Parse gives the typed Settings the provider and the
// bounds read, with aliases folded and the server's units converted.
func TestParseSettings(t *testing.T) {
	p, err := protocols.Lookup("gr")
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Resolve(map[string]string{
		"slave_parallel_workers":                 "8",
		"group_replication_flow_control_mode":    "disabled",
		"group_replication_consistency":          "after",
		"group_replication_member_expel_timeout": "7",
		"group_replication_single_primary_mode":  "OFF",
	})
	if err != nil {
		t.Fatal(err)
	}
	set, ok := s.(*groupreplication.Settings)
	if !ok {
		t.Fatalf("Resolve gave %T, want *groupreplication.Settings", s)
	}
	if set.ApplierWorkers != 8 || set.FlowControl.Mode != flowcontrol.Disabled || set.Consistency != group.After ||
		set.ExpelTimeout != 7*time.Second || set.SinglePrimary || set.FlowControlPeriod != time.Second ||
		set.FlowControl.ApplierThreshold != 25000 || set.MessageCacheSize != 1<<30 {
		t.Fatalf("settings %+v", *set)
	}
	if got := set.Params()["replica_parallel_workers"]; got != "8" {
		t.Fatalf("Params() under the real name: %q", got)
	}
	if d := groupreplication.DefaultSettings(); !d.SinglePrimary || d.Consistency != group.Eventual || d.ApplierWorkers != 4 {
		t.Fatalf("defaults %+v", *d)
	}
	// replica_parallel_workers=0 runs one worker, as the server's single applier thread.
	z, err := groupreplication.ParseSettings(protocols.Params{"replica_parallel_workers": "0"})
	if err != nil || z.(*groupreplication.Settings).ApplierWorkers != 1 {
		t.Fatalf("workers 0: %v %+v", err, z)
	}
}
