// Package driver is the kit every protocol provider's driver is built from: an inbox that
// feeds a provider's single event loop, an unbounded FIFO for the appliers, and the error a
// client sees when its context ends. The protocol logic itself lives in pure state machines
// (galera's replicator, groupreplication's group, semisync's source and replica) that take
// inputs and return outputs; the driver is where goroutines, timers, locks and the bus are,
// and nowhere below it.
//
// Why one kit: the three providers used to carry their own copy of each of these, with small
// differences (one woke its loop for every event, one batched; one closed its FIFO by flag,
// one by context). A provider now owns a single loop goroutine that drains an Inbox in
// batches, which is what keeps the machines free of locks: every input reaches the machine
// through that one goroutine, in the order it was posted.
package driver

import (
	"context"
	"errors"
	"sync"

	"github.com/replbench/replbench/protocols"
)

// Inbox is a multi-producer, single-consumer queue of events for a provider's loop. Posting
// never blocks (the bus's delivery goroutine must not wait for the loop, or a slow loop
// would stall every link); the loop waits on Wake and takes everything posted so far with
// Drain. The zero value is not usable: call NewInbox.
type Inbox[T any] struct {
	mu    sync.Mutex
	items []T
	spare []T
	wake  chan struct{}
}

// NewInbox returns an empty inbox.
func NewInbox[T any]() *Inbox[T] { return &Inbox[T]{wake: make(chan struct{}, 1)} }

// Post appends e and wakes the loop if it is waiting.
func (b *Inbox[T]) Post(e T) {
	b.mu.Lock()
	b.items = append(b.items, e)
	b.mu.Unlock()
	Signal(b.wake)
}

// Wake is readable after a Post that the loop has not yet drained. A wake-up may be spurious
// (Drain then returns nothing); a Post is never missed, because the signal is buffered.
func (b *Inbox[T]) Wake() <-chan struct{} { return b.wake }

// Drain returns every event posted since the last Drain, in posting order. The returned
// slice is the loop's until its next Drain, which reuses its storage (so a steady loop
// allocates nothing); the loop must not keep references into it.
func (b *Inbox[T]) Drain() []T {
	b.mu.Lock()
	out := b.items
	var zero T
	for i := range b.spare {
		b.spare[i] = zero // drop references the previous batch held
	}
	b.items = b.spare[:0]
	b.spare = out
	b.mu.Unlock()
	return out
}

// Len is the number of events waiting.
func (b *Inbox[T]) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.items)
}

// Signal does a non-blocking send on a wake-up channel of capacity 1: the receiver learns
// that something changed, however many times it did.
func Signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Queue is an unbounded FIFO between the loop (which must never block on a slow applier:
// flow control, not back-pressure on the loop, is how a protocol slows its writers) and
// the applier goroutines. Pop blocks until an item arrives, the queue is closed, or the
// context ends. The zero value is not usable: call NewQueue.
type Queue[T any] struct {
	mu     sync.Mutex
	cond   *sync.Cond
	items  []T
	head   int
	closed bool
}

// NewQueue returns an empty, open queue.
func NewQueue[T any]() *Queue[T] {
	q := &Queue[T]{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Push appends v. It reports false, dropping v, once the queue is closed.
func (q *Queue[T]) Push(v T) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.items = append(q.items, v)
	q.cond.Signal()
	return true
}

// Pop removes and returns the oldest item; ok is false when the queue was closed (items
// still queued at Close are dropped: Close means the node is going away) or ctx ended.
func (q *Queue[T]) Pop(ctx context.Context) (v T, ok bool) {
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() {
			q.mu.Lock()
			q.cond.Broadcast()
			q.mu.Unlock()
		})
		defer stop()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.head == len(q.items) && !q.closed && ctx.Err() == nil {
		q.cond.Wait()
	}
	if q.closed || ctx.Err() != nil {
		return v, false
	}
	var zero T
	v = q.items[q.head]
	q.items[q.head] = zero
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return v, true
}

// Len is the number of queued items.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

// Close wakes every Pop, which then returns ok=false, and refuses later Pushes.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// CtxErr is what a client whose context ended sees: the *protocols.Error storage gave as the
// cancellation cause (a brute-force abort, 1213), or 1317 (query interrupted) for the
// client's own deadline or cancellation.
func CtxErr(ctx context.Context) error {
	var pe *protocols.Error
	if errors.As(context.Cause(ctx), &pe) {
		return pe
	}
	return protocols.ErrInterrupted()
}

// IsBFAbort reports whether ctx was cancelled by storage for a brute-force abort: the
// transaction lost its locks to a replicated write-set ordered before it.
func IsBFAbort(ctx context.Context) bool {
	return protocols.Classify(context.Cause(ctx)) == protocols.CauseBFAbort
}
