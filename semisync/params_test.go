package semisync_test

import (
	"testing"

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
