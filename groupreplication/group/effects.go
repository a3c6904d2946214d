package group

import (
	"github.com/replbench/replbench/groupreplication/certifier"
	"github.com/replbench/replbench/protocols"
)

// Effects is what one input to the machine asks of its driver. The driver carries them out
// in field order (Cancel before Verdicts and Applies, so a negative verdict's slot in the
// commit order is filled before anyone waits past it) and never feeds the machine an input
// from inside that work, which is what keeps the machine free of re-entrancy.
type Effects struct {
	// Held reports that the agreed message was not processed: this member is out of the
	// group (ERROR, or waiting for a clone) and keeps it, and every later one, for when it
	// rejoins. The driver hands it over again after the rejoin.
	Held bool
	// Cancel lists commit-order positions that no transaction will fill (negative
	// verdicts): the commit monitor must skip them.
	Cancel []int64
	// Verdicts answer this member's own proposals whose client still waits, in delivery
	// order.
	Verdicts []Verdict
	// Applies are certified transactions the applier must commit in the agreed order:
	// other members' positive ones, and this member's own when its client gave up.
	Applies []Apply
	// Syncs answer this member's BEFORE sync messages.
	Syncs []SyncDone
	// Proposals are encoded messages to put in the agreed log.
	Proposals [][]byte
	// Prepared lists AFTER positions that every member of the view has now prepared: the
	// transactions waiting on them may commit.
	Prepared []int64
	// Awaits ask the driver to feed Then back through ProposeControl once every position up
	// to Position has committed here (a new primary's backlog, a joiner's recovery).
	Awaits []Await
	// Changed reports that the state, the primary, the view or the suspicions changed:
	// whoever waits on one of them should look again.
	Changed bool
	// RolledBack reports that this member left the group: every client waiting for a
	// verdict or a sync gets "rolled back" (the outcome is unknown to it, as in the server).
	RolledBack bool
	// Left reports that this member's own removal (Leave) was delivered: it is OFFLINE
	// and out of the view everywhere, and a clean shutdown may go on.
	Left bool
	// Rejoin asks the driver to run auto-rejoin (NextRejoin): this member just went to ERROR.
	Rejoin bool
	// FlowStep reports a flow-control step: writers waiting for the next period may go.
	FlowStep bool
	// Beacon asks the driver to send every peer an "I am alive" beacon (Tick only).
	Beacon bool
	// Campaign asks the driver to start a raft election now (Tick and Start only).
	Campaign bool
	// Transfer asks the raft leader to hand leadership to member TransferTo (Tick only).
	Transfer   bool
	TransferTo int
}

// Verdict is the certification result of one of this member's transactions.
type Verdict struct {
	ID     int64            // the proposal id Submit was given
	Result certifier.Result // meaningful unless Dropped
	// Dropped means the group discarded the message (its origin had been expelled when it
	// was delivered): the client's transaction did not commit anywhere.
	Dropped bool
}

// Apply is one certified transaction for the applier.
type Apply struct {
	WS    *protocols.WriteSet // Seqno and DependsSeqno are set from the verdict
	Level Consistency         // the originator's level: AFTER makes every member report prepared
}

// SyncDone answers a BEFORE sync message: once this member has committed every position up
// to Position, the transaction sees everything ordered before it.
type SyncDone struct {
	ID       int64
	Position int64
	Dropped  bool // discarded, as for a Verdict
}

// Await is a deferred control message: propose Then once Position has committed here.
type Await struct {
	Position int64
	Then     Message
}

func (e *Effects) propose(data []byte) { e.Proposals = append(e.Proposals, data) }

func (e *Effects) proposeMessage(m *Message) { e.propose(AppendMessage(nil, m)) }
