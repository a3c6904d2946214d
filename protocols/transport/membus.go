package transport

import (
	"errors"
	"fmt"
	"sync"
)

// ErrClosed is returned by Send and Attach once the endpoint or the bus has been closed.
// A protocol that sees it is shutting down and should stop sending rather than retry.
var ErrClosed = errors.New("transport: bus or endpoint closed")

// NewMemBus returns an in-memory bus for tests and single-process runs.
//
// Each node has an unbounded inbox and one delivery goroutine that calls the handler
// sequentially, so a slow handler never blocks a sender (unlike a full TCP window) and
// messages are never dropped while both ends are attached. Send appends to the
// destination's inbox under a lock, so per-link FIFO holds for any number of senders.
// All blocking is on sync.Cond, which makes the bus usable inside a testing/synctest
// bubble (create it inside the bubble). Messages sent to a node that has not attached yet
// wait in its inbox; messages to a node whose endpoint is closed are dropped, as a crashed
// peer would drop them. Close stops every delivery goroutine and waits for them, so it
// must not be called from a handler.
func NewMemBus() Bus {
	return &memBus{boxes: make(map[string]*memBox)}
}

type memBus struct {
	mu     sync.Mutex
	boxes  map[string]*memBox
	closed bool
	wg     sync.WaitGroup
}

type memMsg struct {
	from    string
	payload []byte
}

// memBox is one node's inbox. It exists from the first Attach or Send naming the node.
type memBox struct {
	mu       sync.Mutex
	cond     sync.Cond
	queue    []memMsg
	head     int
	handler  Handler
	attached bool
	closed   bool
}

func (b *memBus) box(node string) *memBox {
	mb := b.boxes[node]
	if mb == nil {
		mb = &memBox{}
		mb.cond.L = &mb.mu
		b.boxes[node] = mb
	}
	return mb
}

func (b *memBus) Attach(node string) (Endpoint, error) {
	if node == "" {
		return nil, errors.New("transport: empty node name: give every node a name such as n1")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	mb := b.box(node)
	mb.mu.Lock()
	if mb.closed { // a restarted node: a fresh, empty inbox
		mb.mu.Unlock()
		delete(b.boxes, node)
		mb = b.box(node)
		mb.mu.Lock()
	}
	if mb.attached {
		mb.mu.Unlock()
		return nil, fmt.Errorf("transport: node %s is already attached (each node attaches once; close its endpoint to restart it)", node)
	}
	mb.attached = true
	mb.mu.Unlock()
	b.wg.Add(1)
	go b.deliver(mb)
	return &memEndpoint{bus: b, node: node, box: mb}, nil
}

// deliver is the node's delivery goroutine: it hands queued messages to the handler one at
// a time, in arrival order, and exits when the box is closed.
func (b *memBus) deliver(mb *memBox) {
	defer b.wg.Done()
	mb.mu.Lock()
	for {
		for !mb.closed && (mb.handler == nil || mb.head == len(mb.queue)) {
			mb.cond.Wait()
		}
		if mb.closed {
			mb.queue, mb.head = nil, 0
			mb.mu.Unlock()
			return
		}
		m := mb.queue[mb.head]
		mb.queue[mb.head] = memMsg{}
		mb.head++
		if mb.head == len(mb.queue) {
			mb.queue, mb.head = mb.queue[:0], 0
		} else if mb.head > 1024 && mb.head*2 > len(mb.queue) {
			n := copy(mb.queue, mb.queue[mb.head:])
			mb.queue, mb.head = mb.queue[:n], 0
		}
		h := mb.handler
		mb.mu.Unlock()
		h(m.from, m.payload)
		mb.mu.Lock()
	}
}

func (b *memBus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for _, mb := range b.boxes {
		mb.close()
	}
	b.mu.Unlock()
	b.wg.Wait()
	return nil
}

func (mb *memBox) close() {
	mb.mu.Lock()
	mb.closed = true
	mb.queue, mb.head = nil, 0
	mb.cond.Broadcast()
	mb.mu.Unlock()
}

type memEndpoint struct {
	bus  *memBus
	node string
	box  *memBox
}

func (e *memEndpoint) Node() string { return e.node }

func (e *memEndpoint) Send(to string, payload []byte) error {
	e.box.mu.Lock()
	closed := e.box.closed
	e.box.mu.Unlock()
	if closed {
		return ErrClosed
	}
	b := e.bus
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	mb := b.box(to)
	// Lock the destination before releasing the bus lock, so two sends from one goroutine
	// can never be reordered by a concurrent Close/Attach.
	mb.mu.Lock()
	b.mu.Unlock()
	if !mb.closed {
		mb.queue = append(mb.queue, memMsg{from: e.node, payload: payload})
		mb.cond.Signal()
	}
	mb.mu.Unlock()
	return nil
}

func (e *memEndpoint) SetHandler(h Handler) {
	e.box.mu.Lock()
	e.box.handler = h
	e.box.cond.Signal()
	e.box.mu.Unlock()
}

// Close detaches the endpoint: queued messages are dropped, and the delivery goroutine
// exits after the handler call in progress (if any) returns. It does not wait for that, so
// a handler may close its own endpoint.
func (e *memEndpoint) Close() error {
	e.box.close()
	return nil
}
