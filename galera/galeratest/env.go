// Package galeratest is an interaction-test environment for Galera's pure machines, in the
// spirit of etcd raft's rafttest: N members, each a replicator.Machine (EVS, certification,
// flow control, views, state transfer), over an in-memory network whose links have one-way
// delays in ticks, driven step by step by datadriven scripts (testdata/) that propose
// write-sets, deliver, drop, partition, tick and stabilize, and print what each member did.
//
// Everything the provider's goroutines do around the machine is done here synchronously and
// deterministically: the monitors are a counter per member, one applier per member commits
// remote write-sets in seqno order (it can be stalled, to build a receive queue), a client
// commits its certified write-set as soon as its turn comes, and a state transfer carries the
// donor's committed history as its snapshot. Time passes only in ticks, which are also the
// EVS timer ticks (replbench.evs_tick), so a latency printed here is exact: a commit that
// costs the longest path originator -> i -> j -> originator prints that many ticks.
//
// The scripts are where the claims of the source material are checked, each keyed by a
// comment to the sentence it checks; the virtual-time tests of package galera check the same
// claims end to end, through the driver, the bus and the storage engine.
package galeratest

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/replbench/replbench/galera"
	"github.com/replbench/replbench/galera/gcs"
	"github.com/replbench/replbench/galera/replicator"
	"github.com/replbench/replbench/protocols"
)

// Env is a cluster of machines over a simulated network.
type Env struct {
	Now     int64 // ticks since the start
	members []*member
	delay   [][]int64       // one-way delay from i to j, in ticks
	lastDue [][]int64       // FIFO per link: nothing overtakes what was sent before it
	cut     map[[2]int]bool // directed links that drop everything (a partition)
	net     []packet        // in flight, in send order
	seq     int
	labels  int // write-sets proposed so far (w1, w2, ...)
	causals int
	out     strings.Builder
	dropped int
}

type packet struct {
	due      int64
	seq      int
	from, to int
	payload  []byte
}

// member is one node: its machine and the synchronous stand-ins of the driver around it.
type member struct {
	name   string
	idx    int
	m      *replicator.Machine
	st     *galera.Settings
	closed bool

	lastLeft int64          // the apply monitor's last_left: everything up to here committed
	done     map[int64]bool // positions above lastLeft that left (cancelled)
	history  []string       // labels of committed write-sets, in commit order
	at       []int64        // the seqno each history entry committed at

	queue   []replicator.Apply // the receive queue
	current *replicator.Apply  // taken by the applier, waiting for its turn to commit
	stalled bool               // the applier takes nothing (a slow node)
	credit  int                // write-sets a stalled applier may still take

	nextID    uint64
	clients   map[uint64]*client // proposed, waiting for a verdict
	certified []*client          // certified, committing in seqno order
	waiting   []*client          // held back by flow control before proposing
	racing    []*client          // sent in the batch in which this member's EVS installs a view
	paused    bool
	causal    map[uint64]string

	own      gcs.NodeState // last printed node state
	lastPrim *gcs.PrimView // the last primary view it installed (its gvwstate.dat)
}

// client is one local write-set and its client.
type client struct {
	label string
	id    uint64
	ws    *protocols.WriteSet
	at    int64 // when the client reached COMMIT
	seqno int64
	bytes int
}

// New returns a cluster of n members, n1..nN, with every parameter at its default except
// params (applied to every member) and perNode (member name -> its own parameters, on top).
// Links have no delay.
func New(n int, params map[string]string, perNode map[string]map[string]string) (*Env, error) {
	e := &Env{cut: map[[2]int]bool{}}
	for i := range n {
		name := fmt.Sprintf("n%d", i+1)
		user := map[string]string{}
		for k, v := range params {
			user[k] = v
		}
		for k, v := range perNode[name] {
			user[k] = v
		}
		s, err := protocols.ResolveSettings(galera.Params, galera.ParseSettings, user)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		st := s.(*galera.Settings)
		mb := &member{name: name, idx: i, st: st, m: replicator.New(st.ReplicatorConfig(i, n)),
			done: map[int64]bool{}, clients: map[uint64]*client{}, causal: map[uint64]string{}, own: gcs.NodeSynced}
		e.members = append(e.members, mb)
		e.delay = append(e.delay, make([]int64, n))
		e.lastDue = append(e.lastDue, make([]int64, n))
	}
	for i, mb := range e.members {
		v := mb.m.Status().View // the bootstrapped primary view, as gvwstate.dat saves it
		mb.lastPrim = &gcs.PrimView{ID: v.ID, ConfID: max(v.ConfID, 1), Members: v.Members, Weights: v.Weights}
		e.members[i].m.Announce()
		e.ready(i)
	}
	return e, nil
}

func (e *Env) logf(mb *member, format string, args ...any) {
	fmt.Fprintf(&e.out, "t=%d %s: %s\n", e.Now, mb.name, fmt.Sprintf(format, args...))
}

// Output returns what happened since the last call, one line per event.
func (e *Env) Output() string {
	s := e.out.String()
	e.out.Reset()
	return s
}

func (e *Env) index(name string) (int, error) {
	for i, mb := range e.members {
		if mb.name == name {
			return i, nil
		}
	}
	names := make([]string, len(e.members))
	for i, mb := range e.members {
		names[i] = mb.name
	}
	return -1, fmt.Errorf("no member %q (members: %s)", name, strings.Join(names, ", "))
}

// SetDelay sets the one-way delay of link from -> to.
func (e *Env) SetDelay(from, to int, ticks int64) { e.delay[from][to] = ticks }

// Propose has a client on member i reach COMMIT with a write-set of keys (row keys of table
// t; a key "r:S" has type SHARED, R REFERENCE, U UPDATE, X or nothing EXCLUSIVE). seen is its
// last_seen, or -1 for the member's last committed position. A client of a member paused by
// flow control waits before its write-set is sent, as the send monitor makes it.
func (e *Env) Propose(i int, keys []string, seen int64) (string, error) {
	return e.propose(i, keys, seen, false)
}

// ProposeRacing is Propose for a client whose COMMIT reaches member i's loop in the same
// batch as the message that makes its EVS install the next view: the write-set is handed
// to the machine after that message's Step and before the Ready that delivers the view,
// which is the one moment a write-set can enter a new view ahead of its state exchange.
func (e *Env) ProposeRacing(i int, keys []string, seen int64) (string, error) {
	return e.propose(i, keys, seen, true)
}

func (e *Env) propose(i int, keys []string, seen int64, racing bool) (string, error) {
	mb := e.members[i]
	e.labels++
	c := &client{label: fmt.Sprintf("w%d", e.labels), at: e.Now}
	ws := &protocols.WriteSet{Source: mb.name}
	for _, k := range keys {
		row, typ, err := parseKey(k)
		if err != nil {
			return "", err
		}
		ws.Keys = append(ws.Keys, protocols.Key{Table: "t", Row: []byte(row), Type: typ})
		ws.Rows = append(ws.Rows, protocols.RowChange{Table: "t", Op: protocols.OpUpdate, Row: []byte(row), After: []byte(c.label)})
	}
	if seen < 0 {
		seen = mb.lastLeft
	}
	ws.Snapshot = seen
	c.ws = ws
	e.logf(mb, "%s reaches COMMIT", c.label)
	if mb.closed {
		e.logf(mb, "%s refused: the node is closed", c.label)
		return c.label, nil
	}
	if racing {
		e.logf(mb, "%s waits for the batch that installs the next view", c.label)
		mb.racing = append(mb.racing, c)
		return c.label, nil
	}
	if mb.paused {
		e.logf(mb, "%s waits: flow control paused every writer", c.label)
		mb.waiting = append(mb.waiting, c)
		return c.label, nil
	}
	e.send(mb, c)
	e.ready(i)
	return c.label, nil
}

func parseKey(k string) (string, protocols.KeyType, error) {
	row, t, ok := strings.Cut(k, ":")
	if !ok {
		return row, protocols.KeyExclusive, nil
	}
	switch strings.ToUpper(t) {
	case "S":
		return row, protocols.KeyShared, nil
	case "R":
		return row, protocols.KeyReference, nil
	case "U":
		return row, protocols.KeyUpdate, nil
	case "X":
		return row, protocols.KeyExclusive, nil
	}
	return "", 0, fmt.Errorf("key %q: type %q is not S, R, U or X", k, t)
}

// send hands a client's write-set to its member's machine.
func (e *Env) send(mb *member, c *client) {
	mb.nextID++
	c.id = mb.nextID
	action := replicator.EncodeWriteSet(nil, c.id, c.ws)
	c.bytes = len(action)
	mb.clients[c.id] = c
	mb.m.SetLastCommitted(mb.lastLeft)
	mb.m.Propose(c.id, c.ws, action)
}

// Causal has a client on member i ask for a causal read (wsrep_sync_wait).
func (e *Env) Causal(i int) string {
	mb := e.members[i]
	e.causals++
	label := fmt.Sprintf("c%d", e.causals)
	mb.causal[uint64(e.causals)] = label
	mb.m.Causal(uint64(e.causals))
	e.ready(i)
	return label
}

// Leave closes member i gracefully.
func (e *Env) Leave(i int) {
	mb := e.members[i]
	mb.m.Leave()
	e.ready(i)
	mb.closed = true
	e.logf(mb, "left the cluster")
}

// Kill stops member i without a goodbye (a killed or crashed process): it sends nothing
// more, what is in flight to it is lost, and its clients are gone. What it committed
// survives, as a kill keeps every written byte.
func (e *Env) Kill(i int) {
	mb := e.members[i]
	mb.closed = true
	e.net = slices.DeleteFunc(e.net, func(p packet) bool { return p.to == i })
	e.logf(mb, "killed at seqno %d", mb.lastLeft)
}

// RestartOptions are what a restarted member finds besides its data.
type RestartOptions struct {
	PCRecovery      bool // restore the last primary view it installed (gvwstate.dat)
	Bootstrap       bool // pc.bootstrap: start a new cluster
	SafeToBootstrap bool // its grastate.dat's safe_to_bootstrap
}

// Restart starts a killed member i again as a restarted node does
// (replicator.NewRestarted): its storage recovered position seqno (at most what it had
// committed; a crash can lose the unsynced tail), an empty gcache, no clients, alone and
// non-primary until it merges and asks for a state transfer. The refusal of a bootstrap
// without safe_to_bootstrap is the driver's, before any machine exists: it is not modelled
// here.
func (e *Env) Restart(i int, seqno int64, opts RestartOptions) error {
	mb := e.members[i]
	if !mb.closed {
		return fmt.Errorf("restart %s: it is running (kill it first)", mb.name)
	}
	if seqno < 0 || seqno > mb.lastLeft {
		return fmt.Errorf("restart %s: seqno=%d: it had committed up to %d", mb.name, seqno, mb.lastLeft)
	}
	k := len(mb.at)
	for k > 0 && mb.at[k-1] > seqno {
		k--
	}
	mb.history, mb.at = mb.history[:k], mb.at[:k]
	rs := replicator.RestartState{Bootstrap: opts.Bootstrap, SafeToBootstrap: opts.SafeToBootstrap}
	if opts.PCRecovery && mb.lastPrim != nil {
		rs.LastPrim = mb.lastPrim
	}
	mb.m = replicator.NewRestarted(mb.st.ReplicatorConfig(i, len(e.members)), seqno, nil, rs)
	mb.closed, mb.lastLeft, mb.done = false, seqno, map[int64]bool{}
	mb.queue, mb.current, mb.stalled, mb.credit = nil, nil, false, 0
	mb.clients, mb.certified, mb.waiting, mb.racing = map[uint64]*client{}, nil, nil, nil
	mb.paused, mb.causal = false, map[uint64]string{}
	mb.own = mb.m.Status().Own
	e.logf(mb, "restarted at seqno %d", seqno)
	e.ready(i)
	return nil
}

// Stall stops member i's applier (stalled) or lets it run again.
func (e *Env) Stall(i int, stalled bool) {
	mb := e.members[i]
	mb.stalled = stalled
	if !stalled {
		mb.credit = 0
		e.ready(i)
	}
}

// Apply lets member i's stalled applier take n more write-sets.
func (e *Env) Apply(i, n int) {
	e.members[i].credit += n
	e.ready(i)
}

// ready runs member i's machine until it has nothing left, sending its messages and carrying
// out its effects, as the provider's loop does.
func (e *Env) ready(i int) {
	mb := e.members[i]
	for {
		sent := mb.m.Status().FC.Sent
		mb.m.SetLastCommitted(mb.lastLeft)
		rd := mb.m.Ready()
		for _, env := range rd.Messages {
			e.sendMsg(i, env)
		}
		for _, ef := range rd.Effects {
			e.effect(mb, ef)
		}
		if s := mb.m.Status(); s.FC.Sent > sent {
			e.logf(mb, "sends flow-control STOP: receive queue %d > upper limit %d", s.FC.QueueLen, s.FC.Upper)
		}
		e.settle(mb)
		if st := mb.m.Status().Own; st != mb.own {
			mb.own = st
			e.logf(mb, "state %s", st.Comment())
		}
		if !mb.m.HasReady() {
			return
		}
	}
}

func (e *Env) sendMsg(from int, env gcs.Envelope) {
	b := gcs.Encode(nil, env.Msg)
	if env.To >= 0 {
		e.post(from, env.To, b)
		return
	}
	for to := range e.members {
		if to != from {
			e.post(from, to, b)
		}
	}
}

// post puts a message on link from -> to, unless the link is cut.
func (e *Env) post(from, to int, payload []byte) {
	if e.cut[[2]int{from, to}] || e.members[to].closed {
		e.dropped++
		return
	}
	due := max(e.Now+e.delay[from][to], e.lastDue[from][to])
	e.lastDue[from][to] = due
	e.seq++
	e.net = append(e.net, packet{due: due, seq: e.seq, from: from, to: to, payload: slices.Clone(payload)})
}

// settle commits what can commit on mb: cancelled positions, its clients' certified
// write-sets in their turn, and the applier's write-sets in theirs.
func (e *Env) settle(mb *member) {
	for progress := true; progress; {
		progress = false
		for mb.done[mb.lastLeft+1] {
			delete(mb.done, mb.lastLeft+1)
			mb.lastLeft++
			progress = true
		}
		if len(mb.certified) > 0 && mb.certified[0].seqno == mb.lastLeft+1 {
			c := mb.certified[0]
			mb.certified = mb.certified[1:]
			e.commit(mb, c.label, true, c.ws.Snapshot, len(c.ws.Keys), c.bytes)
			progress = true
		}
		if mb.current == nil && len(mb.queue) > 0 && (!mb.stalled || mb.credit > 0) {
			a := mb.queue[0]
			mb.queue = mb.queue[1:]
			mb.current = &a
			if mb.stalled {
				mb.credit--
			}
			stop := mb.m.Status().FC.StopSent
			mb.m.Dequeued()
			if s := mb.m.Status(); s.FC.StopSent < stop {
				e.logf(mb, "sends flow-control CONT: receive queue %d <= lower limit %d", s.FC.QueueLen, s.FC.Lower)
			}
			progress = true
		}
		if a := mb.current; a != nil && a.WS.Seqno == mb.lastLeft+1 {
			mb.current = nil
			e.logf(mb, "applies %s at seqno %d (depends %d)", label(a.WS), a.WS.Seqno, a.WS.DependsSeqno)
			e.commit(mb, label(a.WS), false, 0, len(a.WS.Keys), a.Bytes)
			progress = true
		}
	}
}

func (e *Env) commit(mb *member, label string, local bool, seen int64, keys, bytes int) {
	mb.lastLeft++
	mb.history = append(mb.history, label)
	mb.at = append(mb.at, mb.lastLeft)
	mb.m.SetLastCommitted(mb.lastLeft)
	mb.m.Committed(local, seen, keys, bytes)
}

// keys prints a client's write-set keys with their types: " (r1:X r2:S)".
func (c *client) keys() string {
	parts := make([]string, len(c.ws.Keys))
	for i, k := range c.ws.Keys {
		parts[i] = string(k.Row) + ":" + [...]string{"S", "R", "U", "X"}[k.Type]
	}
	return " (" + strings.Join(parts, " ") + ")"
}

// label is the client's name for a write-set: the value its rows were set to.
func label(ws *protocols.WriteSet) string {
	if len(ws.Rows) == 0 {
		return "?"
	}
	return string(ws.Rows[0].After)
}

// digest is a short hash of a member's commit history: equal digests, equal databases.
func (mb *member) digest() string {
	h := fnv.New32a()
	for _, l := range mb.history {
		h.Write([]byte(l))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%08x", h.Sum32())
}
