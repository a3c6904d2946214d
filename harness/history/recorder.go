package history

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// Recorder collects the operations of many concurrent clients. Each client records through
// its own Client, which buffers its operations behind its own (uncontended) mutex, so
// recording costs a clock read and an append, and clients never wait on each other; the
// shared lock is taken only to register a client and to take the history.
type Recorder struct {
	now func() time.Duration

	mu      sync.Mutex
	clients map[int]*Client
}

// NewRecorder returns a recorder whose times are now(), the time since the start of the
// run. A nil now measures from this call with time.Since, which is virtual time inside a
// synctest bubble and the monotonic clock outside one.
func NewRecorder(now func() time.Duration) *Recorder {
	if now == nil {
		start := time.Now()
		now = func() time.Duration { return time.Since(start) }
	}
	return &Recorder{now: now, clients: map[int]*Client{}}
}

// Client returns the recorder of process p, creating it on first use. A process is one
// client session running one operation at a time; give each client goroutine its own
// process number.
func (r *Recorder) Client(p int) *Client {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.clients[p]
	if c == nil {
		c = &Client{r: r, process: p, open: -1}
		r.clients[p] = c
	}
	return c
}

// Client records the operations of one process. Its methods may be called from any
// goroutine, but a process has at most one operation in flight: Invoke, then one of OK,
// Fail or Info.
type Client struct {
	r       *Recorder
	process int

	mu   sync.Mutex
	ops  []Op
	open int // index into ops of the operation in flight, -1 if none
}

// Invoke records that the process sends mops to node now. The mops are copied; reads in
// them are unknown until OK supplies their results.
func (c *Client) Invoke(node string, mops []Mop) {
	t := int64(c.r.now())
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open >= 0 {
		panic(fmt.Sprintf("history: process %d invokes a new operation while op %v is in flight; complete it with OK, Fail or Info first", c.process, c.ops[c.open].Mops))
	}
	c.ops = append(c.ops, Op{Process: c.process, Node: node, Invoke: t, Complete: t, Mops: slices.Clone(mops)})
	c.open = len(c.ops) - 1
}

// Commit names the commit of an ok operation, where the database reported it.
type Commit struct {
	GTID  string
	Seqno int64
}

// OK records that the operation in flight happened. results are its micro-operations with
// read results filled in (nil keeps the invoked ones: a write-only transaction).
func (c *Client) OK(results []Mop, commit Commit) {
	c.complete(OK, results, commit, nil)
}

// Fail records that the operation in flight definitely did not happen: the server rolled it
// back and said so. err is what the client saw.
func (c *Client) Fail(err error) { c.complete(Fail, nil, Commit{}, err) }

// Info records that the client cannot tell whether the operation in flight happened: a
// timeout, a broken connection, a commit in flight when its node left the group.
func (c *Client) Info(err error) { c.complete(Info, nil, Commit{}, err) }

func (c *Client) complete(out Outcome, results []Mop, commit Commit, err error) {
	t := int64(c.r.now())
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open < 0 {
		panic(fmt.Sprintf("history: process %d completes an operation (%s) it never invoked", c.process, out))
	}
	o := &c.ops[c.open]
	c.open = -1
	o.Outcome, o.Complete = out, t
	if results != nil {
		if len(results) != len(o.Mops) {
			panic(fmt.Sprintf("history: process %d completes %d micro-operations, invoked %d", c.process, len(results), len(o.Mops)))
		}
		o.Mops = slices.Clone(results)
	}
	if out != OK {
		for i := range o.Mops {
			if o.Mops[i].F == Read { // what the client never saw is not a result
				o.Mops[i].Result, o.Mops[i].List, o.Mops[i].Value = Unknown, nil, 0
			}
		}
	}
	o.GTID, o.Seqno = commit.GTID, commit.Seqno
	if err != nil {
		o.Error = err.Error()
	}
}

// History returns every operation recorded so far, in invocation order (ties broken by
// process), with Index set. An operation still in flight is returned as info, completing
// now: whoever takes the history has stopped waiting for it. The recorder keeps recording;
// a later call returns a longer history.
func (r *Recorder) History() []Op {
	t := int64(r.now())
	r.mu.Lock()
	clients := make([]*Client, 0, len(r.clients))
	for _, c := range r.clients {
		clients = append(clients, c)
	}
	r.mu.Unlock()
	var h []Op
	for _, c := range clients {
		c.mu.Lock()
		start := len(h)
		h = append(h, c.ops...)
		if c.open >= 0 {
			o := &h[start+c.open]
			o.Outcome, o.Complete, o.Error = Info, max(t, o.Invoke), "still in flight when the history was taken"
			o.Mops = slices.Clone(o.Mops)
		}
		c.mu.Unlock()
	}
	Order(h)
	return h
}

// Order puts a history in the order every checker reads it: by invocation time, then
// process (stable, so one process's operations keep their order), and renumbers Index to
// match. Histories merged from several recorders (clients, node processes) go through it
// once, after the merge.
func Order(h []Op) {
	slices.SortStableFunc(h, func(a, b Op) int {
		if a.Invoke != b.Invoke {
			return cmpInt64(a.Invoke, b.Invoke)
		}
		return a.Process - b.Process
	})
	for i := range h {
		h[i].Index = i
	}
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
