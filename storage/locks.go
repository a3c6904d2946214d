package storage

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/replbench/replbench/protocols"
)

// ownerState is where a lock owner is in its life, as the brute-force rules need to know
// it: an applier decides whether to wait for, abort, or force the replay of a holder from
// its state and its position in the total order.
type ownerState uint8

const (
	stExecuting   ownerState = iota // running statements; a BF applier aborts it at once
	stReplicating                   // inside Replicate, not ordered yet; a BF applier cancels it
	stOrdered                       // has a seqno, waiting to commit in order
	stCommitting                    // inside engineCommit (or an applier's Commit)
	stDone                          // committed or rolled back; holds nothing
)

// owner is a lock owner: a local transaction or a brute-force applier (a remote write-set,
// or a local transaction that is replaying its write-set after a BF abort).
type owner struct {
	bf    bool  // brute-force: an applier or a replaying local transaction
	seqno int64 // position in the total order once known (BF priority)

	// Guarded by lockManager.mu.
	state      ownerState
	held       []*lockEntry
	waitingOn  *lockEntry
	mustReplay bool                    // released its locks while ordered; re-acquire in engineCommit
	cancel     context.CancelCauseFunc // cancels Replicate while stReplicating
	bfCanceled bool                    // cancel was called by an applier

	aborted  atomic.Bool // BF-aborted while executing: every later statement fails
	abortErr error       // set before aborted is stored
	wake     chan struct{}
}

func (o *owner) init(bf bool, seqno int64) {
	o.bf, o.seqno = bf, seqno
	o.state = stExecuting
	if o.wake == nil {
		o.wake = make(chan struct{}, 1)
	}
}

// lockEntry is one exclusive lock: a row's primary key or a unique-index value. Waiters
// queue brute-force owners first, in seqno order, then local transactions first come
// first served; release hands the lock to the head of the queue.
type lockEntry struct {
	key     string
	holder  *owner
	waiters []*owner
}

// lockManager is the engine's lock table. One mutex guards the table, the queues and the
// owners' states: the BF rules read a holder's state and act on it in one step, and the
// wait-for walk of deadlock detection sees a consistent graph. The critical sections are a
// map lookup and a few pointer writes, so the uncontended cost is small next to a Pebble
// batch commit.
type lockManager struct {
	mu    sync.Mutex
	locks map[string]*lockEntry
	stats *statCounters
}

type statCounters struct {
	commits, rollbacks, lockWaits, deadlocks, lockWaitTimeouts, bfAborts, replays, applied atomic.Uint64
}

func (lm *lockManager) init(st *statCounters) {
	lm.locks = make(map[string]*lockEntry, 1024)
	lm.stats = st
}

// acquire takes the exclusive lock key for o, waiting if it must. A local owner waits at
// most timeout (1205) and fails at once with 1213 when its wait would close a cycle in the
// wait-for graph; a BF owner applies the brute-force rules to the holder and never times
// out (only ctx ends its wait).
func (lm *lockManager) acquire(ctx context.Context, o *owner, key string, timeout time.Duration) error {
	lm.mu.Lock()
	if o.aborted.Load() {
		lm.mu.Unlock()
		return o.abortErr
	}
	l := lm.locks[key]
	if l == nil {
		l = &lockEntry{key: key, holder: o}
		lm.locks[key] = l
		o.held = append(o.held, l)
		lm.mu.Unlock()
		return nil
	}
	if l.holder == o {
		lm.mu.Unlock()
		return nil
	}
	if !o.bf && lm.closesCycle(o, l) {
		lm.mu.Unlock()
		lm.stats.deadlocks.Add(1)
		return protocols.ErrDeadlock()
	}
	lm.enqueue(l, o)
	if o.bf {
		lm.resolveBF(l)
		if l.holder == o {
			lm.mu.Unlock()
			return nil
		}
	}
	lm.mu.Unlock()
	lm.stats.lockWaits.Add(1)
	return lm.wait(ctx, o, l, timeout)
}

func (lm *lockManager) wait(ctx context.Context, o *owner, l *lockEntry, timeout time.Duration) error {
	var timer <-chan time.Time
	if !o.bf && timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	for {
		timedOut := false
		var ctxErr error
		select {
		case <-o.wake:
		case <-timer:
			timedOut = true
		case <-ctx.Done():
			ctxErr = ctx.Err()
		}
		lm.mu.Lock()
		if l.holder == o {
			lm.mu.Unlock()
			return nil
		}
		if o.aborted.Load() {
			lm.dequeue(l, o)
			lm.mu.Unlock()
			return o.abortErr
		}
		if timedOut {
			lm.dequeue(l, o)
			lm.mu.Unlock()
			lm.stats.lockWaitTimeouts.Add(1)
			return protocols.ErrLockWaitTimeout()
		}
		if ctxErr != nil {
			lm.dequeue(l, o)
			lm.mu.Unlock()
			if o.bf {
				return ctxErr
			}
			return protocols.ErrInterrupted()
		}
		lm.mu.Unlock()
	}
}

// closesCycle reports whether o waiting for l would close a cycle. With exclusive locks
// each owner waits for at most one lock and each lock has one holder, so the wait-for
// graph from l is a chain.
func (lm *lockManager) closesCycle(o *owner, l *lockEntry) bool {
	for cur, n := l.holder, 0; cur != nil && n < 1<<16; n++ {
		if cur == o {
			return true
		}
		if cur.waitingOn == nil {
			return false
		}
		cur = cur.waitingOn.holder
	}
	return false
}

func (lm *lockManager) enqueue(l *lockEntry, o *owner) {
	o.waitingOn = l
	i := len(l.waiters)
	if o.bf {
		for i = 0; i < len(l.waiters); i++ {
			if w := l.waiters[i]; !w.bf || w.seqno > o.seqno {
				break
			}
		}
	}
	l.waiters = append(l.waiters, nil)
	copy(l.waiters[i+1:], l.waiters[i:])
	l.waiters[i] = o
}

func (lm *lockManager) dequeue(l *lockEntry, o *owner) {
	for i, w := range l.waiters {
		if w == o {
			l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
			break
		}
	}
	if o.waitingOn == l {
		o.waitingOn = nil
	}
}

func signal(o *owner) {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// handoff passes l from its holder to the head of its queue, or drops it.
func (lm *lockManager) handoff(l *lockEntry) {
	if len(l.waiters) == 0 {
		l.holder = nil
		delete(lm.locks, l.key)
		return
	}
	next := l.waiters[0]
	l.waiters = l.waiters[1:]
	l.holder = next
	next.held = append(next.held, l)
	next.waitingOn = nil
	signal(next)
	// A new local holder may have BF waiters queued behind it only if they arrived while
	// it waited (they queue ahead of locals otherwise); let them apply their rules.
	if !next.bf && len(l.waiters) > 0 && l.waiters[0].bf {
		lm.resolveBF(l)
	}
}

// releaseAll releases every lock o holds.
func (lm *lockManager) releaseAll(o *owner) {
	held := o.held
	o.held = nil
	for _, l := range held {
		if l.holder == o {
			lm.handoff(l)
		}
	}
	if o.waitingOn != nil {
		lm.dequeue(o.waitingOn, o)
	}
	clear(held)
	o.held = held[:0]
}

// release ends o: its locks go to their waiters.
func (lm *lockManager) release(o *owner) {
	lm.mu.Lock()
	o.state = stDone
	lm.releaseAll(o)
	lm.mu.Unlock()
}

// resolveBF applies Galera's brute-force rules (galera.md 1.5) between l's holder and the
// best BF waiter queued on l (the lowest seqno):
//   - an applier holder, or a local one ordered before the waiter or already committing,
//     is waited for;
//   - an executing local holder is aborted now: its locks are released and its client gets
//     1213 (CauseBFAbort) from its current lock wait, next statement or COMMIT;
//   - a replicating holder has its Replicate context cancelled; the waiter waits for the
//     provider's verdict (see ordered);
//   - a holder ordered after the waiter would wait for it in commit order while the waiter
//     waits for its lock: it must replay, so it releases its locks now and re-acquires them
//     as a BF applier with its own seqno when its turn to commit comes.
func (lm *lockManager) resolveBF(l *lockEntry) {
	if len(l.waiters) == 0 || !l.waiters[0].bf {
		return
	}
	h, s := l.holder, l.waiters[0].seqno
	if h == nil || h.bf {
		return
	}
	switch h.state {
	case stExecuting:
		lm.bfAbort(h)
	case stReplicating:
		if h.cancel != nil && !h.bfCanceled {
			h.bfCanceled = true
			h.cancel(protocols.ErrBFAbort())
		}
	case stOrdered:
		if h.seqno > s && !h.mustReplay {
			h.mustReplay = true
			lm.releaseAll(h)
		}
	}
}

// bfAbort aborts an executing local transaction on behalf of an applier.
func (lm *lockManager) bfAbort(h *owner) {
	h.abortErr = protocols.ErrBFAbort()
	h.aborted.Store(true)
	lm.stats.bfAborts.Add(1)
	w := h.waitingOn
	lm.releaseAll(h)
	if w != nil {
		signal(h)
	}
}

// failWaiters ends every lock wait with err: the engine's node went down, and a server that
// dies drops every connection, the sessions blocked in a row-lock wait among them. Without
// it a client queued behind a transaction of the dead node would wait out its lock wait
// timeout (or its phase) for a holder that can never finish. Holders keep their entries: the
// closed engine refuses their next statement anyway, and nothing acquires on it again.
func (lm *lockManager) failWaiters(err error) {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	for _, l := range lm.locks {
		for _, w := range l.waiters {
			if w.aborted.Load() {
				continue
			}
			w.abortErr = err
			w.aborted.Store(true)
			signal(w)
		}
	}
}

// replicating marks o as handed to the provider. It fails if o was already BF-aborted.
func (lm *lockManager) replicating(o *owner, cancel context.CancelCauseFunc) error {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	if o.aborted.Load() {
		return o.abortErr
	}
	o.state = stReplicating
	o.cancel = cancel
	return nil
}

// ordered records o's position once the provider has ordered it, and applies the replay
// rule to BF waiters with an earlier seqno that queued while o was replicating.
func (lm *lockManager) ordered(o *owner, seqno int64) {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	o.state, o.seqno, o.cancel = stOrdered, seqno, nil
	for _, l := range o.held {
		if len(l.waiters) > 0 && l.waiters[0].bf && l.waiters[0].seqno < seqno {
			o.mustReplay = true
			lm.releaseAll(o)
			return
		}
	}
}

// committing moves o into its engine commit and reports whether it must replay; a
// replaying owner becomes a BF applier with its own seqno.
func (lm *lockManager) committing(o *owner) (replay bool) {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	o.state = stCommitting
	if o.mustReplay {
		o.bf = true
	}
	return o.mustReplay
}
