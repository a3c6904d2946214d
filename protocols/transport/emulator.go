package transport

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// EmulatorOptions chooses how the emulator keeps time.
type EmulatorOptions struct {
	// Seed makes jitter and loss repeatable: the same seed and the same sequence of sends on
	// a link give the same delivery times on that link.
	Seed int64
	// Virtual selects plain Go timers: exact inside a testing/synctest bubble, where time
	// only advances when every goroutine is blocked, but only ~1 ms precise in real time
	// (runtime timers cannot wait less than ~1 ms and overshoot by 0.1-0.2 ms). Tests use
	// Virtual: true. The default (false) is the precise real-time mode: the dispatcher
	// sleeps on a timer until SpinWindow before the earliest deadline, then (on Linux, on
	// its own OS thread with 1 ns timer slack) in ppoll until SpinTail before it, and
	// spins the last stretch (yielding with runtime.Gosched) until the deadline has passed.
	// It is accurate to microseconds on a quiet machine and costs little CPU, but under
	// CPU contention its tail is the kernel scheduler's. Never use it inside a synctest
	// bubble: its sleeps are not durably blocking, so virtual time would never move.
	Virtual bool
	// SpinWindow is how long before a deadline the precise mode stops sleeping and starts
	// spinning. It must cover the timer's overshoot under load; larger costs more CPU.
	// Zero means DefaultSpinWindow.
	SpinWindow time.Duration
	// SpinTail is how long before a deadline the precise mode on Linux stops sleeping in
	// ppoll and spins; it must cover a sleeping thread's wake-up latency. Zero means
	// DefaultSpinTail; a value of SpinWindow or more spins the whole window (lowest
	// median error, one busy core while messages are due soon).
	SpinTail time.Duration
}

// DefaultSpinWindow covers the p99 overshoot of Go timers on a loaded 2-core box.
const DefaultSpinWindow = time.Millisecond

// DefaultSpinTail covers the wake-up latency of a thread with 1 ns timer slack
// (microbench.md: p50 9-20 us, p99 17-80 us when idle) plus getting a P back.
const DefaultSpinTail = 50 * time.Microsecond

// timerFloor is the shortest wait a Go runtime timer can do on Linux (the netpoller waits
// in whole milliseconds); waits shorter than this are spun, not slept.
const timerFloor = 1100 * time.Microsecond

// Emulator is a Bus that decides when each message is handed to an inner Bus: per-node
// egress delay, per-link delay, jitter, loss, partitions and clogged links, FIFO per link.
// It works on the sender's side, so it also shapes traffic between nodes that run on
// different machines over an external NATS. A message is never handed over early.
//
// One dispatcher goroutine hands over due messages in (due time, send order) order;
// messages with zero delay and nothing earlier in flight on their link go straight
// through on the sender's goroutine.
//
// Every run reports how faithful its network was (Stats). The figure that counts is the
// delay error: receipt time minus due time, taken where the receiving endpoint hands the
// message to its node's handler, so it includes everything after the emulator's decision
// (the inner bus's send, NATS's publish and subscriber goroutine, a receive queue backed
// up behind a slow handler). The sender stamps the due time into a 12-byte envelope
// around the payload and the receiver's endpoint strips it, so the payload a handler sees
// is the one that was sent. Over an external NATS between machines the figure includes
// the offset between the machines' clocks (see emuClock). The emulator's own part, the
// hand-off lateness on the sending side, is reported apart as the dispatch error.
//
// The emulator owns the inner bus: Close closes it. Sends racing on one endpoint from
// several goroutines have no defined order, as on any bus; sends from one goroutine keep
// theirs.
type Emulator struct {
	inner Bus
	opts  EmulatorOptions

	mu     sync.Mutex
	s      *schedule
	closed bool

	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	sleeper *shortSleeper // precise mode on Linux: sub-ms sleeps; nil means spin

	clock emuClock

	sent, delivered, early atomic.Uint64
	drops                  [DropClosed + 1]atomic.Uint64
	received, negative     atomic.Uint64
	unstamped              atomic.Uint64

	// Two locks, so receivers recording never hold up the dispatcher's hand-offs.
	recvErr errorHistogram // receipt minus due: the delay error
	dispErr errorHistogram // hand-off minus due: the dispatch error
}

// errorHistogram is a lateness histogram in nanoseconds, safe for concurrent use.
type errorHistogram struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

// record adds one lateness; values beyond a minute are recorded as a minute.
func (e *errorHistogram) record(late int64) {
	e.mu.Lock()
	e.h.RecordValue(min(late, e.h.HighestTrackableValue()))
	e.mu.Unlock()
}

// summary returns the count and the p50, p99 and max in milliseconds.
func (e *errorHistogram) summary() (n int64, p50, p99, max float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return summarise(e.h)
}

func (e *errorHistogram) reset() {
	e.mu.Lock()
	e.h.Reset()
	e.mu.Unlock()
}

// NewEmulator wraps inner with the network nw. Under testing/synctest create it inside
// the bubble with opts.Virtual set.
func NewEmulator(inner Bus, nw Network, opts EmulatorOptions) *Emulator {
	if opts.SpinWindow <= 0 {
		opts.SpinWindow = DefaultSpinWindow
	}
	if opts.SpinTail <= 0 {
		opts.SpinTail = DefaultSpinTail
	}
	em := &Emulator{
		inner: inner,
		opts:  opts,
		s:     newSchedule(nw, uint64(opts.Seed)),
		wake:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		clock: newEmuClock(),

		recvErr: errorHistogram{h: newErrorHistogram()},
		dispErr: errorHistogram{h: newErrorHistogram()},
	}
	if !opts.Virtual && opts.SpinTail < opts.SpinWindow+timerFloor {
		em.sleeper = newShortSleeper()
	}
	go em.run()
	return em
}

func newErrorHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(time.Minute), 3)
}

// Attach implements Bus.
func (em *Emulator) Attach(node string) (Endpoint, error) {
	em.mu.Lock()
	closed := em.closed
	em.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	ep, err := em.inner.Attach(node)
	if err != nil {
		return nil, err
	}
	return &emuEndpoint{em: em, inner: ep}, nil
}

// Close stops the dispatcher, drops what is still in flight (counted as closed) and
// closes the inner bus.
func (em *Emulator) Close() error {
	em.mu.Lock()
	if em.closed {
		em.mu.Unlock()
		return nil
	}
	em.closed = true
	close(em.stop)
	em.mu.Unlock()
	<-em.done
	em.mu.Lock()
	left := em.s.drain()
	em.mu.Unlock()
	em.drops[DropClosed].Add(uint64(len(left)))
	return em.inner.Close()
}

// Network returns a copy of the network in force.
func (em *Emulator) Network() Network {
	em.mu.Lock()
	defer em.mu.Unlock()
	return em.s.nw.Clone()
}

// SetNetwork replaces delays, jitter and loss for messages sent from now on. Messages in
// flight keep their delivery times, and FIFO still holds: a link whose delay drops does
// not let new messages overtake old ones.
func (em *Emulator) SetNetwork(nw Network) {
	em.control(func(s *schedule, _ time.Time) { s.setNetwork(nw) })
}

// Partition cuts every link between nodes of different groups, in both directions, in
// addition to any cut already in force. Nodes in no group keep their links. Messages sent
// across a cut, or due while a cut is in force, are dropped.
func (em *Emulator) Partition(groups ...[]string) {
	em.control(func(s *schedule, _ time.Time) { s.partition(groups) })
}

// PartitionOneWay drops messages from → to while leaving to → from working: the
// asymmetric failure (a one-sided firewall rule) that confuses failure detectors.
func (em *Emulator) PartitionOneWay(from, to string) {
	em.control(func(s *schedule, _ time.Time) { s.partitionOneWay(from, to) })
}

// Clog holds messages from → to instead of dropping them: they stay queued, in order,
// and are delivered when the link is unclogged, like a stalled TCP connection that
// recovers.
func (em *Emulator) Clog(from, to string) {
	em.control(func(s *schedule, _ time.Time) { s.clog(from, to) })
}

// Unclog releases a clogged link: held messages are delivered at once, in order.
func (em *Emulator) Unclog(from, to string) {
	em.control(func(s *schedule, now time.Time) { s.unclog(now, from, to) })
}

// Heal ends every partition (symmetric and one-way) and unclogs every link.
func (em *Emulator) Heal() {
	em.control(func(s *schedule, now time.Time) {
		s.heal()
		s.unclogAll(now)
	})
}

func (em *Emulator) control(f func(*schedule, time.Time)) {
	now := time.Now()
	em.mu.Lock()
	f(em.s, now)
	em.mu.Unlock()
	em.poke()
}

func (em *Emulator) poke() {
	select {
	case em.wake <- struct{}{}:
	default:
	}
	if em.sleeper != nil {
		em.sleeper.poke()
	}
}

// Stats is what the emulator did, for the result of a run.
type Stats struct {
	// Sent counts Send calls that reached the emulator.
	Sent uint64
	// Delivered counts messages handed to the inner bus.
	Delivered uint64
	// Dropped counts discarded messages by cause.
	Dropped DropCounts
	// InFlight is the number of messages decided but not yet handed over, Held the part of
	// them held on clogged links.
	InFlight, Held int
	// Early counts hand-offs before their due time. It must stay 0.
	Early uint64
	// Received counts messages handed to a receiving node's handler through an emulator
	// endpoint. It trails Delivered by what is still queued at receivers or was discarded
	// by a closed receiver.
	Received uint64
	// DelayErrorP50Ms, P99Ms and MaxMs summarise the delay error of every received
	// message, in milliseconds: the moment the receiving endpoint called the node's
	// handler minus the moment the message was due (or released from a clogged link). It
	// covers the whole path from the emulator's decision to the handler, including the
	// inner bus and a receive queue backed up behind a slow handler, so it is how far the
	// network a protocol saw was from the configured one. Results carry it as
	// network.delay_error_ms. Between machines it includes their clock offset.
	DelayErrorP50Ms, DelayErrorP99Ms, DelayErrorMaxMs float64
	// DelayErrorN is the number of receipts the summary covers.
	DelayErrorN int64
	// DelayErrorNegative counts receipts before their due time. Within one process that
	// cannot happen (hand-offs are never early); between machines it means the
	// receiver's clock is behind the sender's. Such readings are recorded as 0.
	DelayErrorNegative uint64
	// Unstamped counts received messages that carried no emulator envelope (sent by a
	// node not running the emulator, or by an incompatible version): they were delivered
	// unchanged and are not in the delay error.
	Unstamped uint64
	// DispatchErrorP50Ms, P99Ms and MaxMs summarise the emulator's own part of the delay
	// error: hand-off to the inner bus minus due time, on the sending side, in
	// milliseconds. The gap between it and the delay error is the inner bus and the
	// receiver's queue.
	DispatchErrorP50Ms, DispatchErrorP99Ms, DispatchErrorMaxMs float64
	// DispatchErrorN is the number of hand-offs the dispatch summary covers.
	DispatchErrorN int64
	// Virtual reports the timing mode.
	Virtual bool
}

// DropCounts are dropped messages by cause.
type DropCounts struct {
	Loss, Partition, Closed uint64
}

// Total is the sum over causes.
func (d DropCounts) Total() uint64 { return d.Loss + d.Partition + d.Closed }

// Stats returns the counters and the delivery-error summary.
func (em *Emulator) Stats() Stats {
	st := Stats{
		Sent:      em.sent.Load(),
		Delivered: em.delivered.Load(),
		Dropped: DropCounts{
			Loss:      em.drops[DropLoss].Load(),
			Partition: em.drops[DropPartition].Load(),
			Closed:    em.drops[DropClosed].Load(),
		},
		Early:   em.early.Load(),
		Virtual: em.opts.Virtual,
	}
	em.mu.Lock()
	for _, ls := range em.s.links {
		st.InFlight += ls.inflight
	}
	st.Held = em.s.nheld
	em.mu.Unlock()
	st.Received = em.received.Load()
	st.DelayErrorNegative = em.negative.Load()
	st.Unstamped = em.unstamped.Load()
	st.DelayErrorN, st.DelayErrorP50Ms, st.DelayErrorP99Ms, st.DelayErrorMaxMs = em.recvErr.summary()
	st.DispatchErrorN, st.DispatchErrorP50Ms, st.DispatchErrorP99Ms, st.DispatchErrorMaxMs = em.dispErr.summary()
	return st
}

// summarise returns the count and the p50, p99 and max of an error histogram in ms.
func summarise(h *hdrhistogram.Histogram) (n int64, p50, p99, max float64) {
	n = h.TotalCount()
	if n == 0 {
		return 0, 0, 0, 0
	}
	return n, float64(h.ValueAtQuantile(50)) / 1e6, float64(h.ValueAtQuantile(99)) / 1e6, float64(h.Max()) / 1e6
}

// ResetStats clears the error histograms and the counters, for example after a warm-up.
// Messages already in flight are counted where they land, so right after a reset Received
// may briefly exceed Delivered.
func (em *Emulator) ResetStats() {
	em.sent.Store(0)
	em.delivered.Store(0)
	em.early.Store(0)
	em.received.Store(0)
	em.negative.Store(0)
	em.unstamped.Store(0)
	for i := range em.drops {
		em.drops[i].Store(0)
	}
	em.recvErr.reset()
	em.dispErr.reset()
}

// send queues an envelope (from newEnvelope, owned by the emulator from now on). The
// caller wraps the payload before the lock is taken, so the copy is the sender's cost,
// not the dispatcher's.
func (em *Emulator) send(ep *emuEndpoint, to string, envelope []byte) error {
	if ep.closed.Load() {
		return ErrClosed
	}
	p := &packet{link: Link{ep.inner.Node(), to}, payload: envelope, via: ep.inner}
	now := time.Now()
	em.mu.Lock()
	if em.closed {
		em.mu.Unlock()
		return ErrClosed
	}
	em.sent.Add(1)
	d := em.s.send(now, p)
	first := !d.now && d.drop == NotDropped && em.s.pending[0] == p
	em.mu.Unlock()
	switch {
	case d.drop != NotDropped:
		em.drops[d.drop].Add(1)
		return nil
	case d.now:
		err := em.handoff(p)
		em.mu.Lock()
		em.s.done(p.link)
		em.mu.Unlock()
		return err
	case first:
		em.poke()
	}
	return nil
}

// handoff stamps p's due time into its envelope, gives it to the inner bus and records
// the dispatch error.
func (em *Emulator) handoff(p *packet) error {
	due := p.due
	if p.release.After(due) {
		due = p.release
	}
	late := time.Since(due)
	stampEnvelope(p.payload, em.clock.at(due))
	err := p.via.Send(p.link.To, p.payload)
	if err != nil {
		em.drops[DropClosed].Add(1)
		return err
	}
	em.delivered.Add(1)
	if late < 0 {
		em.early.Add(1)
		late = 0
	}
	em.dispErr.record(int64(late))
	return nil
}

// receive is the receiving side of every emulator endpoint: it opens the envelope,
// records the delay error (now minus the stamped due time) and returns the payload.
func (em *Emulator) receive(b []byte) []byte {
	due, payload, ok := openEnvelope(b)
	if !ok {
		em.unstamped.Add(1)
		return b
	}
	late := em.clock.now() - due
	em.received.Add(1)
	if late < 0 {
		em.negative.Add(1)
		late = 0
	}
	em.recvErr.record(late)
	return payload
}

// run is the dispatcher. In virtual mode it sleeps on a timer until the earliest due
// time, which synctest makes exact. In precise mode it sleeps on a timer until SpinWindow
// before the deadline (runtime timers are ~1 ms coarse and overshoot), then, on Linux,
// sleeps in ppoll with a nanosecond timeout until SpinTail before it, and spins the rest;
// elsewhere it spins the whole SpinWindow.
func (em *Emulator) run() {
	defer close(em.done)
	if em.sleeper != nil {
		em.sleeper.bind()
		defer em.sleeper.close()
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var out, dropped []*packet
	for {
		now := time.Now()
		em.mu.Lock()
		out, dropped = em.s.pop(now, out[:0], dropped[:0])
		next, ok := em.s.next()
		em.mu.Unlock()
		if len(dropped) > 0 {
			em.drops[DropPartition].Add(uint64(len(dropped)))
			clear(dropped)
		}
		if len(out) > 0 {
			for _, p := range out {
				em.handoff(p)
			}
			em.mu.Lock()
			for _, p := range out {
				em.s.done(p.link)
			}
			em.mu.Unlock()
			clear(out)
			continue
		}
		if !ok {
			select {
			case <-em.wake:
			case <-em.stop:
				return
			}
			continue
		}
		wait := next.Sub(now)
		if !em.opts.Virtual && wait <= em.opts.SpinWindow+timerFloor {
			select {
			case <-em.stop:
				return
			default:
			}
			if em.sleeper != nil && wait > em.opts.SpinTail {
				em.sleeper.arm()
				em.mu.Lock()
				next, _ = em.s.next() // a sender may have queued an earlier one before arm
				em.mu.Unlock()
				if w := time.Until(next) - em.opts.SpinTail; w > 0 {
					em.sleeper.sleep(w)
					continue
				}
				em.sleeper.sleep(0) // disarm
			}
			runtime.Gosched()
			continue
		}
		if !em.opts.Virtual {
			wait -= em.opts.SpinWindow
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-em.wake:
		case <-em.stop:
			return
		}
	}
}

type emuEndpoint struct {
	em     *Emulator
	inner  Endpoint
	closed atomic.Bool
}

func (e *emuEndpoint) Node() string { return e.inner.Node() }

// Send copies payload into an envelope (the one copy the emulator makes) and queues it.
func (e *emuEndpoint) Send(to string, payload []byte) error {
	return e.em.send(e, to, newEnvelope(payload))
}

// SetHandler installs h behind the emulator's receiving side, which strips the envelope
// and records the delay error just before h runs.
func (e *emuEndpoint) SetHandler(h Handler) {
	if h == nil {
		e.inner.SetHandler(nil)
		return
	}
	em := e.em
	e.inner.SetHandler(func(from string, b []byte) { h(from, em.receive(b)) })
}

// Close detaches the endpoint; its messages still in flight are dropped when due.
func (e *emuEndpoint) Close() error {
	e.closed.Store(true)
	return e.inner.Close()
}
