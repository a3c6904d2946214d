// Package transport moves protocol messages between nodes, and emulates the network they
// cross.
//
// A Bus connects named nodes; each node gets an Endpoint. Two buses implement it: NATS
// (embedded in-process by default, or an external NATS cluster when nodes run on several
// machines) and an in-memory bus for tests. The network emulator wraps either bus and
// decides when each message is delivered: per-node egress delay, per-link one-way delay,
// jitter, loss and partitions, FIFO per link, seeded so a run repeats.
//
// The only ordering any bus promises is FIFO per (sender, receiver) link, as TCP does. Any
// total order is the protocol's own business.
//
// The emulator reports how faithful each run's network was as a delay error taken where
// a message reaches the receiving node's handler, so it covers the inner bus and the
// receive queue too; the due time travels in a small envelope the receiving endpoint
// strips. Between machines over an external NATS that figure includes the offset between
// the machines' clocks.
package transport

// Handler receives one message. For one endpoint, calls are sequential, in arrival order,
// on a goroutine the bus owns; the handler owns payload. A handler that blocks stalls its
// node's receive path the way a full TCP receive buffer would, so protocols hand messages
// to their own loops rather than doing work here.
type Handler func(from string, payload []byte)

// Endpoint is one node's connection to the bus.
type Endpoint interface {
	// Node is this endpoint's node name.
	Node() string
	// Send queues payload for delivery to node to and returns without waiting for the
	// network. Send takes ownership of payload. Messages to one destination are delivered
	// in the order they were sent, or not at all (loss, partition, closed bus).
	Send(to string, payload []byte) error
	// SetHandler installs the receive handler. Messages that arrive before a handler is set
	// are held until it is.
	SetHandler(h Handler)
	// Close detaches the endpoint.
	Close() error
}

// Bus connects named nodes.
type Bus interface {
	// Attach creates the endpoint of node. Each node attaches once.
	Attach(node string) (Endpoint, error)
	// Close detaches every endpoint and releases the bus.
	Close() error
}

// Broadcast sends payload to every member other than the sender. Each destination gets its
// own copy, since Send takes ownership; through an emulator endpoint that copy is the
// envelope itself, so a broadcast costs one copy per destination, not two.
func Broadcast(ep Endpoint, members []string, payload []byte) error {
	var first error
	emu, _ := ep.(*emuEndpoint)
	for _, m := range members {
		if m == ep.Node() {
			continue
		}
		var err error
		if emu != nil {
			err = emu.em.send(emu, m, newEnvelope(payload))
		} else {
			b := make([]byte, len(payload))
			copy(b, payload)
			err = ep.Send(m, b)
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}
