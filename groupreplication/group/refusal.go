package group

import (
	"strings"

	"github.com/replbench/replbench/protocols"
)

// What a member answers a client it will not serve, as the server answers.

// ErrNotOnline is what a member that is not ONLINE answers: the server's before_commit
// hook fails.
func ErrNotOnline(state State) *protocols.Error {
	return &protocols.Error{Code: 3100, SQLState: "HY000",
		Msg:   "Error on observer while running replication hook 'before_commit' (member is " + string(state) + ", not ONLINE; wait for it to join the group)",
		Cause: protocols.CauseNotReady}
}

// ErrRolledBack is what a client waiting for its commit gets when the member leaves the
// group (expelled, unreachable_majority_timeout, or shut down) before the verdict: the
// server rolls back the pending transactions. If the group had already ordered it, it may
// still commit on the others (and here after a rejoin): the outcome is unknown to the
// client, as in the server.
func ErrRolledBack() *protocols.Error {
	return &protocols.Error{Code: 3100, SQLState: "HY000",
		Msg:   "Error on observer while running replication hook 'before_commit' (the member left the group before the transaction was decided; it was rolled back here, check whether the group committed it before retrying)",
		Cause: protocols.CauseNotReady}
}

// refusal is what a member that is not ONLINE answers to a write: super_read_only (1290)
// while in ERROR or RECOVERING, or the exit action's error once auto-rejoin gave up.
func (m *Machine) refusal() *protocols.Error {
	switch {
	case m.state == Offline:
		return ErrNotOnline(Offline)
	case m.exitTaken && strings.EqualFold(m.cfg.ExitAction, "OFFLINE_MODE"):
		return &protocols.Error{Code: 3032, SQLState: "HY000", Msg: "The server is currently in offline mode (group_replication_exit_state_action=OFFLINE_MODE; rejoin the member to serve again)", Cause: protocols.CauseNotReady}
	case m.exitTaken && strings.EqualFold(m.cfg.ExitAction, "ABORT_SERVER"):
		return &protocols.Error{Code: 2013, SQLState: "HY000", Msg: "Lost connection to MySQL server during query (group_replication_exit_state_action=ABORT_SERVER shut the member down)", Cause: protocols.CauseNotReady}
	}
	return protocols.ErrReadOnly()
}

// ReadRefusal is what a read is refused with (nil: served). super_read_only still serves
// reads (stale ones, on a member in ERROR); OFFLINE_MODE and ABORT_SERVER do not. online
// reports whether the consistency levels apply (they do not on a member out of service).
func (m *Machine) ReadRefusal() (err *protocols.Error, online bool) {
	if m.state == Online {
		return nil, true
	}
	if m.state == Offline {
		return ErrNotOnline(Offline), false
	}
	if e := m.refusal(); e.Code != protocols.ErOptionPreventsStatement {
		return e, false
	}
	return nil, false
}

// WriteRefusal is what a transaction's first write is refused with (nil: allowed): a
// member out of service, or a single-primary secondary (super_read_only), which includes
// a new primary until its backlog is applied, or a member leaving the group (Leave).
func (m *Machine) WriteRefusal() *protocols.Error {
	if m.state != Online {
		return m.refusal()
	}
	if m.leaving {
		return protocols.ErrReadOnly() // STOP GROUP_REPLICATION sets super_read_only first
	}
	if m.cfg.SinglePrimary && (m.primary != m.cfg.Self || m.primaryChange) {
		return protocols.ErrReadOnly()
	}
	return nil
}

// CommitRefusal is what a transaction is refused with at commit (nil: it may be sent). A
// transaction that began on the primary before a primary change started may still commit.
func (m *Machine) CommitRefusal() *protocols.Error {
	if m.state != Online {
		return m.refusal()
	}
	if m.leaving {
		return protocols.ErrReadOnly() // STOP GROUP_REPLICATION sets super_read_only first
	}
	if m.cfg.SinglePrimary && m.primary != m.cfg.Self {
		return protocols.ErrReadOnly()
	}
	return nil
}
