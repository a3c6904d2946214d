// Package monitor orders work by position in a total order: Galera's local, apply and commit
// monitors, and the in-order commit that Group Replication (replica_preserve_commit_order) and
// a semi-sync replica's parallel applier need.
//
// A Monitor tracks which positions have left. LastLeft is the highest position below which
// every position has left, so work may leave out of order (parallel appliers) while waiters
// see a contiguous prefix. Enter(s) waits for LastLeft >= s-1: strict order, the commit
// monitor. WaitFor(d) waits for LastLeft >= d: the apply monitor, where d is depends_seqno
// and independent write-sets proceed in parallel. Cancel fills a slot that will never do
// work (a write-set that failed certification), without waiting for its turn, so the
// loser of a conflict never holds up, or waits on, the winner.
package monitor

import (
	"context"
	"sync"
)

// Monitor is safe for concurrent use.
type Monitor struct {
	mu       sync.Mutex
	lastLeft int64
	done     map[int64]struct{} // positions above lastLeft that have left
	waiters  []waiter           // unsorted; few at a time
}

type waiter struct {
	upto int64
	ch   chan struct{}
}

// New returns a monitor whose positions up to start have all left.
func New(start int64) *Monitor {
	return &Monitor{lastLeft: start, done: map[int64]struct{}{}}
}

// LastLeft returns the highest position up to which every position has left.
func (m *Monitor) LastLeft() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastLeft
}

// Enter blocks until every position before seqno has left.
func (m *Monitor) Enter(ctx context.Context, seqno int64) error {
	return m.WaitFor(ctx, seqno-1)
}

// WaitFor blocks until every position up to and including upto has left, or ctx ends.
func (m *Monitor) WaitFor(ctx context.Context, upto int64) error {
	m.mu.Lock()
	if m.lastLeft >= upto {
		m.mu.Unlock()
		return nil
	}
	w := waiter{upto: upto, ch: make(chan struct{})}
	m.waiters = append(m.waiters, w)
	m.mu.Unlock()
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		m.mu.Lock()
		for i, x := range m.waiters {
			if x.ch == w.ch {
				m.waiters = append(m.waiters[:i], m.waiters[i+1:]...)
				break
			}
		}
		m.mu.Unlock()
		return ctx.Err()
	}
}

// Leave marks seqno as done. Leaving a position twice, or one at or below LastLeft, is a no-op.
func (m *Monitor) Leave(seqno int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if seqno <= m.lastLeft {
		return
	}
	m.done[seqno] = struct{}{}
	advanced := false
	for {
		if _, ok := m.done[m.lastLeft+1]; !ok {
			break
		}
		delete(m.done, m.lastLeft+1)
		m.lastLeft++
		advanced = true
	}
	if !advanced {
		return
	}
	kept := m.waiters[:0]
	for _, w := range m.waiters {
		if w.upto <= m.lastLeft {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	m.waiters = kept
}

// Cancel fills seqno's slot without doing work. It is Leave under the name the caller means.
func (m *Monitor) Cancel(seqno int64) { m.Leave(seqno) }

// Reset moves the monitor to a new start (after a state transfer), releasing every waiter
// at or below it and forgetting positions that left above it.
func (m *Monitor) Reset(start int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastLeft = start
	for s := range m.done {
		if s <= start {
			delete(m.done, s)
		}
	}
	kept := m.waiters[:0]
	for _, w := range m.waiters {
		if w.upto <= start {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	m.waiters = kept
}
