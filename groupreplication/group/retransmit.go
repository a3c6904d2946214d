package group

import (
	"maps"
	"math"
	"slices"
	"time"
)

// Retransmission of this member's own proposals.
//
// Raft forwards a follower's proposal to the leader once and forgets it: a forwarded
// message lost on the way, or dropped by a leader handing leadership over, is gone, and
// etcd leaves retrying to its clients. XCom, which GR runs on, retries its Paxos instances
// until they are decided, so a message a member sent is delivered as long as the member
// stays in the group. The machine therefore keeps every proposal something waits on (a
// client's transaction or sync, a control message, an AFTER prepare) until the agreed log
// delivers it, and sends it again when it is overdue. Delivery drops the duplicates (dedup.go
// for transactions and syncs; the others are idempotent).
//
// Overdue is measured against the member's own ordering latency, the way TCP times its
// retransmissions (RFC 6298): a smoothed round trip and its variation, from the delivery
// of proposals sent once (Karn's rule: a resent one's delivery says nothing about either
// copy), in ticks, with one tick as the clock granularity. Each resend of a proposal
// doubles its wait, up to the failure detector's suspicion window, beyond which the group
// deals with the silence by itself (a suspected leader is replaced, a cut-off member is
// expelled), so a member cut off for long resends a few times rather than every tick.

// proposal is one of this member's undelivered messages.
type proposal struct {
	data   []byte
	sent   int // tick of the last send
	wait   int // ticks it may stay undelivered before the next send
	resent bool
}

// rttEstimator is RFC 6298's estimator over whole ticks.
type rttEstimator struct {
	srtt, rttvar float64
	sampled      bool
	backoff      int // the last backed-off wait, kept until a fresh sample (RFC 6298 5.7)
}

// initialWait is RFC 6298's initial retransmission timeout, before any sample.
const initialWait = time.Second

// ticksOf converts d to ticks of the configured length, rounding up.
func (m *Machine) ticksOf(d time.Duration) int {
	t := m.cfg.Tick
	if t <= 0 {
		t = 100 * time.Millisecond
	}
	return max(int((d+t-1)/t), 1)
}

// maxWait is the longest a proposal waits between sends: the suspicion window.
func (m *Machine) maxWait() int {
	s := m.cfg.SuspectAfter
	if s <= 0 {
		s = 5 * time.Second
	}
	return m.ticksOf(s)
}

// rto is the wait a new proposal gets.
func (m *Machine) rto() int {
	r := &m.rtt
	w := m.ticksOf(initialWait)
	if r.sampled {
		w = int(math.Ceil(r.srtt + max(1, 4*r.rttvar)))
	}
	return min(max(w, r.backoff), m.maxWait())
}

// sample feeds the estimator one ordering latency, in ticks.
func (r *rttEstimator) sample(ticks int) {
	x := float64(ticks)
	if !r.sampled {
		r.srtt, r.rttvar, r.sampled = x, x/2, true
	} else {
		r.rttvar = 0.75*r.rttvar + 0.25*math.Abs(r.srtt-x)
		r.srtt = 0.875*r.srtt + 0.125*x
	}
	r.backoff = 0
}

// track starts following a proposal sent now.
func (m *Machine) track(data []byte) *proposal {
	return &proposal{data: data, sent: m.ticks, wait: m.rto()}
}

// arrived is the delivery of one of this member's proposals (p nil: not tracked).
func (m *Machine) arrived(p *proposal) {
	if p != nil && !p.resent {
		m.rtt.sample(m.ticks - p.sent)
	}
}

// undelivered returns this member's tracked proposals: control messages first (in kind
// order), then AFTER prepares in position order, then transactions and syncs in id order.
func (m *Machine) undelivered() []*proposal {
	var out []*proposal
	for _, k := range slices.Sorted(maps.Keys(m.control)) {
		out = append(out, m.control[k])
	}
	for _, seq := range slices.Sorted(maps.Keys(m.prepares)) {
		out = append(out, m.prepares[seq])
	}
	for _, id := range slices.Sorted(maps.Keys(m.pending)) {
		out = append(out, m.pending[id])
	}
	return out
}

// resendOverdue sends again every proposal that has waited longer than its wait, and
// doubles that wait.
func (m *Machine) resendOverdue(eff *Effects) {
	for _, p := range m.undelivered() {
		if m.ticks-p.sent <= p.wait {
			continue
		}
		eff.propose(p.data)
		p.sent, p.resent = m.ticks, true
		p.wait = min(2*p.wait, m.maxWait())
		m.rtt.backoff = max(m.rtt.backoff, p.wait)
	}
}

// resendAll sends every tracked proposal again at once: the raft leader changed, and the
// old one may have taken them with it.
func (m *Machine) resendAll(eff *Effects) {
	for _, p := range m.undelivered() {
		eff.propose(p.data)
		p.sent, p.resent = m.ticks, true
	}
}
