package transport

import (
	"container/heap"
	"hash/fnv"
	"math/rand/v2"
	"time"
)

// DropCause says why the emulator discarded a message.
type DropCause int

// The drop causes, counted separately in Stats.
const (
	// NotDropped: the message is on its way.
	NotDropped DropCause = iota
	// DropLoss: the network's loss probability hit.
	DropLoss
	// DropPartition: sender and receiver were partitioned when it was sent or when it was
	// due (a cut also loses what is on the wire).
	DropPartition
	// DropClosed: the emulator, the sending endpoint or the inner bus was closed.
	DropClosed
)

func (c DropCause) String() string {
	switch c {
	case DropLoss:
		return "loss"
	case DropPartition:
		return "partition"
	case DropClosed:
		return "closed"
	}
	return "none"
}

// packet is one message in flight.
type packet struct {
	seq     uint64
	link    Link
	sentAt  time.Time
	due     time.Time // when it may be handed to the inner bus
	release time.Time // when a clogged link released it (zero if never held)
	payload []byte
	via     Endpoint // the sender's inner endpoint
}

// linkState is what the schedule remembers per directed link.
type linkState struct {
	rng      *rand.Rand
	last     time.Time // latest due time given out: FIFO floor for the next message
	inflight int       // packets decided but not yet handed over (heap, held, or bypassing)
	clogged  bool
	held     []*packet // due while clogged, in order
}

// schedule is the emulator's core: a state machine with explicit inputs (Send with the
// current time, Pop with the current time, control calls) and outputs (decisions, packets
// due). It owns no goroutine and reads no clock, so it is driven step by step in tests and
// by either dispatcher (virtual or precise) in runs. It is not safe for concurrent use.
type schedule struct {
	nw      Network
	seed    uint64
	links   map[Link]*linkState
	cut     map[Link]bool // directed partitions
	pending packetHeap
	seq     uint64
	nheld   int
}

func newSchedule(nw Network, seed uint64) *schedule {
	return &schedule{nw: nw.Clone(), seed: seed, links: make(map[Link]*linkState), cut: make(map[Link]bool)}
}

func (s *schedule) link(l Link) *linkState {
	ls := s.links[l]
	if ls == nil {
		// Each link has its own random stream, derived from the seed and the link's name,
		// so a link's delays depend only on its own send sequence, not on how sends on
		// other links interleave with it: runs repeat even with concurrent senders.
		h := fnv.New64a()
		h.Write([]byte(l.From))
		h.Write([]byte{0})
		h.Write([]byte(l.To))
		ls = &linkState{rng: rand.New(rand.NewPCG(s.seed, h.Sum64()))}
		s.links[l] = ls
	}
	return ls
}

// decision is the outcome of Send.
type decision struct {
	drop DropCause
	// now means the packet may be handed over at once by the sender (zero delay, nothing
	// earlier on the link still in flight). The caller must call done afterwards.
	now bool
	due time.Time
}

// send decides the fate of a message sent at now. A packet that is neither dropped nor
// immediate is queued inside the schedule until pop returns it.
func (s *schedule) send(now time.Time, p *packet) decision {
	ls := s.link(p.link)
	// Draw the random numbers unconditionally and in a fixed order, so that the stream of
	// a link does not depend on partitions or clogging.
	lost := s.nw.Loss > 0 && ls.rng.Float64() < s.nw.Loss
	delay := s.nw.OneWay(p.link.From, p.link.To) + s.nw.Jitter.Sample(ls.rng)
	if s.cut[p.link] {
		return decision{drop: DropPartition}
	}
	if lost {
		return decision{drop: DropLoss}
	}
	due := now.Add(delay)
	if due.Before(ls.last) {
		due = ls.last // FIFO per link, as TCP: never overtake an earlier message
	}
	ls.last = due
	s.seq++
	p.seq, p.sentAt, p.due = s.seq, now, due
	ls.inflight++
	if delay == 0 && ls.inflight == 1 && !ls.clogged {
		return decision{now: true, due: due}
	}
	heap.Push(&s.pending, p)
	return decision{due: due}
}

// next is the due time of the earliest pending packet.
func (s *schedule) next() (time.Time, bool) {
	if len(s.pending) == 0 {
		return time.Time{}, false
	}
	return s.pending[0].due, true
}

// pop removes the packets due at or before now, in (due, send order) order. Packets on a
// partitioned link are returned in dropped with the partition cause; packets on a clogged
// link are held until unclog. Every returned packet in out must be passed to done once it
// has been handed over.
func (s *schedule) pop(now time.Time, out, dropped []*packet) ([]*packet, []*packet) {
	for len(s.pending) > 0 && !s.pending[0].due.After(now) {
		p := heap.Pop(&s.pending).(*packet)
		ls := s.link(p.link)
		switch {
		case s.cut[p.link]:
			ls.inflight--
			dropped = append(dropped, p)
		case ls.clogged:
			ls.held = append(ls.held, p)
			s.nheld++
		default:
			out = append(out, p)
		}
	}
	return out, dropped
}

// done records that a packet returned by pop (or an immediate one) has been handed over.
func (s *schedule) done(l Link) {
	s.link(l).inflight--
}

func (s *schedule) clog(from, to string) {
	s.link(Link{from, to}).clogged = true
}

// unclog releases the held packets of the link at now: they become due at once, ahead of
// anything sent later on the link.
func (s *schedule) unclog(now time.Time, from, to string) {
	ls := s.link(Link{from, to})
	ls.clogged = false
	for _, p := range ls.held {
		// Keep the original due time (all are <= now, and <= that of any later packet on
		// the link) so the heap order keeps them first; statistics measure lateness from
		// the release time instead.
		p.release = now
		heap.Push(&s.pending, p)
		s.nheld--
	}
	ls.held = nil
}

func (s *schedule) unclogAll(now time.Time) {
	for l, ls := range s.links {
		if ls.clogged {
			s.unclog(now, l.From, l.To)
		}
	}
}

// partition cuts every link between nodes of different groups, both ways.
func (s *schedule) partition(groups [][]string) {
	for i, g := range groups {
		for j, h := range groups {
			if i == j {
				continue
			}
			for _, a := range g {
				for _, b := range h {
					if a != b {
						s.cut[Link{a, b}] = true
					}
				}
			}
		}
	}
}

func (s *schedule) partitionOneWay(from, to string) { s.cut[Link{from, to}] = true }

func (s *schedule) heal() { clear(s.cut) }

// setNetwork replaces the delays, jitter and loss for messages sent from now on; messages
// already in flight keep their due times.
func (s *schedule) setNetwork(nw Network) { s.nw = nw.Clone() }

// drain removes everything still pending or held (at close).
func (s *schedule) drain() []*packet {
	all := []*packet(s.pending)
	s.pending = nil
	for _, ls := range s.links {
		all = append(all, ls.held...)
		ls.held = nil
		ls.inflight = 0
	}
	s.nheld = 0
	return all
}

type packetHeap []*packet

func (h packetHeap) Len() int { return len(h) }
func (h packetHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].seq < h[j].seq
	}
	return h[i].due.Before(h[j].due)
}
func (h packetHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *packetHeap) Push(x any)   { *h = append(*h, x.(*packet)) }
func (h *packetHeap) Pop() any {
	old := *h
	n := len(old)
	p := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return p
}
