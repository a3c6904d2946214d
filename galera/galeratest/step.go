package galeratest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/replbench/replbench/galera/gcs"
	"github.com/replbench/replbench/galera/replicator"
)

// effect carries out one effect of mb's machine, printing what the member did.
func (e *Env) effect(mb *member, ef replicator.Effect) {
	switch ef := ef.(type) {
	case replicator.Verdict:
		c := mb.clients[ef.ID]
		delete(mb.clients, ef.ID)
		if c == nil {
			return
		}
		switch ef.Outcome {
		case replicator.Certified:
			c.seqno = ef.Seqno
			mb.certified = append(mb.certified, c)
			e.logf(mb, "%s%s certified at seqno %d (last_seen %d, depends %d), %d ticks after COMMIT",
				c.label, c.keys(), ef.Seqno, c.ws.Snapshot, ef.Depends, e.Now-c.at)
		case replicator.Failed:
			e.logf(mb, "%s%s failed certification at seqno %d (last_seen %d: %s), %d ticks after COMMIT: 1213",
				c.label, c.keys(), ef.Seqno, c.ws.Snapshot, ef.Reason, e.Now-c.at)
		case replicator.NotReady:
			e.logf(mb, "%s refused: not in a primary component: 1047", c.label)
		case replicator.Fenced:
			e.logf(mb, "%s refused: overlaps a detached write-set: 1213", c.label)
		}
	case replicator.Apply:
		mb.queue = append(mb.queue, ef)
	case replicator.Cancel:
		if ef.Seqno > mb.lastLeft {
			mb.done[ef.Seqno] = true
		}
	case replicator.CausalDone:
		l := mb.causal[ef.Token]
		delete(mb.causal, ef.Token)
		e.logf(mb, "causal read %s may read once seqno %d has committed here", l, ef.Seqno)
	case replicator.FlowControl:
		mb.paused = ef.Paused
		if ef.Paused {
			e.logf(mb, "flow control pauses every writer")
			return
		}
		e.logf(mb, "flow control resumes the writers")
		waiting := mb.waiting
		mb.waiting = nil
		for _, c := range waiting {
			e.send(mb, c)
		}
	case replicator.AutoIncrement:
		// Set by every primary view; the view line says enough.
	case replicator.Installed:
		v := ef.View
		if v.Primary {
			mb.lastPrim = &gcs.PrimView{ID: v.ID, ConfID: v.ConfID, Members: v.Members, Weights: v.Weights}
		}
		names := make([]string, len(v.Members))
		for k, m := range v.Members {
			names[k] = e.members[m].name
		}
		kind := fmt.Sprintf("primary, conf %d", v.ConfID)
		if !v.Primary {
			kind = "non-primary"
		}
		if len(v.Missing) > 0 {
			missing := make([]string, len(v.Missing))
			for k, m := range v.Missing {
				missing[k] = e.members[m].name
			}
			kind += fmt.Sprintf(" (no member from a primary component; waits for all of the last one: %s missing)", strings.Join(missing, ","))
		}
		e.logf(mb, "view {%s} %s: 2*kept %d + left %d vs last primary %d", strings.Join(names, ","), kind, v.Kept, v.Left, v.Last)
	case replicator.Donate:
		msg := ef.Message
		if ef.Kind == replicator.SST {
			// The donor snapshots once everything up to the transfer's position committed.
			e.settle(mb)
			if mb.lastLeft < ef.At {
				e.logf(mb, "cannot donate an SST: committed only up to %d of %d (is its applier stalled?)", mb.lastLeft, ef.At)
				return
			}
			entries := make([]string, len(mb.history))
			for k, l := range mb.history {
				entries[k] = fmt.Sprintf("%s@%d", l, mb.at[k])
			}
			msg = replicator.AppendSnapshot(msg, []byte(strings.Join(entries, ",")))
		}
		e.logf(mb, "donates %s to %s: %s", ef.Kind, e.members[ef.To].name, ef.Range())
		e.post(mb.idx, ef.To, msg)
	case replicator.Restore:
		// The snapshot is the donor's commit history: restoring it is adopting it.
		mb.history, mb.at = nil, nil
		if len(ef.Snapshot) > 0 {
			for _, entry := range strings.Split(string(ef.Snapshot), ",") {
				l, g, _ := strings.Cut(entry, "@")
				n, _ := strconv.ParseInt(g, 10, 64)
				mb.history, mb.at = append(mb.history, l), append(mb.at, n)
			}
		}
		mb.lastLeft, mb.done = ef.At, map[int64]bool{}
		e.logf(mb, "restores the SST snapshot: %d write-sets, up to seqno %d", len(mb.history), ef.At)
		mb.m.Restored(true)
	case replicator.Bootstrapped:
		e.logf(mb, "bootstrap: %s starts a new primary component at seqno %d: %s", e.members[ef.Node].name, ef.Seqno, ef.Reason)
	case replicator.Received:
		e.logf(mb, "received from %s: %s", e.members[ef.From].name, ef)
	}
}

// deliver hands every message due by now to its receiver, one receiver's batch at a time,
// until nothing more is due. It reports whether it delivered anything.
func (e *Env) deliver() bool {
	any := false
	for {
		delivered := false
		for to := range e.members {
			var batch []packet
			e.net = slices.DeleteFunc(e.net, func(p packet) bool {
				if p.to == to && p.due <= e.Now {
					batch = append(batch, p)
					return true
				}
				return false
			})
			if len(batch) == 0 {
				continue
			}
			delivered = true
			mb := e.members[to]
			if mb.closed {
				continue
			}
			views := mb.m.Status().EVS.Views
			for _, p := range batch {
				e.receive(mb, p)
			}
			if racing := mb.racing; len(racing) > 0 && mb.m.Status().EVS.Views != views {
				// Clients whose COMMIT reached the loop in the same batch as the message
				// that made EVS install a view: the machine sees them before it has handled
				// the view (that comes out of its Ready), as the provider's loop does.
				mb.racing = nil
				for _, c := range racing {
					e.logf(mb, "%s is proposed in the batch that installs a view", c.label)
					e.send(mb, c)
				}
			}
			e.ready(to)
		}
		if !delivered {
			return any
		}
		any = true
	}
}

func (e *Env) receive(mb *member, p packet) {
	if replicator.IsTransfer(p.payload) {
		mb.m.Transfer(p.from, p.payload)
		return
	}
	m, err := gcs.Decode(p.payload, len(e.members))
	if err != nil {
		panic(fmt.Sprintf("galeratest: message from %s does not decode: %v", e.members[p.from].name, err))
	}
	mb.m.Step(m)
}

// Deliver delivers every message due now, without letting time pass.
func (e *Env) Deliver() { e.deliver() }

// Tick lets n ticks pass: at each, the messages due are delivered and every member's timer
// ticks.
func (e *Env) Tick(n int) {
	for range n {
		e.Now++
		e.deliver()
		for i, mb := range e.members {
			if !mb.closed {
				mb.m.Tick()
				e.ready(i)
			}
		}
		e.deliver()
	}
}

// Stabilize lets time pass until no message is in flight and no member has anything ready,
// at most limit ticks. It reports whether the cluster went quiet.
func (e *Env) Stabilize(limit int) bool {
	for range limit + 1 {
		e.deliver()
		if len(e.net) == 0 && !e.anyReady() {
			return true
		}
		e.Tick(1)
	}
	return false
}

func (e *Env) anyReady() bool {
	for _, mb := range e.members {
		if !mb.closed && mb.m.HasReady() {
			return true
		}
	}
	return false
}

// Drop discards the messages in flight on link from -> to.
func (e *Env) Drop(from, to int) int {
	n := len(e.net)
	e.net = slices.DeleteFunc(e.net, func(p packet) bool { return p.from == from && p.to == to })
	return n - len(e.net)
}

// Partition cuts every link between members of different groups, both ways, and drops
// what is in flight on them; members in no group keep their links.
func (e *Env) Partition(groups [][]int) {
	side := make([]int, len(e.members))
	for i := range side {
		side[i] = -1
	}
	for g, members := range groups {
		for _, i := range members {
			side[i] = g
		}
	}
	e.cut = map[[2]int]bool{}
	for a := range e.members {
		for b := range e.members {
			if side[a] >= 0 && side[b] >= 0 && side[a] != side[b] {
				e.cut[[2]int{a, b}] = true
				e.Drop(a, b)
			}
		}
	}
}

// Heal restores every link.
func (e *Env) Heal() { e.cut = map[[2]int]bool{} }

// Status prints each member's view, state, position and queues, in the terms of the wsrep
// status variables.
func (e *Env) Status(which []int) string {
	var b strings.Builder
	for _, i := range which {
		mb := e.members[i]
		s := mb.m.Status()
		if mb.closed {
			fmt.Fprintf(&b, "%s: closed\n", mb.name)
			continue
		}
		names := make([]string, len(s.View.Members))
		for k, m := range s.View.Members {
			names[k] = e.members[m].name
		}
		status := "Primary"
		if !s.View.Primary {
			status = "non-Primary"
		}
		fmt.Fprintf(&b, "%s: %s %s {%s} conf=%d seqno=%d committed=%d history=%d/%s cert_index=%d\n",
			mb.name, s.Own.Comment(), status, strings.Join(names, ","), s.ConfID, s.Seqno, mb.lastLeft,
			len(mb.history), mb.digest(), s.Cert.IndexSize)
		fmt.Fprintf(&b, "    recv_queue=%d fc_limits=[%d,%d] fc_sent=%d fc_recv=%d paused=%v gcache_downto=%d ist=%d sst=%d\n",
			s.FC.QueueLen, s.FC.Lower, s.FC.Upper, s.FC.Sent, s.FC.Recv, s.Paused, s.CachedDownto, s.ISTReceived, s.SSTReceived)
	}
	return b.String()
}
