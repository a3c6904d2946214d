package replicator

import (
	"fmt"

	"github.com/replbench/replbench/galera/cert"
	"github.com/replbench/replbench/galera/gcs"
	"github.com/replbench/replbench/protocols"
)

// Ready is what one step produced: messages for the network, then effects for the node,
// both in the order they must be carried out.
type Ready struct {
	Messages []gcs.Envelope
	Effects  []Effect
}

// Effect is one thing the driver must do: Verdict, Apply, Cancel, CausalDone, FlowControl,
// AutoIncrement, Installed, Donate, Restore, Received, Cached or CacheReset.
type Effect interface{ effect() }

// Outcome is what became of a local write-set.
type Outcome uint8

// The outcomes of Verdict.
const (
	// Certified: ordered at Seqno and passed; the client commits it in seqno order.
	Certified Outcome = iota
	// Failed: ordered at Seqno and failed certification (the client sees 1213; the
	// position is cancelled).
	Failed
	// NotReady: the node cannot order it (not serving, or it left the primary component
	// while the write-set waited): 1047.
	NotReady
	// Fenced: it touches a row of a detached write-set of this node still in flight; it was
	// not sent (1213, the answer certification would give without the same-node exemption).
	Fenced
)

func (o Outcome) String() string {
	return [...]string{"certified", "failed", "not-ready", "fenced"}[o]
}

// Verdict answers the client waiting for local write-set ID. For Certified and Failed the
// write-set was delivered in total order: that moment is the end of its replication latency
// (wsrep_evs_repl_latency).
type Verdict struct {
	ID      uint64
	Outcome Outcome
	Seqno   int64  // its position (Certified, Failed)
	Depends int64  // depends_seqno (Certified)
	Reason  string // why certification failed (Failed)
}

// Apply is a certified remote write-set for the appliers (WS.Seqno and WS.DependsSeqno
// set): it may apply once DependsSeqno has committed, and commits in seqno order. Bytes is
// its encoded size, which Committed reports back. It has entered the receive queue that
// flow control counts; the driver calls Dequeued when an applier takes it.
type Apply struct {
	WS    *protocols.WriteSet
	Bytes int
}

// Cancel is a position that will do no work (failed certification, or a write-set this node
// cannot read): the driver fills it in the apply and commit monitors so the order keeps no
// hole.
type Cancel struct{ Seqno int64 }

// CausalDone answers causal-read token Token: a read may proceed once every position up to
// Seqno has committed here. Seqno is -1 when the token cannot be answered.
type CausalDone struct {
	Token uint64
	Seqno int64
}

// FlowControl starts (Paused) or ends a pause of every writer on this node: a STOP from
// some member was delivered, or the last outstanding one was matched by a CONT (or a view
// change reset flow control). While paused no new write-set is admitted.
type FlowControl struct{ Paused bool }

// AutoIncrement sets auto_increment_increment and auto_increment_offset
// (wsrep_auto_increment_control) for a new primary view.
type AutoIncrement struct{ Increment, Offset int }

// Installed reports a view installed here (after the old view's transitional deliveries):
// whether it is primary, its members, and the quorum arithmetic behind the decision.
type Installed struct{ View gcs.View }

// Kind is the kind of a state transfer.
type Kind byte

// The two kinds of state transfer.
const (
	IST Kind = 1 // incremental: the write-sets the joiner misses, from the donor's gcache
	SST Kind = 2 // snapshot: the whole database, plus the cached write-sets for certification
)

func (k Kind) String() string {
	if k == SST {
		return "SST"
	}
	return "IST"
}

// Donate is a state transfer this member serves as the donor every member picked: send
// Message to member To, point to point, outside the total order. For an SST the driver
// first waits until every position up to At has committed here, takes a storage snapshot
// and appends it with AppendSnapshot (the donor's ordering stops meanwhile, as a blocking
// SST does); if that fails nothing is sent, and the joiner asks again in a later view.
type Donate struct {
	To       int
	Kind     Kind
	From, At int64 // the joiner holds everything up to From; the transfer brings it to At
	Message  []byte
}

// Received reports that this member, the joiner, finished a state transfer from member
// From, up to position At, and how its history was put together: the seqnos the transfer
// itself brought (an IST's write-sets; an SST's snapshot covers up to At), the live
// write-sets it had queued meanwhile (the total order after its request), how many of those
// it skipped because the transfer already held them and how many it then applied. With Gap
// set the pieces did not join up (a seqno in neither the transfer nor the queue): the
// member did not go on to JOINED and SYNCED but asked for another transfer, as a joiner
// whose history has a hole must (gcs demotes such a member to PRIMARY).
type Received struct {
	From int
	Kind Kind
	At   int64

	First, Last             int64 // seqnos brought by the transfer (0, 0: none)
	QueuedFirst, QueuedLast int64 // live write-sets queued meanwhile (0, 0: none)
	Skipped, Applied        int   // of the queued ones: already in the transfer, applied after it
	Gap                     bool
	Have, Want              int64 // with Gap: the history held, the position the order has reached
}

// String is the transfer's account, as replbench_last_state_transfer prints it.
func (r Received) String() string {
	s := fmt.Sprintf("%s up to seqno %d", r.Kind, r.At)
	if r.Last > 0 {
		s += fmt.Sprintf(" (transferred %d..%d", r.First, r.Last)
	} else {
		s += " (nothing transferred"
	}
	if r.QueuedLast > 0 {
		s += fmt.Sprintf(", queued %d..%d: %d skipped, %d applied", r.QueuedFirst, r.QueuedLast, r.Skipped, r.Applied)
	}
	s += ")"
	if r.Gap {
		s += fmt.Sprintf("; gap: history up to %d, order at %d, not JOINED, asking again", r.Have, r.Want)
	}
	return s
}

// Range prints the seqnos a donation brings the joiner: "seqnos 3..4", or, for a joiner
// that is up to date (or ahead, for an SST), what it gets instead.
func (d Donate) Range() string {
	switch {
	case d.From+1 <= d.At:
		return fmt.Sprintf("seqnos %d..%d", d.From+1, d.At)
	case d.Kind == SST:
		return fmt.Sprintf("the state at seqno %d (the joiner's history, at %d, is not the group's)", d.At, d.From)
	}
	return fmt.Sprintf("no write-set to apply, the certification index preload up to seqno %d", d.At)
}

func (Verdict) effect()       {}
func (Apply) effect()         {}
func (Cancel) effect()        {}
func (CausalDone) effect()    {}
func (FlowControl) effect()   {}
func (AutoIncrement) effect() {}
func (Installed) effect()     {}
func (Donate) effect()        {}
func (Received) effect()      {}

// Status is what the machine knows of the wsrep_* status variables.
type Status struct {
	Cert         cert.Stats
	EVS          gcs.Stats
	EVSState     gcs.State
	View         gcs.View
	Own          gcs.NodeState
	Weight       int   // total pc.weight of the view's members
	ConfID       int64 // wsrep_cluster_conf_id (-1 in a non-primary component)
	Seqno        int64 // the last position of the total order known here
	CachedDownto int64 // wsrep_local_cached_downto (0: gcache empty)
	FC           gcs.FlowControl
	Paused       bool

	SendQueue                  int64   // wsrep_local_send_queue
	SendQueueAvg, RecvQueueAvg float64 // wsrep_local_send_queue_avg, wsrep_local_recv_queue_avg
	Received, ReceivedBytes    int64   // wsrep_received, wsrep_received_bytes
	Withdrawn, Detached        int64   // replbench_local_withdrawn, replbench_local_detached
	FencedConflicts            int64   // replbench_detached_conflicts
	ApplyErrors                int64   // unreadable write-sets and failed state transfers
	ISTReceived, SSTReceived   int64
	// Unordered counts write-sets delivered during a state exchange or from a member not
	// yet DONOR, JOINED or SYNCED, which no member numbers (replbench_writesets_unordered).
	Unordered int64
	// TransferGaps counts state transfers after which the history had a hole, so the
	// member asked again instead of going on to JOINED (replbench_transfer_gaps).
	TransferGaps int64
}

// Status returns the machine's figures.
func (m *Machine) Status() Status {
	s := Status{Cert: m.cert.Stats(), EVS: m.evs.Stats(), EVSState: m.evs.EVSState(), View: m.group.View,
		Own: m.group.Own(), ConfID: m.conf, Seqno: m.g, CachedDownto: m.cachedDownto(), FC: m.fc, Paused: m.paused,
		SendQueue: m.stats.sendQueue, Received: m.stats.received, ReceivedBytes: m.stats.receivedBytes,
		Withdrawn: m.stats.withdrawn, Detached: m.stats.detached, FencedConflicts: m.stats.fencedConflicts,
		ApplyErrors: m.stats.applyErrors, ISTReceived: m.stats.ist, SSTReceived: m.stats.sst,
		Unordered: m.stats.unordered, TransferGaps: m.stats.gaps}
	for _, mem := range m.group.View.Members {
		s.Weight += m.group.Weights[mem]
	}
	if m.stats.sendN > 0 {
		s.SendQueueAvg = m.stats.sendSum / float64(m.stats.sendN)
	}
	if m.stats.recvN > 0 {
		s.RecvQueueAvg = m.stats.recvSum / float64(m.stats.recvN)
	}
	return s
}

// Cached is a write-set entering gcache at Seqno with its verdict (Passed false: kept
// marked skip): the driver appends it to the node's galera.cache file, so that a restarted
// node recovers it (RecoverCache). It comes before the write-set's Verdict or Apply, as
// Galera stores an action in gcache when it is received, before it is certified or applied.
type Cached struct {
	Seqno  int64
	Action []byte
	Passed bool
}

// CacheReset is gcache's history reset: an SST replaced the node's state at At, so every
// cached write-set is discarded (GCache::seqno_reset) and the file starts afresh.
type CacheReset struct{ At int64 }

func (Cached) effect()     {}
func (CacheReset) effect() {}
