package protocols

import (
	"context"
	"errors"
	"fmt"
)

// Cause classifies why a transaction did not commit. The harness counts aborts by Cause,
// so the classification must separate what a protocol did (certification, brute-force
// abort) from what the local engine did (deadlock, lock wait timeout) even where MySQL
// reports both with the same error number.
type Cause string

// The abort causes the harness reports. The string values appear in JSON and CSV output.
const (
	CauseCertification   Cause = "certification"     // lost certification (Galera 1213, GR 3101)
	CauseBFAbort         Cause = "bf_abort"          // brute-force aborted by a replication applier
	CauseDeadlock        Cause = "deadlock"          // local lock-cycle victim
	CauseLockWaitTimeout Cause = "lock_wait_timeout" // innodb_lock_wait_timeout expired
	CauseNotReady        Cause = "not_ready"         // node not in a primary component / not online
	CauseReadOnly        Cause = "read_only"         // write on a read-only node (GR secondary, replica)
	CauseDuplicateKey    Cause = "duplicate_key"     // unique or primary key already present
	CauseRolledBack      Cause = "rolled_back"       // the workload rolled back on purpose (TPC-C 1%)
	CauseTimeout         Cause = "timeout"           // the client's own deadline expired
	CauseOther           Cause = "other"             // anything else; always a bug worth reading
)

// Causes lists every Cause in the order tables print them.
var Causes = []Cause{CauseCertification, CauseBFAbort, CauseDeadlock, CauseLockWaitTimeout,
	CauseNotReady, CauseReadOnly, CauseDuplicateKey, CauseRolledBack, CauseTimeout, CauseOther}

// MySQL error numbers that the models return. Only numbers MySQL itself uses appear here.
const (
	ErLockDeadlock                 = 1213 // ER_LOCK_DEADLOCK, SQLSTATE 40001
	ErLockWaitTimeout              = 1205 // ER_LOCK_WAIT_TIMEOUT, SQLSTATE HY000
	ErUnknownCommand               = 1047 // ER_UNKNOWN_COM_ERROR: "WSREP has not yet prepared node for application use"
	ErOptionPreventsStatement      = 1290 // ER_OPTION_PREVENTS_STATEMENT (--super-read-only / --read-only)
	ErTransactionRollbackDuringCmt = 3101 // ER_TRANSACTION_ROLLBACK_DURING_COMMIT (GR certification failure)
	ErDupEntry                     = 1062 // ER_DUP_ENTRY, SQLSTATE 23000
	ErQueryInterrupted             = 1317 // ER_QUERY_INTERRUPTED, used for a client-side deadline
)

// Error is a MySQL-style error: number, SQLSTATE, message, plus the Cause the harness counts.
// Protocols and storage return *Error for every failure a client could see; anything else
// reaching a client is classified as CauseOther.
type Error struct {
	Code     int
	SQLState string
	Msg      string
	Cause    Cause
}

func (e *Error) Error() string {
	return fmt.Sprintf("ERROR %d (%s): %s", e.Code, e.SQLState, e.Msg)
}

// Is makes errors.Is match two *Error values with the same code and cause.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Cause == e.Cause
}

// Constructors for the errors clients see. Messages follow MySQL's wording where MySQL has one.

// ErrCertification is Galera's certification failure as the client sees it.
func ErrCertification() *Error {
	return &Error{ErLockDeadlock, "40001", "Deadlock found when trying to get lock; try restarting transaction (certification failure)", CauseCertification}
}

// ErrBFAbort is the error of a local transaction killed by a replication applier.
func ErrBFAbort() *Error {
	return &Error{ErLockDeadlock, "40001", "Deadlock found when trying to get lock; try restarting transaction (brute-force aborted by replication)", CauseBFAbort}
}

// ErrDeadlock is the local lock-cycle victim's error.
func ErrDeadlock() *Error {
	return &Error{ErLockDeadlock, "40001", "Deadlock found when trying to get lock; try restarting transaction", CauseDeadlock}
}

// ErrLockWaitTimeout is innodb_lock_wait_timeout expiring.
func ErrLockWaitTimeout() *Error {
	return &Error{ErLockWaitTimeout, "HY000", "Lock wait timeout exceeded; try restarting transaction", CauseLockWaitTimeout}
}

// ErrNotReady is a Galera node outside the primary component refusing work.
func ErrNotReady() *Error {
	return &Error{ErUnknownCommand, "08S01", "WSREP has not yet prepared node for application use", CauseNotReady}
}

// ErrReadOnly is a write refused by super_read_only (GR secondary, semi-sync replica).
func ErrReadOnly() *Error {
	return &Error{ErOptionPreventsStatement, "HY000", "The MySQL server is running with the --super-read-only option so it cannot execute this statement", CauseReadOnly}
}

// ErrGRRollback is Group Replication's certification failure as the client sees it.
func ErrGRRollback() *Error {
	return &Error{ErTransactionRollbackDuringCmt, "40000", "Plugin instructed the server to rollback the current transaction.", CauseCertification}
}

// ErrDuplicateKey is a unique-key violation.
func ErrDuplicateKey(entry, key string) *Error {
	return &Error{ErDupEntry, "23000", fmt.Sprintf("Duplicate entry '%s' for key '%s'", entry, key), CauseDuplicateKey}
}

// ErrRolledBack marks a transaction the workload rolled back on purpose (TPC-C's 1% New-Order).
func ErrRolledBack(why string) *Error {
	return &Error{0, "00000", "rolled back by the workload: " + why, CauseRolledBack}
}

// ErrInterrupted is a statement interrupted by the client's deadline.
func ErrInterrupted() *Error {
	return &Error{ErQueryInterrupted, "70100", "Query execution was interrupted", CauseTimeout}
}

// Classify returns the Cause of err: the Cause of an *Error anywhere in its chain,
// CauseTimeout for a context deadline or cancellation, CauseOther otherwise.
func Classify(err error) Cause {
	var e *Error
	if errors.As(err, &e) {
		return e.Cause
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return CauseTimeout
	}
	return CauseOther
}

// Retryable reports whether a client should retry the transaction that failed with err:
// MySQL's 1213 and 1205 (and GR's 3101) are the errors applications retry.
func Retryable(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case ErLockDeadlock, ErLockWaitTimeout, ErTransactionRollbackDuringCmt:
		return true
	}
	return false
}
