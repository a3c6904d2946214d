package sqldb

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"

	"github.com/replbench/replbench/protocols"
)

// phase is where in a transaction an error arrived; MySQL reports different causes with
// the same number, and where it came is what tells them apart.
type phase int

const (
	phaseStatement phase = iota // a statement inside an explicit transaction
	phaseCommit                 // COMMIT, or an autocommit write (its own commit)
)

// Client-side codes for a connection that broke. They are the numbers the mysql client
// library uses (CR_SERVER_LOST, CR_SERVER_GONE_ERROR); go-sql-driver reports no number.
const (
	crServerLost = 2013
	crServerGone = 2006
)

// mapError turns a driver error into the *protocols.Error the harness counts, keeping the
// server's number, SQLSTATE and message. The cause of 1213 depends on the server and the
// phase: on Galera a 1213 at commit is a certification failure and one on a statement is a
// brute-force abort by an applier (MariaDB reports both as plain ER_LOCK_DEADLOCK; InnoDB's
// own deadlocks are rare in these workloads and visible separately as the Innodb_deadlocks
// status delta, which is where the exact split lives). Elsewhere 1213 is a local deadlock.
// A message that names the cause, as replbench's own endpoint writes it, wins.
//
// broken reports that the connection cannot be used again.
func mapError(err error, ph phase, kind string) (e *protocols.Error, broken bool) {
	if err == nil {
		return nil, false
	}
	var pe *protocols.Error
	if errors.As(err, &pe) {
		return pe, false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		// The driver closes a connection whose context ends mid-query.
		ie := protocols.ErrInterrupted()
		ie.Msg += " (client deadline: " + err.Error() + ")"
		return ie, true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		code := int(me.Number)
		state := string(me.SQLState[:])
		out := &protocols.Error{Code: code, SQLState: state, Msg: me.Message, Cause: protocols.CauseOther}
		switch code {
		case protocols.ErLockDeadlock:
			switch {
			case strings.Contains(me.Message, "certification"):
				out.Cause = protocols.CauseCertification
			case strings.Contains(me.Message, "brute-force"):
				out.Cause = protocols.CauseBFAbort
			case kind == KindGalera && ph == phaseCommit:
				out.Cause = protocols.CauseCertification
			case kind == KindGalera:
				out.Cause = protocols.CauseBFAbort
			default:
				out.Cause = protocols.CauseDeadlock
			}
		case protocols.ErLockWaitTimeout:
			out.Cause = protocols.CauseLockWaitTimeout
		case protocols.ErUnknownCommand: // WSREP has not yet prepared node for application use
			out.Cause = protocols.CauseNotReady
		case protocols.ErOptionPreventsStatement, 1792: // read-only, ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
			out.Cause = protocols.CauseReadOnly
		case protocols.ErTransactionRollbackDuringCmt:
			out.Cause = protocols.CauseCertification
		case protocols.ErDupEntry:
			out.Cause = protocols.CauseDuplicateKey
		case protocols.ErQueryInterrupted:
			out.Cause = protocols.CauseTimeout
		case 1053, 1927, 4031: // server shutdown, connection killed, idle disconnect
			return out, true
		}
		return out, false
	}
	if lostConnection(err) {
		return &protocols.Error{Code: crServerLost, SQLState: "HY000",
			Msg: "Lost connection to server during query; the outcome of a commit in flight is unknown (" + err.Error() + ")", Cause: protocols.CauseOther}, true
	}
	return &protocols.Error{Code: 0, SQLState: "HY000", Msg: err.Error(), Cause: protocols.CauseOther}, false
}

func lostConnection(err error) bool {
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.As(err, &ne)
}
