package group

// The interaction test environment, in the spirit of etcd raft's rafttest: N members, each
// an agreement node and a group machine with a model applier, over an in-memory network
// whose links have delays in ticks. Time passes only in `tick`; everything that is due at
// the current tick is processed before a command returns. What each member did (verdicts,
// applies, view and state changes, clones) is printed, prefixed with the tick it happened.
// The commands are in interaction_test.go; this file is the machinery.

import (
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/replbench/replbench/groupreplication/agreement"
	"github.com/replbench/replbench/groupreplication/flowcontrol"
	"github.com/replbench/replbench/protocols"
)

// tickDur is one tick of virtual time: the model's default raft tick.
const tickDur = 100 * time.Millisecond

// env is one group under test.
type env struct {
	members  []*member
	names    []string
	delay    [][]int  // one-way delay in ticks, from -> to
	cut      [][]bool // partitioned: messages are dropped
	flights  []flight
	now      int // ticks so far
	t0       time.Time
	fcPeriod int // flow-control period in ticks
	rejoinIv int // autorejoin interval in ticks
	out      strings.Builder
}

// flight is one frame on the network.
type flight struct {
	from, to int
	due      int
	msgs     []raftpb.Message // nil: an alive beacon
}

// member is one member and the model of its database and applier.
type member struct {
	i         int
	name      string
	node      *agreement.Node
	m         *Machine
	queue     []agreement.Entry // delivered, not yet processed (held while out of the group)
	index     uint64            // raft index of the last entry processed
	props     [][]byte          // proposals for the node's next Ready
	applyQ    []Apply
	rate      int // applier: transactions per tick (0: as soon as certified; <0: stopped)
	filled    map[int64]bool
	last      int64            // last committed position (every one before it filled)
	db        map[string]int64 // row -> position of its last writer
	awaits    []Await
	heard     []time.Time
	nextID    int64
	sent      map[int64]sentTxn // proposals whose client waits
	proposed  map[int64]bool    // transactions handed to the node at least once
	throttled []pending
	load      int // load clients: each proposes a transaction on a fresh row once its last one is decided
	applied   int64
	local     int64
	rows      string // last printed replication_group_members
	rejoin    rejoinState
}

type sentTxn struct {
	at int // tick sent, for latency
	ws *protocols.WriteSet
}

type pending struct {
	id   int64
	data []byte
}

// rejoinState follows one member's auto-rejoin: due at tick at, then waiting for a
// majority since since.
type rejoinState struct {
	ask     bool // NextRejoin must be asked
	at      int  // an attempt is due at this tick (-1: none)
	waiting bool // the attempt waits for a majority
	since   int
}

func newEnv(n int, cfg envConfig) (*env, error) {
	e := &env{t0: time.Unix(1_000_000, 0), fcPeriod: 10, rejoinIv: 3000}
	for i := range n {
		e.names = append(e.names, fmt.Sprintf("n%d", i+1))
	}
	e.delay = make([][]int, n)
	e.cut = make([][]bool, n)
	for i := range n {
		e.delay[i] = make([]int, n)
		e.cut[i] = make([]bool, n)
		for j := range n {
			if i != j {
				e.delay[i][j] = 1
			}
		}
	}
	peers := make([]uint64, n)
	for i := range peers {
		peers[i] = uint64(i + 1)
	}
	for i := range n {
		ac := agreement.DefaultConfig(uint64(i+1), peers)
		if cfg.cache > 0 {
			ac.CacheBytes = cfg.cache
		}
		node, err := agreement.New(ac)
		if err != nil {
			return nil, err
		}
		c := cfg.Config
		c.Self, c.Members, c.UUIDs, c.Tick = i, e.names, e.names, tickDur
		mb := &member{i: i, name: e.names[i], node: node, m: New(c, e.clock()),
			filled: map[int64]bool{}, db: map[string]int64{}, heard: make([]time.Time, n),
			sent: map[int64]sentTxn{}, proposed: map[int64]bool{}, rejoin: rejoinState{at: -1}}
		e.members = append(e.members, mb)
	}
	for _, mb := range e.members {
		eff := mb.m.Start(e.clock())
		if eff.Campaign {
			_ = mb.node.Campaign()
		}
		eff.Campaign = false
		e.carry(mb, eff)
	}
	e.process()
	return e, nil
}

// envConfig is a Config plus what only the environment uses.
type envConfig struct {
	Config
	cache uint64 // message cache bytes (0: the default)
}

func (e *env) clock() time.Time { return e.t0.Add(time.Duration(e.now) * tickDur) }

func (e *env) logf(mb *member, format string, args ...any) {
	fmt.Fprintf(&e.out, "t=%d %s: %s\n", e.now, mb.name, fmt.Sprintf(format, args...))
}

// send puts raft messages (or a beacon, msgs nil) on the link, unless it is cut.
func (e *env) send(from, to int, msgs []raftpb.Message) {
	if e.cut[from][to] || from == to {
		return
	}
	e.flights = append(e.flights, flight{from: from, to: to, due: e.now + e.delay[from][to], msgs: msgs})
}

// deliverDue hands every frame due by now to its member, in sending order, and reports
// whether there was any.
func (e *env) deliverDue() bool {
	var due []flight
	kept := e.flights[:0]
	for _, f := range e.flights {
		if f.due <= e.now {
			due = append(due, f)
		} else {
			kept = append(kept, f)
		}
	}
	e.flights = kept
	for _, f := range due {
		if e.cut[f.from][f.to] {
			continue // a partition also drops what was in flight
		}
		to := e.members[f.to]
		to.heard[f.from] = e.clock()
		for _, msg := range f.msgs {
			_ = to.node.Step(msg)
		}
	}
	return len(due) > 0
}

// process runs everything due at the current tick to quiescence: frames, raft output,
// agreed messages, appliers without a rate, rejoins.
func (e *env) process() {
	for range 100000 {
		progress := e.deliverDue()
		for _, mb := range e.members {
			progress = e.ready(mb) || progress
			progress = e.applyQueued(mb, len(mb.applyQ), true) || progress
			progress = e.rejoinStep(mb) || progress
		}
		if !progress {
			return
		}
	}
	panic("env: no quiescence")
}

// ready proposes what is queued, takes the node's output and acts on it.
func (e *env) ready(mb *member) bool {
	for _, d := range mb.props {
		_ = mb.node.Propose(d)
	}
	mb.props = mb.props[:0]
	out, ok := mb.node.Ready()
	if !ok {
		return e.drainQueue(mb)
	}
	byTo := map[uint64][]raftpb.Message{}
	for _, msg := range out.Messages {
		byTo[msg.To] = append(byTo[msg.To], msg)
	}
	for to := uint64(1); to <= uint64(len(e.members)); to++ {
		if msgs := byTo[to]; len(msgs) > 0 {
			e.send(mb.i, int(to-1), msgs)
			for _, msg := range msgs {
				if msg.Type == raftpb.MsgSnap {
					mb.node.ReportSnapshot(to, true)
				}
			}
		}
	}
	if out.LostLog {
		mb.queue = slices.DeleteFunc(mb.queue, func(en agreement.Entry) bool { return en.Index <= out.Snapshot })
		e.logf(mb, "sent a snapshot at index %d instead of entries", out.Snapshot)
		e.carry(mb, mb.m.LogLost(out.Snapshot))
	}
	mb.queue = append(mb.queue, out.Committed...)
	if out.LeadChanged {
		eff := mb.m.LeaderChanged(int(out.Lead)-1, out.IsLeader)
		e.carry(mb, eff)
	}
	e.drainQueue(mb)
	return true
}

// drainQueue hands delivered entries to the machine until it holds them.
func (e *env) drainQueue(mb *member) bool {
	did := false
	for len(mb.queue) > 0 {
		en := mb.queue[0]
		eff := mb.m.Deliver(en.Data)
		if eff.Held {
			return did
		}
		mb.queue = mb.queue[1:]
		mb.index = en.Index
		did = true
		e.carry(mb, eff)
	}
	return did
}

// carry acts on a machine's effects as the driver does, printing what a member did.
func (e *env) carry(mb *member, eff Effects) {
	for _, seq := range eff.Cancel {
		e.fill(mb, seq, nil)
	}
	for _, v := range eff.Verdicts {
		st := mb.sent[v.ID]
		took := e.now - st.at
		delete(mb.sent, v.ID)
		switch {
		case v.Dropped:
			e.logf(mb, "txn %d dropped (its origin was out of the view)", v.ID)
		case v.Result.Positive:
			e.fill(mb, v.Result.Seqno, st.ws)
			if !isLoad(st.ws) {
				e.logf(mb, "txn %d committed: seq=%d gno=%d after %d ticks", v.ID, v.Result.Seqno, v.Result.GNO, took)
			}
		case !isLoad(st.ws):
			e.logf(mb, "txn %d rolled back (3101): seq=%d after %d ticks", v.ID, v.Result.Seqno, took)
		}
	}
	for _, a := range eff.Applies {
		if !isLoad(a.WS) {
			e.logf(mb, "certified %s's txn %d: seq=%d depends=%d", a.WS.Source, a.WS.TrxID, a.WS.Seqno, a.WS.DependsSeqno)
		}
		mb.applyQ = append(mb.applyQ, a)
	}
	for _, s := range eff.Syncs {
		e.logf(mb, "sync %d at position %d (dropped %v)", s.ID, s.Position, s.Dropped)
	}
	for _, d := range eff.Proposals {
		if msg, err := DecodeMessage(d); err == nil && msg.Kind == KindTxn && !isLoad(msg.WS) {
			if mb.proposed[msg.ID] {
				e.logf(mb, "resent txn %d", msg.ID)
			}
			mb.proposed[msg.ID] = true
		}
	}
	mb.props = append(mb.props, eff.Proposals...)
	for _, seq := range eff.Prepared {
		e.logf(mb, "every member prepared position %d", seq)
	}
	mb.awaits = append(mb.awaits, eff.Awaits...)
	if eff.RolledBack && len(mb.sent) > 0 {
		ids := make([]int64, 0, len(mb.sent))
		for id := range mb.sent {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		e.logf(mb, "clients of txns %v rolled back: the member left the group", ids)
		clear(mb.sent)
	}
	if eff.Rejoin {
		mb.rejoin.ask = true
	}
	if eff.FlowStep && len(mb.throttled) > 0 {
		// do_wait ends at the step: the throttled writers go regardless.
		t := mb.throttled
		mb.throttled = nil
		for _, p := range t {
			e.carry(mb, mb.m.Submit(p.id, p.data))
		}
	}
	if eff.Beacon {
		for j := range e.members {
			e.send(mb.i, j, nil)
		}
	}
	if eff.Campaign {
		_ = mb.node.Campaign()
	}
	if eff.Transfer {
		mb.node.TransferLeader(uint64(eff.TransferTo + 1))
	}
	if eff.Changed {
		e.showMembers(mb)
	}
	e.checkAwaits(mb)
}

func isLoad(ws *protocols.WriteSet) bool {
	return ws != nil && len(ws.Keys) > 0 && ws.Keys[0].Table == "l"
}

// showMembers prints replication_group_members as mb sees it, when it changed.
func (e *env) showMembers(mb *member) {
	rows := mb.m.Members()
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = r.Host + "=" + r.State + "/" + r.Role
	}
	s := strings.Join(parts, " ")
	if s != mb.rows {
		mb.rows = s
		e.logf(mb, "members %s", s)
	}
}

// fill records that position seq committed here (ws nil: a negative verdict's slot).
func (e *env) fill(mb *member, seq int64, ws *protocols.WriteSet) {
	if ws != nil {
		for _, k := range ws.Keys {
			mb.db[k.Table+"/"+string(k.Row)] = seq
		}
	}
	mb.filled[seq] = true
	for mb.filled[mb.last+1] {
		delete(mb.filled, mb.last+1)
		mb.last++
	}
	e.checkAwaits(mb)
}

// checkAwaits proposes the deferred control messages whose position has committed.
func (e *env) checkAwaits(mb *member) {
	for i := 0; i < len(mb.awaits); i++ {
		if a := mb.awaits[i]; a.Position <= mb.last {
			mb.awaits = slices.Delete(mb.awaits, i, i+1)
			i--
			e.carry(mb, mb.m.ProposeControl(a.Then))
		}
	}
}

// applyQueued commits up to n certified transactions in order; unlimited is the pass of
// process, which only appliers without a rate take.
func (e *env) applyQueued(mb *member, n int, unlimited bool) bool {
	if unlimited && mb.rate != 0 {
		return false
	}
	n = min(n, len(mb.applyQ))
	for _, a := range mb.applyQ[:n] {
		e.fill(mb, a.WS.Seqno, a.WS)
		mb.applied++
	}
	mb.applyQ = mb.applyQ[n:]
	return n > 0
}

// propose has a client on mb commit a transaction writing rows keys of table.
func (e *env) propose(mb *member, table string, keys []string) (int64, error) {
	if err := mb.m.CommitRefusal(); err != nil {
		return 0, err
	}
	mb.nextID++
	id := mb.nextID
	ws := &protocols.WriteSet{Source: mb.name, TrxID: uint64(id), Snapshot: mb.last}
	for _, k := range keys {
		ws.Keys = append(ws.Keys, protocols.Key{Table: table, Row: []byte(k), Type: protocols.KeyExclusive})
	}
	data := AppendMessage(nil, &Message{Kind: KindTxn, Origin: mb.i, ID: id, WS: ws})
	mb.sent[id] = sentTxn{at: e.now, ws: ws}
	mb.local++
	if !mb.m.Admit() {
		mb.throttled = append(mb.throttled, pending{id, data})
		return id, errThrottled
	}
	e.carry(mb, mb.m.Submit(id, data))
	return id, nil
}

// loadInFlight counts the load clients whose transaction is not decided yet.
func loadInFlight(mb *member) int {
	n := 0
	for _, st := range mb.sent {
		if isLoad(st.ws) {
			n++
		}
	}
	return n
}

var errThrottled = errors.New("throttled until the next flow-control period")

// tick advances virtual time by one tick on every member.
func (e *env) tick() {
	e.now++
	e.deliverDue()
	for _, mb := range e.members {
		mb.node.Tick()
		t := Tick{Now: e.clock(), Heard: mb.heard, Lead: int(mb.node.Lead()) - 1, IsLeader: mb.node.IsLeader()}
		mb.heard = make([]time.Time, len(e.members))
		e.carry(mb, mb.m.Tick(t))
		if e.now%e.fcPeriod == 0 {
			q := Queues{ApplyQueue: int64(len(mb.applyQ)), Applied: mb.applied, Local: mb.local}
			e.carry(mb, mb.m.FlowControlTick(q))
		}
		for range mb.load - loadInFlight(mb) {
			_, _ = e.propose(mb, "l", []string{fmt.Sprintf("%s-%d", mb.name, mb.nextID+1)})
		}
		if mb.rate > 0 {
			e.applyQueued(mb, mb.rate, false)
		}
	}
	e.process()
}

// rejoinStep moves a member's auto-rejoin along: ask for an attempt, wait for its tick
// and for a majority, then rejoin (by clone when the log no longer reaches back).
func (e *env) rejoinStep(mb *member) bool {
	r := &mb.rejoin
	switch {
	case r.ask:
		r.ask = false
		attempt, first, eff := mb.m.NextRejoin()
		e.carry(mb, eff)
		if attempt {
			r.at = e.now
			if !first {
				r.at += e.rejoinIv
			}
		}
		return true
	case r.at >= 0 && e.now >= r.at && !r.waiting:
		r.waiting, r.since = true, e.now
		return true
	case r.waiting && (!mb.m.MajorityLost() || mb.m.State() != Error):
		r.waiting, r.at = false, -1
		e.rejoinNow(mb)
		return true
	case r.waiting && e.now-r.since >= int(5*time.Second/tickDur):
		r.waiting, r.at = false, -1
		e.logf(mb, "rejoin attempt found no majority")
		r.ask = true
		return true
	}
	return false
}

func (e *env) rejoinNow(mb *member) {
	ok, clone, eff := mb.m.BeginRejoin()
	e.carry(mb, eff)
	if !ok {
		return
	}
	if clone {
		if err := e.clone(mb); err != nil {
			e.logf(mb, "clone failed: %v", err)
			e.carry(mb, mb.m.RejoinFailed("distributed recovery by clone failed: "+err.Error()))
			return
		}
		if !mb.m.CloneInstalled() {
			return
		}
	}
	e.carry(mb, mb.m.Join())
	e.drainQueue(mb)
}

// clone copies a donor's state (database and machine) to mb: the raft leader, or the
// first other member that may donate. The donor first applies what it certified.
func (e *env) clone(mb *member) error {
	_, need := mb.m.LostLog()
	for _, d := range e.donors(mb) {
		if !d.m.CanDonate() || d.index < need {
			continue
		}
		e.applyQueued(d, len(d.applyQ), false)
		c, err := mb.m.DecodeState(d.m.AppendState(nil))
		if err != nil {
			return err
		}
		mb.db = make(map[string]int64, len(d.db))
		for k, v := range d.db {
			mb.db[k] = v
		}
		mb.last, mb.filled, mb.applyQ = d.last, map[int64]bool{}, nil
		e.carry(mb, mb.m.Install(c))
		mb.queue = slices.DeleteFunc(mb.queue, func(en agreement.Entry) bool { return en.Index <= d.index })
		mb.index = d.index
		mb.m.LogRecovered()
		e.logf(mb, "cloned %s's state at index %d (position %d)", d.name, d.index, d.last)
		return nil
	}
	return errors.New("no donor is ONLINE at or after the snapshot")
}

func (e *env) donors(mb *member) []*member {
	var out []*member
	if l := mb.m.Lead(); l >= 0 && l != mb.i {
		out = append(out, e.members[l])
	}
	for _, d := range e.members {
		if d != mb && d.i != mb.m.Lead() {
			out = append(out, d)
		}
	}
	return out
}

// status prints one member's state, as the status command shows it.
func (e *env) status(mb *member) string {
	s := mb.m.Status()
	name := func(i int) string {
		if i < 0 {
			return "-"
		}
		return e.names[i]
	}
	lost, _ := mb.m.LostLog()
	return fmt.Sprintf("%s: %s primary=%s lead=%s majority_lost=%v committed=%d certified=%d conflicts=%d queue=%d quota=%d throttled=%d views=%d lost_log=%v waiting=%d db=%s",
		mb.name, s.State, name(s.Primary), name(s.Lead), s.MajorityLost, mb.last, s.Cert.Seqno, s.Cert.Conflicts,
		len(mb.applyQ), s.Quota, len(mb.throttled), s.ViewChanges, lost, len(mb.sent), digest(mb.db))
}

// digest is a short checksum of a member's rows: equal digests, equal databases.
func digest(db map[string]int64) string {
	keys := make([]string, 0, len(db))
	for k := range db {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := fnv.New32a()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%d;", k, db[k])
	}
	return fmt.Sprintf("%d-rows-%08x", len(keys), h.Sum32())
}

// defaultConfig is the machine configuration the environment starts from: MySQL's
// defaults, single-primary.
func defaultConfig() envConfig {
	return envConfig{Config: Config{SinglePrimary: true, GTIDBlockSize: 1_000_000,
		FlowControl: flowcontrol.DefaultConfig(), ExpelTimeout: 5 * time.Second,
		ExitAction: "READ_ONLY", AutorejoinTries: 3, MemberWeight: 50}}
}
