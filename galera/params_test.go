package galera_test

import (
	"testing"

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

// TestCheckParams: the rules between parameters are refused by the protocol's Check, so
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
