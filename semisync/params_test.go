package semisync_test

import (
	"strings"
	"testing"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/prototest"
	"github.com/replbench/replbench/semisync"
)

// TestParamsRefuseImpossibleValues: review finding P2. These values were accepted (a wait
// count of 0 crashed the run at start); both protocols now refuse them up front with
// MySQL's documented ranges, under the 8.0.26+ names as well.
func TestParamsRefuseImpossibleValues(t *testing.T) {
	for proto, cases := range map[string][]prototest.ParamCase{
		"semisync": {
			prototest.Param(semisync.ParamTimeout, "-5", "parameter rpl_semi_sync_master_timeout: -5 is out of range (accepted: 0 to 4294967295)"),
			prototest.Param("rpl_semi_sync_source_timeout", "-5", "parameter rpl_semi_sync_master_timeout: -5 is out of range"),
			prototest.Param(semisync.ParamWaitCount, "0", "parameter rpl_semi_sync_master_wait_for_slave_count: 0 is out of range (accepted: 1 to 65535)"),
			prototest.Param("rpl_semi_sync_source_wait_for_replica_count", "65536", "accepted: 1 to 65535"),
			prototest.Param(semisync.ParamWorkers, "-1", "parameter replica_parallel_workers: -1 is out of range (accepted: 0 to 1024)"),
			prototest.Param(semisync.ParamSyncDelay, "-1", "accepted: 0 to 1000000"),
		},
		"async": {
			prototest.Param(semisync.ParamWorkers, "-1", "parameter replica_parallel_workers: -1 is out of range (accepted: 0 to 1024)"),
			prototest.Param("slave_parallel_workers", "1025", "accepted: 0 to 1024"),
			prototest.Param(semisync.ParamSyncDelay, "1000001", "accepted: 0 to 1000000"),
			prototest.Param(semisync.ParamNoDelayCnt, "-1", "accepted: 0 to 100000"),
			prototest.Param(semisync.ParamHistory, "0", "accepted: 1 to 1000000"),
			prototest.Param(semisync.ParamHeartbeat, "0s", "accepted: at least 1ms"),
			// async has no ack wait, so the semi-sync parameters are unknown to it.
			prototest.Param(semisync.ParamTimeout, "10", "unknown parameter"),
		},
	} {
		p, err := protocols.Lookup(proto)
		if err != nil {
			t.Fatal(err)
		}
		if err := prototest.CheckParams(p.Resolve, cases...); err != nil {
			t.Errorf("%s: %v", proto, err)
		}
	}
	// The ends of each range are accepted.
	p, _ := protocols.Lookup("semisync")
	if err := prototest.CheckParams(p.Resolve,
		prototest.ParamCase{User: map[string]string{semisync.ParamTimeout: "0", semisync.ParamWaitCount: "1", semisync.ParamWorkers: "0", semisync.ParamSyncDelay: "0"}},
		prototest.ParamCase{User: map[string]string{semisync.ParamTimeout: "4294967295", semisync.ParamWaitCount: "65535", semisync.ParamWorkers: "1024", semisync.ParamSyncDelay: "1000000"}},
	); err != nil {
		t.Error(err)
	}
}

// Settings are the parameters in the model's units, converted once: the timeout from
// milliseconds, the sync delay from microseconds; aliases land on the same field; async has
// no ack wait.
func TestSettings(t *testing.T) {
	d := semisync.DefaultSettings(true)
	if !d.SemiSync || d.WaitCount != 1 || d.Timeout != 10*time.Second || d.WaitPoint != semisync.AfterSync ||
		!d.WaitNoSlave || d.Serialized || d.Workers != 4 || !d.PreserveOrder || d.Heartbeat != 100*time.Millisecond || d.HistorySize != 25000 {
		t.Errorf("semisync defaults: %+v", d)
	}
	p, _ := protocols.Lookup("semisync")
	st, err := p.Resolve(map[string]string{
		"rpl_semi_sync_source_timeout": "500", semisync.ParamWaitPoint: "after_commit", "rpl_semi_sync_source_wait_for_replica_count": "2",
		semisync.ParamSyncDelay: "1500", semisync.ParamWorkers: "0", "slave_preserve_commit_order": "OFF", semisync.ParamSerialized: "ON",
	})
	if err != nil {
		t.Fatal(err)
	}
	s := st.(*semisync.Settings)
	if s.Timeout != 500*time.Millisecond || s.WaitPoint != semisync.AfterCommit || s.WaitCount != 2 || s.SyncDelay != 1500*time.Microsecond ||
		s.Workers != 0 || s.ApplierWorkers() != 1 || s.PreserveOrder || !s.Serialized {
		t.Errorf("set: %+v", s)
	}
	if s.Params()[semisync.ParamWaitCount] != "2" {
		t.Errorf("Params() keeps the resolved values under the real names: %v", s.Params())
	}
	if c := s.SourceConfig([]string{"n2"}); c.WaitCount != 2 || c.Timeout != s.Timeout || !c.SemiSync || c.Replicas[0] != "n2" {
		t.Errorf("SourceConfig: %+v", c)
	}
	// sync_binlog=N, and the OS's writeback from centiseconds (Linux's defaults: 30 s, 5 s).
	if d.SyncPeriod != 1 || !d.SyncBinlog || d.DirtyExpire != 30*time.Second || d.DirtyWriteback != 5*time.Second {
		t.Errorf("binlog durability defaults: %+v", d)
	}
	st, err = p.Resolve(map[string]string{semisync.ParamSyncBinlog: "4", semisync.ParamDirtyExpire: "150", semisync.ParamDirtyWB: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if s := st.(*semisync.Settings); s.SyncPeriod != 4 || s.SyncBinlog || s.DirtyExpire != 1500*time.Millisecond || s.DirtyWriteback != 0 {
		t.Errorf("sync_binlog=4: %+v", s)
	}
	if a := semisync.DefaultSettings(false); a.SemiSync || a.WaitCount != 0 || a.Workers != 4 {
		t.Errorf("async defaults: %+v", a)
	}
}

// New refuses settings that are not semisync's own, with a message that says what it needs,
// rather than running on defaults.
func TestNewNeedsItsSettings(t *testing.T) {
	_, err := semisync.New(protocols.Config{Node: "n1", Members: []string{"n1", "n2"}, Settings: protocols.ParamSettings{}})
	if err == nil || !strings.Contains(err.Error(), "semisync.ParseSettings") {
		t.Fatalf("err = %v", err)
	}
}
