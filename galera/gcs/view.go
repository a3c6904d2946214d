package gcs

import (
	"slices"
)

// This file is EVS membership and Galera's primary component (gcomm's evs_proto view
// change and pc_proto quorum), as inputs and outputs of the same EVS state machine.
//
// Failure detection: every message from a peer, of any type and any view, refreshes when
// it was last heard. A view member silent for evs.suspect_timeout is suspected; a node
// outside the view that is heard again (a healed partition) is a merge candidate. Either
// starts a view change.
//
// View change (GATHER, then INSTALL): the member freezes its ordering state (it stops
// accepting and delivering messages of the old view) and broadcasts a JOIN carrying the
// membership it proposes (itself and every peer heard within the suspect timeout), its
// frozen receive vector for the old view, its weight and its last primary view. It
// re-sends the JOIN every evs.join_retrans_period and whenever its proposal changes. The
// representative, the lowest index of the proposal, sends INSTALL once every proposed member's
// latest JOIN proposes the same set; the INSTALL carries those JOINs, so every member
// computes the same things from the same inputs:
//
//   - the quorum (primary component) decision, 2·w(kept) + w(left gracefully) > w(last
//     primary), with weights pc.weight;
//   - for a primary view, the cut of the old view: for each sender, the lowest receive
//     position among the new members that come from the same old view. Each of them
//     delivers exactly the old-view messages at or below the cut, in (seq, index) order,
//     before the new view. Every message any node has already delivered was SAFE, i.e.
//     received by every old member, so it lies below every cut: no write-set is delivered
//     on one side of a partition and not on the other (virtual synchrony). A non-primary
//     view delivers nothing more of the old view: its undelivered messages are dropped
//     and its own ones are handed back to the caller, which fails them (1047).
//
// A suspected peer leaves the view only when every remaining member suspects it too (their
// proposals must agree). A gather that has not reached consensus after
// evs.inactive_timeout declares the peers whose JOIN disagrees or is missing inactive,
// unilaterally, and proposes without them: that ends the view changes an asymmetric
// partition would otherwise repeat.
//
// Asymmetric (one-way) cuts: a JOIN also carries what its sender hears. A member proposes
// only peers that hear it back (a peer whose JOIN in this view change does not list it
// cannot receive its messages, so could never make them SAFE), and builds
// its proposal greedily in ascending index among peers that hear each other, so every
// member that has the same JOINs proposes the same set and the majority side installs
// within a join round instead of waiting for the inactive timeout. A node outside the view
// whose latest JOIN does not hear every member does not start a merge: it would only
// install a view it cannot take part in.

// ViewID names a view: a sequence number one above the highest any member knew, and the
// representative that installed it (two sides of a partition can install the same Seq).
type ViewID struct {
	Seq int64
	Rep int
}

// Less orders view ids.
func (v ViewID) Less(o ViewID) bool {
	if v.Seq != o.Seq {
		return v.Seq < o.Seq
	}
	return v.Rep < o.Rep
}

// PrimView is the last primary component a member belonged to: what the quorum rule
// compares a new view against.
type PrimView struct {
	ID      ViewID
	ConfID  int64 // wsrep_cluster_conf_id of that component
	Members []int
	Weights []int // pc.weight of each member, in Members order
}

func (p PrimView) weight(i int) int {
	if k := slices.Index(p.Members, i); k >= 0 && k < len(p.Weights) {
		return p.Weights[k]
	}
	return 0
}

// Join is the body of a JOIN message: what one member brings to a view change.
type Join struct {
	View    ViewID  // the sender's current (old) view
	Primary bool    // whether that view is a primary component
	Attempt int64   // increases each time the sender changes its proposal
	Members []int   // the proposed membership, ascending
	Recv    []int64 // per configured member: every seq up to this received in View (frozen)
	Weight  int     // the sender's pc.weight
	Left    []int   // members of Prim the sender saw leave gracefully (LEAVE)
	Prim    PrimView
	// Restored says that Prim is the view gvwstate.dat saved (pc.recovery): the sender is a
	// restarted process that has not been in a primary component since. Such a view is
	// restored only by all of its members and no one else (Quorum).
	Restored bool
	// Heard are the peers the sender heard within the suspect timeout, ascending: its raw
	// connectivity, apart from the membership it proposes, so that the others can tell a
	// one-way cut (it does not hear a peer that hears it) from a decision.
	Heard []int
}

// Install is the body of an INSTALL message: the new view and the JOINs it was agreed
// from (one per member, in Members order).
type Install struct {
	View    ViewID
	Members []int
	Joins   []Join
}

// View is delivered (Delivery.View) when a new view is installed, after the transitional
// deliveries of the old view.
type View struct {
	ID      ViewID
	Members []int // ascending configured indices
	Primary bool
	ConfID  int64 // wsrep_cluster_conf_id; -1 in a non-primary component
	Weights []int // pc.weight of each member (Members order)
	// Undelivered are this member's own actions that the old view did not deliver (queued
	// or beyond the cut), in the order they were proposed: a primary member may propose
	// them again, a non-primary one fails them.
	Undelivered [][]byte
	// Quorum explains the decision: weights kept, left gracefully, and of the last
	// primary component.
	Kept, Left, Last int
	// Missing, in a non-primary view that no member entered from a primary view, are
	// the members of the last primary component that are not here: Quorum re-forms it only
	// with all of them, so this is who the view waits for.
	Missing []int
}

// Quorum decides whether a new view whose members bring joins is a primary component, as
// pc_proto does, relative to the most recent primary component any of them knew (last):
//
//   - When some member comes from a primary component (Join.Primary), have_quorum: the
//     weight kept (members of the new view) counted twice plus the weight that left
//     gracefully must exceed the last primary component's weight. Exact equality is split
//     brain and not primary (pc.ignore_sb=false).
//   - When none does (every member was cut off, or restarted), is_prim re-bootstraps the
//     primary component only when every member of the last one is present again: a
//     majority is not enough, because the missing members may still form, or have formed,
//     a primary component elsewhere that committed what this side never saw.
//   - When that last component is known only from gvwstate.dat (pc.recovery: every member
//     that brings it restarted, Join.Restored), it is restored only by exactly its members,
//     all of them bringing it (pc_proto's handle_reg: rst_view members == view members). A
//     subset waits for the others, however many are back; the way out without them is the
//     operator's bootstrap.
//
// The trade-off is Galera's: after a full crash the cluster stays unavailable until every
// member of the saved view is back, rather than risk restoring a component that lacks the
// latest commits. kept, left and total explain the weighted rule in either case.
func Quorum(members []int, joins []Join) (primary bool, last PrimView, kept, left, total int) {
	for _, j := range joins {
		if last.Members == nil || last.ConfID < j.Prim.ConfID ||
			last.ConfID == j.Prim.ConfID && last.ID.Less(j.Prim.ID) {
			last = j.Prim
		}
	}
	gone := map[int]bool{}
	fromPrim, restoredOnly := false, true
	for k, j := range joins {
		fromPrim = fromPrim || transQuorum(members, joins, k)
		if samePrim(j.Prim, last) && !j.Restored {
			restoredOnly = false
		}
		for _, l := range j.Left {
			gone[l] = true
		}
	}
	all := true
	for _, m := range last.Members {
		w := last.weight(m)
		total += w
		switch {
		case slices.Contains(members, m):
			kept += w
		case gone[m]:
			left += w
		default:
			all = false
		}
	}
	if fromPrim {
		return 2*kept+left > total, last, kept, left, total
	}
	if last.Members == nil {
		return false, last, kept, left, total
	}
	if restoredOnly {
		if !slices.Equal(members, last.Members) || len(joins) != len(members) {
			return false, last, kept, left, total
		}
		for _, j := range joins {
			if !samePrim(j.Prim, last) {
				return false, last, kept, left, total
			}
		}
		return true, last, kept, left, total
	}
	return all && kept > 0, last, kept, left, total
}

// transQuorum reports whether member k of a new view (joins[k] is its JOIN) leaves a
// primary component with quorum: it comes from a primary view, and the members of the new
// view that come from that same view (its transitional configuration) pass have_quorum
// against its primary component. pc_proto's handle_trans marks a member non-primary when
// its transitional view lacks quorum, before the old view's last messages are delivered:
// those are then delivered outside a primary component, where gcs numbers nothing, and the
// member does not count as coming from a primary component in the new view. Without this
// a member that alone left a primary view (cut off, then merged back) would number its own
// unsafe write-sets in the merge, outside every other member's order.
func transQuorum(members []int, joins []Join, k int) bool {
	j := joins[k]
	if !j.Primary {
		return false
	}
	kept, left, total := 0, 0, 0
	for _, m := range j.Prim.Members {
		w := j.Prim.weight(m)
		total += w
		if i := slices.Index(members, m); i >= 0 && i < len(joins) && joins[i].View == j.View {
			kept += w
		} else if slices.Contains(j.Left, m) {
			left += w
		}
	}
	return 2*kept+left > total
}

func samePrim(a, b PrimView) bool { return a.ConfID == b.ConfID && a.ID == b.ID }

// State is the EVS protocol state (evs_proto.hpp), as wsrep_evs_state prints it.
type State uint8

// The states this model uses.
const (
	StateOperational State = iota
	StateGather
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateGather:
		return "GATHER"
	case StateClosed:
		return "CLOSED"
	}
	return "OPERATIONAL"
}

// Leave sends LEAVE: the graceful departure that the quorum rule counts as w(left), so a
// cluster shut down one node at a time keeps a primary component. The member then stops.
func (e *EVS) Leave() {
	if e.state == StateClosed {
		return
	}
	e.out = append(e.out, Envelope{To: -1, Msg: &Msg{Type: MsgLeave, Source: e.cfg.Self, View: e.view, ReqFrom: -1}})
	e.state = StateClosed
}

// EVSState returns the protocol state.
func (e *EVS) EVSState() State { return e.state }

// CurrentView returns the installed view (members, primary, conf id).
func (e *EVS) CurrentView() View {
	v := View{ID: e.view, Members: e.memberList(), Primary: e.primary, ConfID: -1}
	if e.primary {
		v.ConfID = e.prim.ConfID
		v.Weights = slices.Clone(e.prim.Weights)
	}
	return v
}

// SetWeight records member i's pc.weight in the current primary component. The caller
// learns weights from a state exchange in total order, so every member records the same.
func (e *EVS) SetWeight(i, w int) {
	if !e.primary {
		return
	}
	if k := slices.Index(e.prim.Members, i); k >= 0 {
		e.prim.Weights[k] = w
	}
}

func (e *EVS) memberList() []int {
	var out []int
	for i, m := range e.members {
		if m {
			out = append(out, i)
		}
	}
	return out
}

// heard records traffic from src and reports whether the message belongs to the current
// view and may be processed by the ordering layer.
func (e *EVS) heard(m *Msg) bool {
	src := m.Source
	e.lastHeard[src] = e.now
	if e.left[src] && m.Type != MsgLeave {
		e.left[src] = false
	}
	if !e.members[src] || e.view.Less(m.View) {
		// A node outside the view, or one that installed a view we never joined: merge.
		e.foreign[src] = true
		if e.members[src] && m.Type != MsgJoin {
			e.startGather()
		}
		return false
	}
	return m.View == e.view && e.state == StateOperational
}

// proposal is the membership this member proposes now: itself, then in ascending order
// every peer heard within the suspect timeout, not left or excluded, that hears and is
// heard by each one already chosen (see hears).
func (e *EVS) proposal() []int {
	p := []int{e.cfg.Self}
	for j := range e.cfg.N {
		if j == e.cfg.Self || e.left[j] || e.excluded[j] || !e.heardRecently(j) {
			continue
		}
		ok := true
		for _, k := range p {
			if !e.hears(j, k) || !e.hears(k, j) {
				ok = false
				break
			}
		}
		if ok {
			p = append(p, j)
		}
	}
	slices.Sort(p)
	return p
}

func (e *EVS) heardRecently(j int) bool {
	return e.now-e.lastHeard[j] < int64(e.cfg.SuspectTicks)
}

// heardList is what this member hears now, for its JOIN.
func (e *EVS) heardList() []int {
	var out []int
	for j := range e.cfg.N {
		if j != e.cfg.Self && e.heardRecently(j) {
			out = append(out, j)
		}
	}
	return out
}

// hears reports whether a hears b, as far as this member knows: from its own reception
// for itself; while gathering, from a's JOIN of this view change; outside a view change,
// from a's latest JOIN younger than the suspect timeout. With no such JOIN, yes (nothing
// says otherwise). A JOIN from before the view change is not used to shape a proposal:
// what a peer heard during a partition says nothing about it once the partition heals.
func (e *EVS) hears(a, b int) bool {
	if a == b {
		return true
	}
	if a == e.cfg.Self {
		return e.heardRecently(b)
	}
	var j *Join
	if e.state == StateGather {
		j = e.joins[a]
	} else if e.now-e.peerJoinAt[a] < int64(e.cfg.SuspectTicks) {
		j = e.peerJoin[a]
	}
	if j == nil {
		return true
	}
	return slices.Contains(j.Heard, b)
}

// mergeable reports whether peer j, outside the view, could join it: it hears every
// member (as far as its latest JOIN says).
func (e *EVS) mergeable(j int) bool {
	for m, in := range e.members {
		if in && !e.hears(j, m) {
			return false
		}
	}
	return true
}

// startGather freezes the old view and starts a view change.
func (e *EVS) startGather() {
	if e.state != StateOperational {
		return
	}
	e.state = StateGather
	e.gatherAt = e.now
	e.joins = make([]*Join, e.cfg.N)
	e.myJoin = nil
	e.sendJoin()
}

func (e *EVS) sendJoin() {
	p := e.proposal()
	if e.myJoin == nil || !slices.Equal(e.myJoin.Members, p) {
		e.attempt++
		var left []int
		for _, m := range e.prim.Members {
			if e.left[m] {
				left = append(left, m)
			}
		}
		e.myJoin = &Join{View: e.view, Primary: e.primary || e.bootstrapping, Restored: e.restored, Attempt: e.attempt, Members: p,
			Recv: slices.Clone(e.recv), Weight: e.cfg.Weight, Left: left, Prim: e.prim}
		e.joins[e.cfg.Self] = e.myJoin
	}
	e.myJoin.Heard = e.heardList()
	e.joinSentAt = e.now
	e.out = append(e.out, Envelope{To: -1, Msg: &Msg{Type: MsgJoin, Source: e.cfg.Self, View: e.view, ReqFrom: -1, Join: e.myJoin}})
	e.stats.Joins++
}

func (e *EVS) stepJoin(m *Msg) {
	j, src := m.Join, m.Source
	if j == nil || len(j.Recv) != e.cfg.N {
		return
	}
	e.peerJoin[src], e.peerJoinAt[src] = j, e.now
	switch e.state {
	case StateOperational:
		if !e.members[src] && !e.mergeable(src) {
			return // it cannot hear all of us: a merge would install a view it is not in
		}
		if e.members[src] && j.View.Less(e.view) {
			// A member of our view still gathering for it: it missed the INSTALL. The
			// representative sends it again if the member still proposes what was agreed;
			// anything else is a new change, which the representative starts.
			if e.lastInstall == nil || e.lastInstall.Source != e.cfg.Self {
				return
			}
			for _, jj := range e.lastInstall.Install.Joins {
				if jj.View == j.View && jj.Attempt == j.Attempt && slices.Equal(jj.Members, j.Members) {
					e.out = append(e.out, Envelope{To: src, Msg: e.lastInstall})
					return
				}
			}
		}
		e.startGather()
	case StateGather:
	default:
		return
	}
	e.joins[src] = j
}

// gatherStep runs at each step boundary while gathering: refresh the proposal, and, as
// representative, install once every proposed member agrees.
func (e *EVS) gatherStep() {
	p := e.proposal()
	if !slices.Equal(p, e.myJoin.Members) || e.now-e.joinSentAt >= int64(e.cfg.JoinRetransTicks) {
		e.sendJoin()
	}
	if e.cfg.InactiveTicks > 0 && e.now-e.gatherAt >= int64(e.cfg.InactiveTicks) {
		// Inactive timeout: drop whoever does not agree, unilaterally, and try again.
		for _, m := range p {
			if m != e.cfg.Self && (e.joins[m] == nil || !slices.Equal(e.joins[m].Members, p)) {
				e.excluded[m] = true
			}
		}
		e.gatherAt = e.now
		e.sendJoin()
		p = e.myJoin.Members
	}
	if p[0] != e.cfg.Self {
		return
	}
	joins := make([]Join, 0, len(p))
	for _, m := range p {
		j := e.joins[m]
		if j == nil || !slices.Equal(j.Members, p) {
			return
		}
		joins = append(joins, *j)
	}
	seq := e.view.Seq
	for _, j := range joins {
		seq = max(seq, j.View.Seq, j.Prim.ID.Seq)
	}
	in := &Install{View: ViewID{Seq: seq + 1, Rep: e.cfg.Self}, Members: p, Joins: joins}
	msg := &Msg{Type: MsgInstall, Source: e.cfg.Self, View: e.view, ReqFrom: -1, Install: in}
	e.out = append(e.out, Envelope{To: -1, Msg: msg})
	e.install(msg)
}

func (e *EVS) stepInstall(m *Msg) {
	in := m.Install
	if in == nil || e.state != StateGather || len(in.Members) == 0 || in.Members[0] != m.Source ||
		len(in.Joins) != len(in.Members) {
		return
	}
	k := slices.Index(in.Members, e.cfg.Self)
	if k < 0 || in.Joins[k].Attempt != e.myJoin.Attempt || in.Joins[k].View != e.view {
		return
	}
	e.install(m)
}

// install applies an agreed INSTALL: quorum, transitional delivery, reset for the new view.
func (e *EVS) install(m *Msg) {
	in := m.Install
	primary, last, kept, left, total := Quorum(in.Members, in.Joins)
	me := in.Joins[slices.Index(in.Members, e.cfg.Self)]
	v := View{ID: in.View, Members: slices.Clone(in.Members), Primary: primary, ConfID: -1,
		Kept: kept, Left: left, Last: total}
	if !primary && !slices.ContainsFunc(in.Joins, func(j Join) bool { return j.Primary }) {
		for _, p := range last.Members {
			if !slices.Contains(in.Members, p) {
				v.Missing = append(v.Missing, p)
			}
		}
	}
	var undelivered [][]byte
	if primary && (!me.Primary || transQuorum(in.Members, in.Joins, slices.Index(in.Members, e.cfg.Self))) {
		// Transitional delivery: everything every member from our old view has received;
		// from a primary view only when those members keep its quorum (transQuorum), since
		// otherwise nothing more of it can be numbered. (From a non-primary view nothing
		// delivered is numbered anyway; its group actions still count, bootstrap.go.)
		cut := make([]int64, e.cfg.N)
		for i := range cut {
			cut[i] = -1
		}
		first := true
		for _, j := range in.Joins {
			if j.View != me.View {
				continue
			}
			for s := range cut {
				if first || j.Recv[s] < cut[s] {
					cut[s] = j.Recv[s]
				}
			}
			first = false
		}
		e.deliverUpTo(cut)
	}
	for _, msg := range e.inputs[e.cfg.Self] {
		undelivered = append(undelivered, msg.Actions...)
	}
	undelivered = append(undelivered, e.output...)
	if primary {
		w := make([]int, len(in.Joins))
		for i, j := range in.Joins {
			w[i] = max(j.Weight, 0)
		}
		e.prim = PrimView{ID: in.View, ConfID: last.ConfID + 1, Members: slices.Clone(in.Members), Weights: w}
		v.ConfID = e.prim.ConfID
		v.Weights = slices.Clone(w)
	}
	v.Undelivered = undelivered

	// Reset the ordering state: seqs start again in every view.
	e.view, e.primary = in.View, primary
	e.bootstrapping = false
	if primary {
		e.restored = false
	}
	for i := range e.members {
		e.members[i] = slices.Contains(in.Members, i)
		e.recv[i], e.reported[i] = 0, 0
		e.inputs[i] = nil
		e.pending[i] = nil
		e.foreign[i] = false
		e.excluded[i] = false
		e.lastHeard[i] = e.now
	}
	e.lastSent, e.maxHS, e.aru, e.safe, e.lastReportedAru, e.delivered = 0, 0, 0, 0, 0, 0
	e.lastSafeAtTick, e.noProgress = 0, 0
	e.sentBuf, e.output, e.outBytes = nil, nil, 0
	for i := range e.causals {
		e.causals[i].target = 0
	}
	e.state = StateOperational
	e.joins, e.myJoin = nil, nil
	e.lastInstall = m
	e.stats.Views++
	e.deliv = append(e.deliv, Delivery{Seq: -1, Source: in.Members[0], View: &v})
	_ = me
}

// deliverUpTo delivers, in (seq, index) order, every received message with actions whose
// seq is at or below its sender's cut.
func (e *EVS) deliverUpTo(cut []int64) {
	for {
		best := -1
		for i := range e.inputs {
			if len(e.inputs[i]) == 0 || e.inputs[i][0].Seq > cut[i] {
				continue
			}
			if best < 0 || e.inputs[i][0].Seq < e.inputs[best][0].Seq {
				best = i
			}
		}
		if best < 0 {
			return
		}
		m := e.inputs[best][0]
		e.inputs[best] = e.inputs[best][1:]
		for _, a := range m.Actions {
			e.deliv = append(e.deliv, Delivery{Seq: m.Seq, Source: best, Action: a})
		}
		e.stats.Delivered += uint64(len(m.Actions))
	}
}

// membershipTick runs failure detection once per tick.
func (e *EVS) membershipTick() {
	if e.state != StateOperational || e.cfg.SuspectTicks <= 0 {
		return
	}
	for j := range e.cfg.N {
		if j == e.cfg.Self {
			continue
		}
		silent := e.now - e.lastHeard[j]
		if e.members[j] && (silent >= int64(e.cfg.SuspectTicks) || e.left[j]) {
			e.stats.Suspected++
			e.startGather()
			return
		}
		if !e.members[j] && e.foreign[j] && silent < int64(e.cfg.SuspectTicks) && !e.left[j] && e.mergeable(j) {
			e.startGather()
			return
		}
	}
}
