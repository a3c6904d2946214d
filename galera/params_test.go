package galera_test

import (
	"testing"
	"time"

	"github.com/replbench/replbench/galera"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/prototest"
)

// TestParamsRefuseImpossibleValues: review finding P2. Each value below used to be accepted
// (gcs.fc_limit=-4 hung the run: the first remote write-set sent STOP and CONT needed a
// queue of at most -7); the registered protocol now refuses it up front, naming the
// parameter, the value and the accepted range.
func TestParamsRefuseImpossibleValues(t *testing.T) {
	p, err := protocols.Lookup("galera")
	if err != nil {
		t.Fatal(err)
	}
	if err := prototest.CheckParams(p.Resolve,
		prototest.Param(galera.ParamFCLimit, "-4", "parameter gcs.fc_limit: -4 is out of range (accepted: 1 to 2147483647)"),
		prototest.Param(galera.ParamFCLimit, "0", "accepted: 1 to 2147483647"),
		prototest.Param(galera.ParamFCFactor, "-1", "parameter gcs.fc_factor: -1 is out of range (accepted: 0 to 1)"),
		prototest.Param(galera.ParamFCFactor, "1.5", "accepted: 0 to 1"),
		prototest.Param(galera.ParamSendWindow, "-3", "parameter evs.send_window: -3 is out of range (accepted: 1 to 2147483647)"),
		prototest.Param(galera.ParamUserSendWindow, "0", "parameter evs.user_send_window: 0 is out of range"),
		// MariaDB: wsrep_slave_threads 1 to 512, also under the 8.0.26+ name.
		prototest.Param(galera.ParamSlaveThreads, "0", "parameter wsrep_slave_threads: 0 is out of range (accepted: 1 to 512)"),
		prototest.Param("wsrep_applier_threads", "513", "parameter wsrep_slave_threads: 513 is out of range (accepted: 1 to 512)"),
		prototest.Param(galera.ParamCertMaxLength, "0", "parameter cert.max_length: 0 is out of range (accepted: 1 to 2147483647)"),
		prototest.Param(galera.ParamSyncWait, "16", "accepted: 0 to 15"),
		prototest.Param(galera.ParamRetryAutocommit, "-1", "accepted: 0 to 10000"),
		prototest.Param(galera.ParamWeight, "256", "accepted: 0 to 255"),
		prototest.Param(galera.ParamMaxPacket, "0", "accepted: 1 to 2147483647"),
		prototest.Param(galera.ParamRetransmitInterval, "0s", "accepted: at least 1ms"),
		prototest.Param(galera.ParamSuspectTimeout, "-1s", "accepted: at least 0s"),
	); err != nil {
		t.Error(err)
	}
}

// TestCheckParams: the rules between parameters are refused by the protocol's Parse, so
// the harness sees them before a node starts.
func TestCheckParams(t *testing.T) {
	p, err := protocols.Lookup("galera")
	if err != nil {
		t.Fatal(err)
	}
	if err := prototest.CheckParams(p.Resolve, []prototest.ParamCase{
		{},
		// The boundaries themselves are accepted.
		{User: map[string]string{galera.ParamUserSendWindow: "4", galera.ParamSendWindow: "4"}},
		{User: map[string]string{galera.ParamKeepalive: "1s", galera.ParamSuspectTimeout: "3s", galera.ParamInactiveTimeout: "3s"}},
		{User: map[string]string{galera.ParamGCacheSize: "1G"}},
		// evs.user_send_window may not exceed evs.send_window.
		{User: map[string]string{galera.ParamUserSendWindow: "5"}, Want: "evs.user_send_window (5) must not exceed evs.send_window (4)"},
		{User: map[string]string{galera.ParamSendWindow: "1"}, Want: "evs.user_send_window (2) must not exceed evs.send_window (1)"},
		// Keepalives at least three times per suspect timeout.
		{User: map[string]string{galera.ParamKeepalive: "2s"}, Want: "evs.keepalive_period (2s) must be at most a third of evs.suspect_timeout (5s)"},
		{User: map[string]string{galera.ParamSuspectTimeout: "20s"}, Want: "evs.inactive_timeout (15s) must not be shorter than evs.suspect_timeout (20s)"},
		{User: map[string]string{galera.ParamGCacheSize: "lots"}, Want: "gcache.size"},
	}...); err != nil {
		t.Error(err)
	}
}

// TestSettingsAreTyped: ParseSettings gives every parameter its typed field, folds aliases
// (gcs.fc_master_slave is the older name of gcs.fc_single_primary, still accepted by
// Galera) and derives the bounds' inputs from one place.
func TestSettingsAreTyped(t *testing.T) {
	p, err := protocols.Lookup("galera")
	if err != nil {
		t.Fatal(err)
	}
	get := func(user map[string]string) *galera.Settings {
		t.Helper()
		s, err := p.Resolve(user)
		if err != nil {
			t.Fatal(err)
		}
		return s.(*galera.Settings)
	}
	d := get(nil)
	if d.SlaveThreads != 1 || d.UserSendWindow != 2 || d.SendWindow != 4 || !d.UseAggregate || d.CommitOrder != 3 ||
		d.GCacheSize != 128<<20 || d.Tick != 100*time.Millisecond || d.FC.Limit != 16 || d.FC.Factor != 1 || d.FC.SinglePrimary {
		t.Fatalf("defaults: %+v", *d)
	}
	if lo, up := d.FCLimits(3); lo != 28 || up != 28 {
		t.Fatalf("FCLimits(3) = [%d, %d], want [28, 28]", lo, up)
	}
	if c := d.EVSConfig(0, 3); c.SuspectTicks != 50 || c.KeepaliveTicks != 10 || c.InactiveTicks != 150 {
		t.Fatalf("EVS ticks: %+v", c)
	}
	for _, name := range []string{galera.ParamFCSinglePrimary, "gcs.fc_master_slave"} {
		s := get(map[string]string{name: "true", galera.ParamFCFactor: "0.5"})
		if lo, up := s.FCLimits(3); lo != 8 || up != 16 {
			t.Errorf("%s=true fc_factor=0.5: FCLimits(3) = [%d, %d], want [8, 16]", name, lo, up)
		}
		if got := s.Params()[galera.ParamFCSinglePrimary]; got != "true" {
			t.Errorf("%s=true: Params()[%s] = %q, want it under the real name", name, galera.ParamFCSinglePrimary, got)
		}
	}
	s := get(map[string]string{"wsrep_applier_threads": "8", galera.ParamCommitOrder: "1", galera.ParamGCacheSize: "2K"})
	if s.SlaveThreads != 8 || s.SerialRemoteCommit() || s.SerialLocalCommit() || s.GCacheSize != 2048 {
		t.Fatalf("wsrep_applier_threads=8 repl.commit_order=1 gcache.size=2K: %+v", *s)
	}
	if s := get(map[string]string{galera.ParamCommitOrder: "2"}); !s.SerialRemoteCommit() || s.SerialLocalCommit() {
		t.Fatal("repl.commit_order=2 commits remote write-sets in order, local ones out of order")
	}
}
