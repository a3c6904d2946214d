package storage

import (
	"testing"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/prototest"
)

// TestParamsRanges: innodb_lock_wait_timeout is 1 to 1073741824 seconds (MySQL's range);
// the check happens when the harness resolves --param, before a node opens.
func TestParamsRanges(t *testing.T) {
	resolve := func(u map[string]string) (protocols.Params, error) { return protocols.Resolve(Params, u) }
	if err := prototest.CheckParams(resolve,
		prototest.Param("innodb_lock_wait_timeout", "1", ""),
		prototest.Param("innodb_lock_wait_timeout", "1073741824", ""),
		prototest.Param("innodb_lock_wait_timeout", "0", "parameter innodb_lock_wait_timeout: 0 is out of range (accepted: 1 to 1073741824)"),
		prototest.Param("innodb_lock_wait_timeout", "1073741825", "accepted: 1 to 1073741824"),
		prototest.Param("replbench.apply_delay", "-1ms", "accepted: at least 0s"),
		prototest.Param("innodb_flush_log_at_trx_commit", "3", "accepted: 0, 1, 2"),
	); err != nil {
		t.Error(err)
	}
	if err := protocols.CheckDefs(Params); err != nil {
		t.Fatal(err)
	}
}
