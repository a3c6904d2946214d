package servicetime

import (
	"sync"
	"time"
)

// Host is a machine's CPU: Cores cores that serve stages first come, first served. Nodes
// placed on one host share its Host, so three nodes and their clients on a two-core box
// queue for the same two cores, as a local real cluster does. The schedule is computed on
// the model's clock: Reserve is pure arithmetic on each core's busy-until time, so how late
// a waiter wakes never shifts anyone else's slot. Safe for concurrent use.
type Host struct {
	mu   sync.Mutex
	free []time.Time // per core: when it is next idle
	busy time.Duration
}

// NewHost returns a host with cores cores; 0 or less is unlimited (a stage never queues).
func NewHost(cores int) *Host {
	return &Host{free: make([]time.Time, max(cores, 0))}
}

// Cores is the host's core count (0: unlimited).
func (h *Host) Cores() int { return len(h.free) }

// Reserve books d of one core for a stage that became ready at ready, on the core that is
// idle soonest, and returns when the stage ends. With no core limit it ends at ready+d.
func (h *Host) Reserve(ready time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return ready
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.busy += d
	if len(h.free) == 0 {
		return ready.Add(d)
	}
	best := 0
	for i, f := range h.free {
		if f.Before(h.free[best]) {
			best = i
		}
		if !f.After(ready) {
			best = i
			break
		}
	}
	start := ready
	if h.free[best].After(start) {
		start = h.free[best]
	}
	h.free[best] = start.Add(d)
	return h.free[best]
}

// Busy is the total service time booked so far: divided by elapsed time and cores it is the
// host's utilisation.
func (h *Host) Busy() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.busy
}

// Disk is a log device with group commit: an fsync takes Flush on the device, and every
// request that arrives while one is in flight joins the next one, which starts when the
// current one ends. That is how InnoDB's redo log (log_write_up_to) and the binlog's sync
// stage (sync_binlog=1) share fsyncs between concurrent commits: at c committers the device
// does far fewer than c fsyncs per commit round. Safe for concurrent use.
type Disk struct {
	Flush time.Duration

	mu       sync.Mutex
	curStart time.Time // start of the flush in progress (or the last one)
	cur      time.Time // its end
	next     time.Time // end of the queued flush; zero if none is queued
	flushes  int64
	syncs    int64
}

// NewDisk returns a device whose fsync takes flush.
func NewDisk(flush time.Duration) *Disk { return &Disk{Flush: flush} }

// Sync asks at now for everything written so far to be durable and returns when the flush
// that covers it ends.
func (d *Disk) Sync(now time.Time) time.Time {
	if d == nil || d.Flush <= 0 {
		return now
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.syncs++
	if !d.next.IsZero() && now.After(d.cur) {
		// The queued flush started when the previous one ended: it is the one in progress.
		d.curStart, d.cur, d.next = d.cur, d.next, time.Time{}
	}
	switch {
	case !d.cur.IsZero() && now.Equal(d.curStart):
		// A flush starting at this very instant takes this request too: simultaneous
		// committers share one fsync, as a group commit leader takes the whole queue.
		return d.cur
	case !d.next.IsZero() && now.Equal(d.cur):
		return d.next
	case !now.Before(d.cur):
		d.curStart, d.cur = now, now.Add(d.Flush)
		d.flushes++
		return d.cur
	}
	if d.next.IsZero() {
		d.next = d.cur.Add(d.Flush)
		d.flushes++
	}
	return d.next
}

// Counts returns how many fsyncs the device did and how many requests they served; their
// ratio is the mean group size.
func (d *Disk) Counts() (flushes, requests int64) {
	if d == nil {
		return 0, 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.flushes, d.syncs
}
