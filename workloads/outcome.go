package workloads

import "github.com/replbench/replbench/protocols"

// InDoubt reports whether a COMMIT that returned err may nevertheless have committed. A
// client that gives up waiting (its deadline, or a killed session while semi-sync waits for
// an ack), or whose node left the group while the commit was in flight (Galera's 1047 on the
// minority side, GR's rollback on leaving), does not know the outcome: the write-set may
// already be in the binlog or ordered on the surviving members. A certification failure, a
// brute-force abort, a deadlock or a read-only refusal is a definite rollback.
//
// End-of-run checks that count rows against acknowledged commits must allow the in-doubt
// ones either way, exactly as an application reconciling after a failover must.
func InDoubt(err error) bool {
	switch protocols.Classify(err) {
	case protocols.CauseTimeout, protocols.CauseNotReady, protocols.CauseOther:
		return true
	}
	return false
}
