// Package agreement is the group communication layer of the Group Replication model: a
// majority-agreed log of messages on go.etcd.io/raft/v3 (v3.6, gogoproto value types),
// standing in for XCom.
//
// Both deliver a message once a majority of members has accepted it, so a commit costs one
// round trip from the proposer to the nearest majority and a slow minority does not slow
// anyone down. They differ in who proposes: XCom (Mencius) lets every member order its
// own messages in its own slots, while raft funnels every proposal through the leader. A
// member that is not the leader therefore pays an extra forwarding hop to the leader
// (about half a round trip to it, more if the leader is far away). Group Replication's
// single-primary mode with group_replication_paxos_single_leader=ON is the XCom
// configuration closest to this, which is why the model keeps the primary on the leader.
//
// Node wraps a raft.RawNode with MemoryStorage. Like raft itself it is a state machine with
// explicit inputs (Tick, Step, Propose, Campaign) and one output call (Ready) that persists
// to memory and returns what to send and what was committed; it starts no goroutines and
// reads no clock.
//
// The log is compacted as it grows, keeping the newest CacheBytes bytes of entries for
// members that fall behind, the way XCom keeps decided messages in a cache bounded in bytes
// (group_replication_message_cache_size, 1 GiB by default). Bounding it in bytes rather
// than entries is what makes the window a length of time that does not shrink as the
// write rate grows past what a count was tuned for: at 16,000 small transactions a second
// a 50,000-entry window lasts 3 s, shorter than the 10 s a cut-off member may stay before
// it is expelled, while 1 GiB of 200-byte messages lasts minutes. A member that needs an
// entry nobody holds any more is sent raft's snapshot (MsgSnap) instead; Ready reports it
// (Output.Snapshot) so the caller can bring the member's state over some other way (Group
// Replication's clone).
package agreement

import (
	"errors"
	"io"
	"log"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Config configures one member.
type Config struct {
	// ID is this member's raft id (member index + 1; raft ids are never 0).
	ID uint64
	// Peers are every member's raft id.
	Peers []uint64
	// ElectionTick is the number of Ticks without hearing from a leader before a follower
	// campaigns (randomised up to twice that), and, with CheckQuorum, before a leader that
	// has not heard from a majority steps down. It plays the part of GR's 5 s suspicion
	// timeout: it must be well above the round trip of the slowest link, or emulated WAN
	// delays cause spurious elections.
	ElectionTick int
	// HeartbeatTick is the number of Ticks between leader heartbeats.
	HeartbeatTick int
	// MaxSizePerMsg caps the bytes of entries in one append message. Larger batches mean
	// fewer messages per commit under load at the cost of head-of-line latency.
	MaxSizePerMsg uint64
	// MaxInflightMsgs caps append messages in flight to one follower: the window that lets
	// a far follower be sent new entries before it acknowledged the previous ones.
	MaxInflightMsgs int
	// CacheBytes is how many bytes of entries (encoded size plus the memory that holding
	// one costs) the log retains for
	// members that fall behind: the XCom cache, group_replication_message_cache_size. When
	// the log holds more, the oldest applied entries are compacted away until it holds
	// 7/8 of that, so compaction (which copies the retained entries) runs once per eighth
	// of the budget written rather than on every entry. 0 keeps everything.
	CacheBytes uint64
}

// DefaultCacheBytes is group_replication_message_cache_size's default, 1 GiB.
const DefaultCacheBytes = 1 << 30

// DefaultConfig returns the settings the model uses unless told otherwise.
func DefaultConfig(id uint64, peers []uint64) Config {
	return Config{ID: id, Peers: peers, ElectionTick: 50, HeartbeatTick: 1,
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, CacheBytes: DefaultCacheBytes}
}

// ErrDropped is returned by Propose when raft drops a proposal: no leader is known yet, or
// leadership is being transferred. The caller retries after the next Tick.
var ErrDropped = raft.ErrProposalDropped

// Output is what one Ready call produced.
type Output struct {
	// Messages must be sent to their To member. They may be sent right away: the entries
	// they refer to are already in the (memory) log.
	Messages []raftpb.Message
	// Committed holds newly committed entries that carry data, in log order. The same
	// sequence comes out on every member.
	Committed []Entry
	// Lead is the leader this member knows of (0: none); LeadChanged is set when it changed
	// in this Ready, together with IsLeader.
	Lead        uint64
	LeadChanged bool
	IsLeader    bool
	// LostLog is set when this member received a snapshot instead of entries: it fell so far
	// behind that the log it needed is gone. Snapshot is the index the snapshot stands for:
	// the next entries delivered start after it, so the member must obtain the state of the
	// group at Snapshot or later by state transfer before it can use them.
	LostLog  bool
	Snapshot uint64
	// Persist is what the member must make durable before it sends Messages (raft's rule:
	// a member never tells others about state it could lose). Empty when the log is
	// in memory only.
	Persist Persist
}

// Persist is one durable step of the log: the hard state (term, vote, commit), entries
// appended (replacing any at and after the first one's index), and a new snapshot point
// when the log was compacted or a snapshot received (entries at or below it are dropped).
type Persist struct {
	HardState raftpb.HardState // raft.IsEmptyHardState: unchanged
	Entries   []raftpb.Entry
	SnapIndex uint64 // 0: unchanged
	SnapTerm  uint64
}

// Empty reports whether there is nothing to persist.
func (p *Persist) Empty() bool {
	return raft.IsEmptyHardState(p.HardState) && len(p.Entries) == 0 && p.SnapIndex == 0
}

func (p *Persist) snapshot(index, term uint64) {
	p.SnapIndex, p.SnapTerm = index, term
	k := 0
	for k < len(p.Entries) && p.Entries[k].Index <= index {
		k++
	}
	p.Entries = p.Entries[k:]
}

func (p *Persist) append(ents []raftpb.Entry) {
	from := ents[0].Index
	k := len(p.Entries)
	for k > 0 && p.Entries[k-1].Index >= from {
		k--
	}
	p.Entries = append(p.Entries[:k], ents...)
}

// Recovered is what a restarted member found of its log: the last hard state, the
// snapshot point (1 for a log never compacted) and the entries after it.
type Recovered struct {
	HardState raftpb.HardState
	SnapIndex uint64
	SnapTerm  uint64
	Entries   []raftpb.Entry
}

// Entry is one committed log entry with data.
type Entry struct {
	Index uint64 // raft log index: increasing, identical on every member
	Data  []byte
}

// Node is one member's agreement state. Not safe for concurrent use.
type Node struct {
	cfg      Config
	rn       *raft.RawNode
	st       *raft.MemoryStorage
	cs       raftpb.ConfState
	applied  uint64
	lead     uint64
	leader   bool
	compacts int

	// entry sizes of the log held in st, for the byte budget: sizes[i] is the size of
	// entry base+i; held is their sum.
	base  uint64
	sizes []uint64
	held  uint64
}

// New creates a member of a group whose membership is Peers from the start: every member
// begins from the same snapshot at index 1 holding the configuration, so no configuration
// entries need to be committed before the first election.
func New(cfg Config) (*Node, error) {
	if cfg.ID == 0 {
		return nil, errors.New("agreement: raft ids start at 1 (use member index + 1)")
	}
	return open(cfg, Recovered{SnapIndex: 1, SnapTerm: 1})
}

// Restart creates a member from what its persisted log kept (Recovered): raft resumes
// from the hard state and the entries, and delivers again every committed entry after the
// snapshot point, in order, so the caller rebuilds its state from them exactly as it
// built it the first time (the first Ready carries them).
//
// The persisted log must hold everything the member acknowledged: raft's leader never
// sends a follower entries below what it acknowledged, so a member that lost part of its
// acknowledged log could never catch up (the leader would probe it for ever). The caller
// therefore persists every Output.Persist durably before sending, and refuses a restart
// where that is not so.
func Restart(cfg Config, rec Recovered) (*Node, error) {
	if cfg.ID == 0 {
		return nil, errors.New("agreement: raft ids start at 1 (use member index + 1)")
	}
	rec.SnapIndex, rec.SnapTerm = max(rec.SnapIndex, 1), max(rec.SnapTerm, 1)
	return open(cfg, rec)
}

func open(cfg Config, rec Recovered) (*Node, error) {
	st := raft.NewMemoryStorage()
	cs := raftpb.ConfState{Voters: append([]uint64(nil), cfg.Peers...)}
	if err := st.ApplySnapshot(raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: rec.SnapIndex, Term: rec.SnapTerm, ConfState: cs}}); err != nil {
		return nil, err
	}
	last := rec.SnapIndex
	var ents []raftpb.Entry
	for _, e := range rec.Entries {
		if e.Index != last+1 {
			break // a gap: what follows cannot be used
		}
		ents = append(ents, e)
		last = e.Index
	}
	if len(ents) > 0 {
		if err := st.Append(ents); err != nil {
			return nil, err
		}
	}
	if hs := rec.HardState; !raft.IsEmptyHardState(hs) {
		hs.Commit = min(max(hs.Commit, rec.SnapIndex), last)
		if err := st.SetHardState(hs); err != nil {
			return nil, err
		}
	}
	rn, err := raft.NewRawNode(&raft.Config{
		ID:              cfg.ID,
		ElectionTick:    cfg.ElectionTick,
		HeartbeatTick:   cfg.HeartbeatTick,
		Storage:         st,
		Applied:         rec.SnapIndex,
		MaxSizePerMsg:   cfg.MaxSizePerMsg,
		MaxInflightMsgs: cfg.MaxInflightMsgs,
		CheckQuorum:     true,
		PreVote:         true,
		Logger:          discard,
	})
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, rn: rn, st: st, cs: cs, applied: rec.SnapIndex, base: rec.SnapIndex + 1}
	if len(ents) > 0 {
		n.account(ents)
	}
	return n, nil
}

var discard = &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}

// Tick advances raft's logical clock by one tick.
func (n *Node) Tick() { n.rn.Tick() }

// Step feeds a message received from another member.
func (n *Node) Step(m raftpb.Message) error { return n.rn.Step(m) }

// Propose appends data to the log (forwarded to the leader by a follower). ErrDropped
// means no leader is known: retry later.
func (n *Node) Propose(data []byte) error { return n.rn.Propose(data) }

// Campaign starts an election now (pre-vote first).
func (n *Node) Campaign() error { return n.rn.Campaign() }

// TransferLeader asks the leader to hand leadership to member id (raft's leadership
// transfer: it brings id's log up to date, then tells it to campaign at once). The model
// uses it to keep the raft leader on the primary that Group Replication's election chose.
// Proposals are dropped while a transfer is pending (ErrDropped): callers retry.
func (n *Node) TransferLeader(id uint64) { n.rn.TransferLeader(id) }

// Lead returns the leader this member knows of (0: none).
func (n *Node) Lead() uint64 { return n.lead }

// IsLeader reports whether this member leads.
func (n *Node) IsLeader() bool { return n.leader }

// ReportSnapshot tells the leader that the snapshot it sent to member id left (ok) or
// could not be sent. Raft pauses replication to a member while a snapshot is in flight;
// this resumes it: probing again finds out whether the member got it.
func (n *Node) ReportSnapshot(id uint64, ok bool) {
	st := raft.SnapshotFinish
	if !ok {
		st = raft.SnapshotFailure
	}
	n.rn.ReportSnapshot(id, st)
}

// CachedBytes returns the bytes the entries the log holds are counted at.
func (n *Node) CachedBytes() uint64 { return n.held }

// FirstIndex returns the oldest entry the log still holds: a member that needs an older
// one is sent a snapshot.
func (n *Node) FirstIndex() uint64 {
	first, _ := n.st.FirstIndex()
	return first
}

// Compactions returns how many times the log was compacted.
func (n *Node) Compactions() int { return n.compacts }

// LogLen returns the entries held in memory.
func (n *Node) LogLen() uint64 {
	first, _ := n.st.FirstIndex()
	last, _ := n.st.LastIndex()
	return last - first + 1
}

// Ready persists what raft produced, applies it, and returns what the caller must send and
// deliver. ok is false when there was nothing to do.
func (n *Node) Ready() (out Output, ok bool) {
	for n.rn.HasReady() {
		ok = true
		rd := n.rn.Ready()
		if rd.SoftState != nil {
			leader := rd.SoftState.RaftState == raft.StateLeader
			if rd.SoftState.Lead != n.lead || leader != n.leader {
				out.LeadChanged = true
			}
			n.lead, n.leader = rd.SoftState.Lead, leader
		}
		if !raft.IsEmptySnap(rd.Snapshot) {
			// The leader no longer has the entries this member needs.
			_ = n.st.ApplySnapshot(rd.Snapshot)
			n.applied = rd.Snapshot.Metadata.Index
			out.Persist.snapshot(rd.Snapshot.Metadata.Index, rd.Snapshot.Metadata.Term)
			out.LostLog = true
			out.Snapshot = rd.Snapshot.Metadata.Index
			n.base, n.sizes, n.held = n.applied+1, n.sizes[:0], 0
		}
		if len(rd.Entries) > 0 {
			_ = n.st.Append(rd.Entries)
			n.account(rd.Entries)
			out.Persist.append(rd.Entries)
		}
		if !raft.IsEmptyHardState(rd.HardState) {
			_ = n.st.SetHardState(rd.HardState)
			out.Persist.HardState = rd.HardState
		}
		out.Messages = append(out.Messages, rd.Messages...)
		for _, e := range rd.CommittedEntries {
			if e.Index <= n.applied {
				continue
			}
			n.applied = e.Index
			if e.Type == raftpb.EntryNormal && len(e.Data) > 0 {
				out.Committed = append(out.Committed, Entry{Index: e.Index, Data: e.Data})
			}
		}
		n.rn.Advance(rd)
	}
	out.Lead, out.IsLeader = n.lead, n.leader
	if at, term, ok := n.maybeCompact(); ok {
		out.Persist.snapshot(at, term)
	}
	return out, ok
}

// entryOverhead is what holding one entry costs beyond its encoded size (the raftpb.Entry
// value in MemoryStorage's slice): the server's cache size bounds memory, so the model
// counts it too, and a cache of many small messages holds fewer of them.
const entryOverhead = 48

// account records the sizes of appended entries. Entries may replace a suffix of the log
// (a follower overwriting entries of an old term), so the sizes from the first new index
// on are dropped first.
func (n *Node) account(ents []raftpb.Entry) {
	from := ents[0].Index
	if from < n.base {
		// Older than the log held (cannot happen after a snapshot; be safe).
		n.base, n.sizes, n.held = from, n.sizes[:0], 0
	}
	if k := from - n.base; k < uint64(len(n.sizes)) {
		for _, sz := range n.sizes[k:] {
			n.held -= sz
		}
		n.sizes = n.sizes[:k]
	}
	for i := range ents {
		sz := uint64(ents[i].Size()) + entryOverhead
		n.sizes = append(n.sizes, sz)
		n.held += sz
	}
}

// maybeCompact drops the oldest applied entries once the log holds more than the byte
// budget, down to 7/8 of it; it returns the new snapshot point when it compacted.
func (n *Node) maybeCompact() (at, term uint64, ok bool) {
	budget := n.cfg.CacheBytes
	if budget == 0 || n.held <= budget {
		return 0, 0, false
	}
	target := budget - budget/8
	first, _ := n.st.FirstIndex()
	if first > n.base {
		// Storage compacted further than the accounting (a snapshot): resync.
		n.drop(first - n.base)
	}
	// Drop whole entries from the front until the rest fits, never past applied.
	k, held := uint64(0), n.held
	for k < uint64(len(n.sizes)) && held > target && n.base+k <= n.applied {
		held -= n.sizes[k]
		k++
	}
	if k == 0 {
		return 0, 0, false
	}
	at = n.base + k - 1 // the last entry dropped
	term, err := n.st.Term(at)
	if err != nil {
		return 0, 0, false
	}
	if _, err := n.st.CreateSnapshot(at, &n.cs, nil); err != nil {
		return 0, 0, false
	}
	if err := n.st.Compact(at); err != nil {
		return 0, 0, false
	}
	n.drop(k)
	n.compacts++
	return at, term, true
}

// drop forgets the sizes of the k oldest entries.
func (n *Node) drop(k uint64) {
	k = min(k, uint64(len(n.sizes)))
	for _, sz := range n.sizes[:k] {
		n.held -= sz
	}
	n.sizes = n.sizes[k:]
	n.base += k
	if cap(n.sizes) > 4*len(n.sizes)+1024 {
		n.sizes = append([]uint64(nil), n.sizes...)
	}
}
