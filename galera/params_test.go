package galera_test

import (
	"strings"
	"testing"

	"github.com/replbench/replbench/galera"
	"github.com/replbench/replbench/protocols"
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
	for _, tc := range []struct{ name, value, want string }{
		{galera.ParamFCLimit, "-4", "parameter gcs.fc_limit: -4 is out of range (accepted: 1 to 2147483647)"},
		{galera.ParamFCLimit, "0", "accepted: 1 to 2147483647"},
		{galera.ParamFCFactor, "-1", "parameter gcs.fc_factor: -1 is out of range (accepted: 0 to 1)"},
		{galera.ParamFCFactor, "1.5", "accepted: 0 to 1"},
		{galera.ParamSendWindow, "-3", "parameter evs.send_window: -3 is out of range (accepted: 1 to 2147483647)"},
		{galera.ParamUserSendWindow, "0", "parameter evs.user_send_window: 0 is out of range"},
		// MariaDB: wsrep_slave_threads 1 to 512, also under the 8.0.26+ name.
		{galera.ParamSlaveThreads, "0", "parameter wsrep_slave_threads: 0 is out of range (accepted: 1 to 512)"},
		{"wsrep_applier_threads", "513", "parameter wsrep_slave_threads: 513 is out of range (accepted: 1 to 512)"},
		{galera.ParamCertMaxLength, "0", "parameter cert.max_length: 0 is out of range (accepted: 1 to 2147483647)"},
		{galera.ParamSyncWait, "16", "accepted: 0 to 15"},
		{galera.ParamRetryAutocommit, "-1", "accepted: 0 to 10000"},
		{galera.ParamWeight, "256", "accepted: 0 to 255"},
		{galera.ParamMaxPacket, "0", "accepted: 1 to 2147483647"},
		{galera.ParamRetransmitInterval, "0s", "accepted: at least 1ms"},
		{galera.ParamSuspectTimeout, "-1s", "accepted: at least 0s"},
	} {
		_, err := p.Resolve(map[string]string{tc.name: tc.value})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: error %v, want one containing %q", tc.name, tc.value, err, tc.want)
		}
	}
}

// TestCheckParams: the rules between parameters are refused by the protocol's Check, so
// the harness sees them before a node starts.
func TestCheckParams(t *testing.T) {
	p, err := protocols.Lookup("galera")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user map[string]string
		want string // "" accepts
	}{
		{nil, ""},
		// The boundaries themselves are accepted.
		{map[string]string{galera.ParamUserSendWindow: "4", galera.ParamSendWindow: "4"}, ""},
		{map[string]string{galera.ParamKeepalive: "1s", galera.ParamSuspectTimeout: "3s", galera.ParamInactiveTimeout: "3s"}, ""},
		{map[string]string{galera.ParamGCacheSize: "1G"}, ""},
		// evs.user_send_window may not exceed evs.send_window.
		{map[string]string{galera.ParamUserSendWindow: "5"}, "evs.user_send_window (5) must not exceed evs.send_window (4)"},
		{map[string]string{galera.ParamSendWindow: "1"}, "evs.user_send_window (2) must not exceed evs.send_window (1)"},
		// Keepalives at least three times per suspect timeout.
		{map[string]string{galera.ParamKeepalive: "2s"}, "evs.keepalive_period (2s) must be at most a third of evs.suspect_timeout (5s)"},
		{map[string]string{galera.ParamSuspectTimeout: "20s"}, "evs.inactive_timeout (15s) must not be shorter than evs.suspect_timeout (20s)"},
		{map[string]string{galera.ParamGCacheSize: "lots"}, "gcache.size"},
	} {
		_, err := p.Resolve(tc.user)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: unexpected error %v", tc.user, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: error %v, want one containing %q", tc.user, err, tc.want)
		}
	}
}
