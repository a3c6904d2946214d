package groupreplication

import "time"

// XCom's event horizon and its proposers, on each member's own proposals.
//
// A member does not hand every message to consensus the moment it is sent. XCom runs
// PROPOSERS = 10 proposer tasks per member; each takes the first message of the member's
// input queue and, since payloads may be chained in one Paxos instance (AUTOBATCH), every
// message queued behind it (up to MAX_BATCH_APP_DATA = 5000), and holds that one instance
// until it is decided. And no proposer may use a message number at or beyond the last
// executed one plus the event horizon (too_far: executed_msg + event_horizon,
// EVENT_HORIZON_MIN = 10, settable up to 200 with group_replication_set_write_concurrency
// in 8.0). So a member has at most min(event horizon, 10) instances in flight; a message
// sent while all are in flight waits in the queue until one is decided and is then
// batched into the next instance with everything else that waited. With few clients
// nothing waits (each commit costs one round trip, as before); with more clients than
// instances, the ones that arrive while every instance is in flight pay up to one more
// round trip, which is what slows the published 5.7.17 figures at 16 to 64 clients.
//
// horizon is that queue, as a state machine the raft loop drives: Queue adds a message,
// Take returns the batch to propose now (or nothing), Delivered retires what the agreed
// log delivered. Raft has no instance of its own to hold (it appends everything
// proposed), so the batch is what raft is given in one go: its entries go out in one
// append message, as the chained payloads of one XCom instance do.
type horizon struct {
	limit    int               // instances in flight at most (0: no limit)
	queued   [][]byte          // messages waiting for an instance
	inflight map[int]*instance // by instance id
	waiting  map[string][]int  // message bytes -> instances holding a copy, oldest first
	nextID   int
	lostAt   time.Duration // an instance not decided in this long is taken as lost
}

// instance is one batch in flight: how many of its messages are not delivered yet, and
// when it was proposed.
type instance struct {
	left  int
	since time.Time
}

// Proposers is XCom's PROPOSERS: proposer tasks per member, each holding one instance
// until it is decided. With the event horizon it is what caps a member's instances in
// flight (InstancesInFlight); harness/law reads it from here so the bound and the driver
// cannot disagree.
const Proposers = 10

// MaxBatch is MAX_BATCH_APP_DATA: payloads chained in one instance at most (XCom caps the
// batch because decoding a chain is recursive). It bounds what one instance carries.
const MaxBatch = 5000

// InstancesInFlight is how many Paxos instances one member can have undecided at once
// with group_replication_write_concurrency (the event horizon) at eventHorizon: every
// proposer holds one, and none may go past the horizon, so min(eventHorizon, Proposers).
// Raising the horizon beyond 10 therefore changes nothing here: the proposers bind.
func InstancesInFlight(eventHorizon int) int { return min(eventHorizon, Proposers) }

// instanceLostAfter is how long an instance may stay undecided before the member stops
// counting it: its messages were lost (a proposal forwarded to a leader that failed, a
// dropped frame), and the group machine resends them (retransmit.go waits 1 s before it
// has a round-trip sample), which must not be held behind the lost instance itself.
const instanceLostAfter = time.Second

func newHorizon(eventHorizon int) *horizon {
	return &horizon{limit: InstancesInFlight(eventHorizon), inflight: map[int]*instance{},
		waiting: map[string][]int{}, lostAt: instanceLostAfter}
}

// Queue adds one message to the member's input queue.
func (h *horizon) Queue(data []byte) { h.queued = append(h.queued, data) }

// Take returns the batch a free proposer takes now: every queued message (up to
// MaxBatch) if fewer than limit instances are in flight, else nil. now ages the
// instances in flight.
func (h *horizon) Take(now time.Time) [][]byte {
	if len(h.queued) == 0 {
		return nil
	}
	for id, in := range h.inflight {
		if now.Sub(in.since) >= h.lostAt {
			h.drop(id)
		}
	}
	if h.limit > 0 && len(h.inflight) >= h.limit {
		return nil
	}
	n := min(len(h.queued), MaxBatch)
	batch := h.queued[:n:n]
	h.queued = h.queued[n:]
	if len(h.queued) == 0 {
		h.queued = nil
	}
	h.nextID++
	h.inflight[h.nextID] = &instance{left: n, since: now}
	for _, d := range batch {
		k := string(d)
		h.waiting[k] = append(h.waiting[k], h.nextID)
	}
	return batch
}

// Delivered retires one delivered message: the instance holding its oldest copy has one
// message fewer to wait for, and is decided when none is left.
func (h *horizon) Delivered(data []byte) {
	ids := h.waiting[string(data)]
	if len(ids) == 0 {
		return
	}
	k := string(data)
	for len(ids) > 0 {
		id := ids[0]
		ids = ids[1:]
		if in := h.inflight[id]; in != nil {
			if in.left--; in.left == 0 {
				delete(h.inflight, id)
			}
			break
		}
	}
	if len(ids) == 0 {
		delete(h.waiting, k)
	} else {
		h.waiting[k] = ids
	}
}

// Reset forgets every instance in flight: the raft leader changed, what the old one held
// is lost, and the group machine sends it all again (LeaderChanged).
func (h *horizon) Reset() {
	clear(h.inflight)
	clear(h.waiting)
}

// Waiting reports whether messages are queued and an instance is free to take them.
func (h *horizon) Waiting() bool {
	return len(h.queued) > 0 && (h.limit == 0 || len(h.inflight) < h.limit)
}

// InFlight returns the instances in flight.
func (h *horizon) InFlight() int { return len(h.inflight) }

// drop stops counting instance id (its waiting entries are skipped when delivered).
func (h *horizon) drop(id int) { delete(h.inflight, id) }
