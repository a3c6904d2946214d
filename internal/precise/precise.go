// Package precise waits until a point in time with microsecond precision, for the models
// that charge service times of tens of microseconds (a statement, a certification, a
// message's send cost). Go's timers are only about a millisecond precise on Linux, which
// would turn a modelled 30 us stage into a 1 ms one; spinning until the deadline would be
// precise but burn a core per waiter on a two-core machine that also runs the nodes.
//
// A Timer has one dispatcher goroutine holding a heap of deadlines. It sleeps in ppoll(2)
// with a nanosecond timeout on a thread whose timer slack is cut to 1 ns (Linux; elsewhere
// Go timers), woken early through an eventfd when a sooner deadline arrives; because a VM's
// kernel wakes such a sleep some tens of microseconds late, it stops sleeping spinLead
// before the deadline and spins (yielding) through the rest, then releases every waiter
// whose deadline has passed. A waiter is released a few microseconds after its deadline,
// never before it (BenchmarkTimerLateness: p50 0 us, p99 under 30 us on the 2-core CI
// machine, against about 1 ms for a Go timer). The spin costs at most spinLead of one core
// per distinct deadline.
//
// Under testing/synctest use Virtual instead: it is time.Sleep, which the fake clock makes
// exact; the dispatcher's system calls would not be durably blocking there.
package precise

import (
	"container/heap"
	"context"
	"runtime"
	"sync"
	"time"
)

// Waiter blocks until a time. The service-time model takes one, so the same code runs in
// real time (Timer) and in virtual time (Virtual).
type Waiter interface {
	// WaitUntil returns nil at or after t, or ctx's error if it ends first.
	WaitUntil(ctx context.Context, t time.Time) error
}

// Virtual is a Waiter on Go's timers: exact under testing/synctest, about a millisecond
// late in real time.
type Virtual struct{}

// WaitUntil implements Waiter.
func (Virtual) WaitUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Timer is the precise real-time Waiter. The zero value is not usable: call NewTimer, and
// Close it when done.
type Timer struct {
	mu      sync.Mutex
	waits   waitHeap
	closed  bool
	wake    chan struct{}
	sleeper *sleeper
	done    chan struct{}
}

// NewTimer starts the dispatcher.
func NewTimer() *Timer {
	t := &Timer{wake: make(chan struct{}, 1), sleeper: newSleeper(), done: make(chan struct{})}
	go t.run()
	return t
}

// spinLead is how long before a deadline the dispatcher stops sleeping and spins: about
// the kernel's wake-up latency for a ppoll timeout on a virtual machine, measured by
// BenchmarkTimerLateness.
const spinLead = 40 * time.Microsecond

// at0 is the earliest deadline, or now when there is none.
func (t *Timer) at0() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.waits) == 0 || t.closed {
		return time.Time{}
	}
	return t.waits[0].at
}

type wait struct {
	at  time.Time
	ch  chan struct{}
	idx int
}

// WaitUntil implements Waiter.
func (t *Timer) WaitUntil(ctx context.Context, at time.Time) error {
	if !time.Now().Before(at) {
		return ctx.Err()
	}
	w := &wait{at: at, ch: make(chan struct{})}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return Virtual{}.WaitUntil(ctx, at)
	}
	heap.Push(&t.waits, w)
	first := t.waits[0] == w
	t.mu.Unlock()
	if first {
		t.poke()
	}
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		t.mu.Lock()
		if w.idx >= 0 {
			heap.Remove(&t.waits, w.idx)
		}
		t.mu.Unlock()
		return ctx.Err()
	}
}

// Close stops the dispatcher and releases every waiter at once.
func (t *Timer) Close() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	t.mu.Unlock()
	t.poke()
	<-t.done
	t.sleeper.close()
}

func (t *Timer) poke() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
	t.sleeper.poke()
}

func (t *Timer) run() {
	defer close(t.done)
	for {
		t.mu.Lock()
		now := time.Now()
		for len(t.waits) > 0 && !now.Before(t.waits[0].at) {
			w := heap.Pop(&t.waits).(*wait)
			close(w.ch)
		}
		if t.closed {
			for len(t.waits) > 0 {
				close(heap.Pop(&t.waits).(*wait).ch)
			}
			t.mu.Unlock()
			return
		}
		var next time.Duration = -1
		if len(t.waits) > 0 {
			next = t.waits[0].at.Sub(now)
		}
		t.sleeper.arm()
		t.mu.Unlock()
		switch {
		case next < 0:
			<-t.wake
		case next > 2*time.Millisecond:
			// Far deadlines on a Go timer (cheap, no thread held), then the last stretch in
			// the precise sleep.
			tm := time.NewTimer(next - time.Millisecond)
			select {
			case <-tm.C:
			case <-t.wake:
			}
			tm.Stop()
		case next > spinLead:
			select {
			case <-t.wake:
				continue
			default:
			}
			t.sleeper.sleep(next - spinLead)
		default:
			// The last stretch: the kernel wakes a ppoll tens of microseconds late on a
			// VM, so the dispatcher spins (yielding) through it instead.
			for time.Now().Before(t.at0()) {
				select {
				case <-t.wake:
				default:
				}
				runtime.Gosched()
			}
		}
	}
}

type waitHeap []*wait

func (h waitHeap) Len() int           { return len(h) }
func (h waitHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h waitHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *waitHeap) Push(x any) {
	w := x.(*wait)
	w.idx = len(*h)
	*h = append(*h, w)
}
func (h *waitHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	w.idx = -1
	return w
}
