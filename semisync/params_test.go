package semisync_test

import (
	"strings"
	"testing"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/semisync"
)

// TestParamsRefuseImpossibleValues: review finding P2. These values were accepted (a wait
// count of 0 crashed the run at start); both protocols now refuse them up front with
// MySQL's documented ranges, under the 8.0.26+ names as well.
func TestParamsRefuseImpossibleValues(t *testing.T) {
	for _, tc := range []struct{ proto, name, value, want string }{
		{"semisync", semisync.ParamTimeout, "-5", "parameter rpl_semi_sync_master_timeout: -5 is out of range (accepted: 0 to 4294967295)"},
		{"semisync", "rpl_semi_sync_source_timeout", "-5", "parameter rpl_semi_sync_master_timeout: -5 is out of range"},
		{"semisync", semisync.ParamWaitCount, "0", "parameter rpl_semi_sync_master_wait_for_slave_count: 0 is out of range (accepted: 1 to 65535)"},
		{"semisync", "rpl_semi_sync_source_wait_for_replica_count", "65536", "accepted: 1 to 65535"},
		{"semisync", semisync.ParamWorkers, "-1", "parameter replica_parallel_workers: -1 is out of range (accepted: 0 to 1024)"},
		{"async", semisync.ParamWorkers, "-1", "parameter replica_parallel_workers: -1 is out of range (accepted: 0 to 1024)"},
		{"async", "slave_parallel_workers", "1025", "accepted: 0 to 1024"},
		{"async", semisync.ParamSyncDelay, "1000001", "accepted: 0 to 1000000"},
		{"semisync", semisync.ParamSyncDelay, "-1", "accepted: 0 to 1000000"},
		{"async", semisync.ParamNoDelayCnt, "-1", "accepted: 0 to 100000"},
		{"async", semisync.ParamHistory, "0", "accepted: 1 to 1000000"},
		{"async", semisync.ParamHeartbeat, "0s", "accepted: at least 1ms"},
		// async has no ack wait, so the semi-sync parameters are unknown to it.
		{"async", semisync.ParamTimeout, "10", "unknown parameter"},
	} {
		p, err := protocols.Lookup(tc.proto)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Resolve(map[string]string{tc.name: tc.value})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s=%s: error %v, want one containing %q", tc.proto, tc.name, tc.value, err, tc.want)
		}
	}
	// The ends of each range are accepted.
	p, _ := protocols.Lookup("semisync")
	for _, u := range []map[string]string{
		{semisync.ParamTimeout: "0", semisync.ParamWaitCount: "1", semisync.ParamWorkers: "0", semisync.ParamSyncDelay: "0"},
		{semisync.ParamTimeout: "4294967295", semisync.ParamWaitCount: "65535", semisync.ParamWorkers: "1024", semisync.ParamSyncDelay: "1000000"},
	} {
		if _, err := p.Resolve(u); err != nil {
			t.Errorf("%v: %v", u, err)
		}
	}
}
