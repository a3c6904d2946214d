package galera

import (
	"bytes"
	"fmt"
	"math"
	"time"

	"github.com/replbench/replbench/galera/gcs"
	"github.com/replbench/replbench/galera/replicator"
)

// This file is the driver loop: the one goroutine that owns the replicator machine. Every
// input reaches the machine through it, in the order it was posted; after each batch it
// runs Ready until nothing is left, sends the messages and carries out the effects.

type eventKind uint8

const (
	evMsg       eventKind = iota // an EVS message from a peer
	evTransfer                   // a state-transfer message from a peer
	evPropose                    // a local write-set at COMMIT
	evAnnounce                   // the bootstrap state announcement
	evCausal                     // a causal-read token
	evCommitted                  // a write-set committed or was discarded here
	evDequeued                   // an applier took a write-set off the receive queue
	evLeave                      // Close: leave gracefully
	evWithdraw                   // a client stopped waiting
)

type event struct {
	kind    eventKind
	from    int
	payload []byte
	id      uint64
	p       *pending
	causal  chan int64
	local   bool
	seen    int64 // last_seen of a committed local write-set
	keys    int
	bytes   int
	done    chan struct{}
	reply   chan replicator.Withdrawal // evWithdraw: the loop's answer
}

func (p *Provider) handle(from string, payload []byte) {
	i, ok := p.index[from]
	if !ok {
		return
	}
	if replicator.IsTransfer(payload) {
		p.inbox.Post(event{kind: evTransfer, from: i, payload: payload})
		return
	}
	p.inbox.Post(event{kind: evMsg, from: i, payload: payload})
}

// loop owns the machine: every input goes through it, in order.
func (p *Provider) loop() {
	defer p.wg.Done()
	t := time.NewTicker(p.st.Tick)
	defer t.Stop()
	buf := make([]byte, 0, 4096)
	for {
		tick := false
		select {
		case <-p.ctx.Done():
			p.failWaiters()
			return
		case <-p.inbox.Wake():
		case <-t.C:
			tick = true
		}
		batch := p.inbox.Drain()
		for i := range batch {
			p.handleEvent(&batch[i])
		}
		if tick {
			p.m.Tick()
			p.gcache.writeback(time.Now())
		}
		for {
			p.m.SetLastCommitted(p.applyMon.LastLeft())
			rd := p.m.Ready()
			buf = p.send(rd.Messages, buf)
			p.execute(rd.Effects)
			if !p.m.HasReady() {
				break
			}
		}
		p.refreshReady()
		p.snapshot()
	}
}

func (p *Provider) handleEvent(e *event) {
	switch e.kind {
	case evMsg:
		m, err := gcs.Decode(e.payload, p.n)
		if err != nil || m.Source != e.from {
			return // garbage from the network is dropped, as a checksum failure would be
		}
		p.m.Step(m)
	case evTransfer:
		p.m.Transfer(e.from, e.payload)
	case evPropose:
		if p.closed.Load() {
			e.p.done <- verdict{seqno: vNotReady}
			return
		}
		p.waiters[e.id] = e.p
		p.m.SetLastCommitted(p.applyMon.LastLeft())
		p.m.Propose(e.id, e.p.ws, e.payload)
	case evAnnounce:
		p.m.Announce()
	case evLeave:
		p.m.Leave()
		rd := p.m.Ready()
		p.send(rd.Messages, nil)
		p.execute(rd.Effects)
		close(e.done)
	case evCausal:
		p.causalCh[e.id] = e.causal
		p.m.Causal(e.id)
	case evCommitted:
		p.m.SetLastCommitted(p.applyMon.LastLeft())
		p.m.Committed(e.local, e.seen, e.keys, e.bytes)
	case evDequeued:
		p.m.Dequeued()
	case evWithdraw:
		w := p.m.Withdraw(e.id, e.local)
		if w != replicator.Decided && w != replicator.Sent {
			delete(p.waiters, e.id)
		}
		e.reply <- w
	}
}

// execute carries out the machine's effects, in order.
func (p *Provider) execute(effects []replicator.Effect) {
	var now time.Time
	for _, ef := range effects {
		switch ef := ef.(type) {
		case replicator.Verdict:
			w := p.waiters[ef.ID]
			if w == nil {
				continue
			}
			delete(p.waiters, ef.ID)
			switch ef.Outcome {
			case replicator.NotReady:
				w.done <- verdict{seqno: vNotReady}
			case replicator.Fenced:
				w.done <- verdict{seqno: vFenced}
			default:
				if now.IsZero() {
					now = time.Now()
				}
				p.lat.add(now.Sub(w.sentAt))
				w.done <- verdict{seqno: ef.Seqno, ok: ef.Outcome == replicator.Certified}
			}
		case replicator.Apply:
			p.queue.Push(ef)
		case replicator.Cancel:
			p.applyMon.Cancel(ef.Seqno)
			p.commitMon.Cancel(ef.Seqno)
		case replicator.CausalDone:
			if ch, ok := p.causalCh[ef.Token]; ok {
				delete(p.causalCh, ef.Token)
				ch <- ef.Seqno
			}
		case replicator.FlowControl:
			p.setPaused(ef.Paused)
		case replicator.AutoIncrement:
			p.applier.SetAutoIncrement(ef.Increment, ef.Offset)
		case replicator.Donate:
			p.donate(ef)
		case replicator.Restore:
			p.restore(ef)
		case replicator.Received:
			p.lastXfer = fmt.Sprintf("from %s: %s", p.cfg.Members[ef.From], ef)
		case replicator.Cached:
			p.gcache.add(ef)
		case replicator.CacheReset:
			if err := p.gcache.reset(); err != nil {
				p.gcache.err = err
			}
		case replicator.Installed:
			if ef.View.Primary && (len(ef.View.Members) == 1) != p.safe {
				p.safe = len(ef.View.Members) == 1
				p.saveState(-1)
			}
			if ef.View.Primary && p.stateFS != nil && p.st.PCRecovery {
				v := ef.View
				_ = writeGvwstate(p.stateFS, p.stateDir, p.cfg.Node, p.cfg.Members,
					gcs.PrimView{ID: v.ID, ConfID: v.ConfID, Members: v.Members, Weights: v.Weights})
			}
		case replicator.Bootstrapped:
			p.bootstrapped = fmt.Sprintf("%s bootstrapped a new primary component at seqno %d: %s", p.cfg.Members[ef.Node], ef.Seqno, ef.Reason)
			if ef.Node == p.self && !p.safe {
				p.safe = true // the procedure's edit of grastate.dat before --wsrep-new-cluster
				p.saveState(-1)
			}
			// wsrep_ready follows the view; refreshReady runs after every step.
		}
	}
}

// setPaused starts or ends flow control's pause of this node's writers.
func (p *Provider) setPaused(paused bool) {
	p.pauseMu.Lock()
	defer p.pauseMu.Unlock()
	switch {
	case paused && p.pauseCh == nil:
		p.pauseCh = make(chan struct{})
		p.pausedAt = time.Now()
	case !paused && p.pauseCh != nil:
		close(p.pauseCh)
		p.pauseCh = nil
		p.pausedNs += time.Since(p.pausedAt)
	}
}

// donate sends a state transfer the machine decided to serve. An SST waits until
// everything up to its position has committed here and takes the storage snapshot; the
// loop, and so this node's ordering, stops meanwhile, as a blocking SST does.
func (p *Provider) donate(d replicator.Donate) {
	msg := d.Message
	if d.Kind == replicator.SST {
		var snap bytes.Buffer
		if err := p.applyMon.WaitFor(p.ctx, d.At); err != nil {
			return
		}
		if err := p.applier.Snapshot(&snap); err != nil {
			return
		}
		msg = replicator.AppendSnapshot(msg, snap.Bytes())
	}
	_ = p.ep.Send(p.cfg.Members[d.To], msg)
	p.lastXfer = fmt.Sprintf("%s to %s: %s", d.Kind, p.cfg.Members[d.To], d.Range())
}

// restore replaces the storage engine's contents with an SST snapshot and moves the
// monitors to its position, then lets the machine rebuild its certification index.
func (p *Provider) restore(r replicator.Restore) {
	ok := p.applier.Restore(bytes.NewReader(r.Snapshot)) == nil
	if ok {
		p.applyMon.Reset(r.At)
		p.commitMon.Reset(r.At)
	}
	p.m.Restored(ok)
}

func (p *Provider) send(msgs []gcs.Envelope, buf []byte) []byte {
	for _, env := range msgs {
		buf = gcs.Encode(buf[:0], env.Msg)
		if env.To >= 0 {
			_ = p.ep.Send(p.cfg.Members[env.To], append([]byte(nil), buf...))
			continue
		}
		for i, m := range p.cfg.Members {
			if i != p.self {
				_ = p.ep.Send(m, append([]byte(nil), buf...))
			}
		}
	}
	return buf
}

// failWaiters answers every client still waiting when the node closes.
func (p *Provider) failWaiters() {
	for id, w := range p.waiters {
		w.done <- verdict{seqno: vNotReady}
		delete(p.waiters, id)
	}
	for tok, ch := range p.causalCh {
		ch <- -1
		delete(p.causalCh, tok)
	}
}

// latency is wsrep_evs_repl_latency: from a local write-set's proposal to its delivery in
// total order.
type latency struct {
	min, max   time.Duration
	sum, sumSq float64
	n          int64
}

func (l *latency) add(d time.Duration) {
	if l.n == 0 || d < l.min {
		l.min = d
	}
	l.max = max(l.max, d)
	l.sum += d.Seconds()
	l.sumSq += d.Seconds() * d.Seconds()
	l.n++
}

// String is min/avg/max/stddev/count in seconds, as Galera prints it.
func (l latency) String() string {
	if l.n == 0 {
		return "0/0/0/0/0"
	}
	avg := l.sum / float64(l.n)
	sd := math.Sqrt(max(0, l.sumSq/float64(l.n)-avg*avg))
	f := func(v float64) string { return fmt.Sprintf("%.6f", v) }
	return f(l.min.Seconds()) + "/" + f(avg) + "/" + f(l.max.Seconds()) + "/" + f(sd) + "/" + fmt.Sprint(l.n)
}

// loopSnapshot is what Status reads of the loop-owned state.
type loopSnapshot struct {
	m            replicator.Status
	lat          latency
	lastXfer     string
	bootstrapped string
}

func (p *Provider) snapshot() {
	s := loopSnapshot{m: p.m.Status(), lat: p.lat, lastXfer: p.lastXfer, bootstrapped: p.bootstrapped}
	p.snapMu.Lock()
	p.snap = s
	p.snapMu.Unlock()
}
