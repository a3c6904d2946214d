package law

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/replbench/replbench/semisync"
)

// semisync: one source (the first member) waits, per binlog group, for acks from
// wait_for_slave_count replicas after their relay-log write: the RTT to the k-th fastest
// replica. Group commit lets all threads share that wait (T/floor); the serialised mode of
// 5.5/5.6 lets the whole source commit once per floor whatever the thread count.
func (m model) semisyncModel() (*Explanation, error) {
	src := m.in.Members[0]
	if err := m.onlySource(src); err != nil {
		return nil, err
	}
	st := m.semisyncAt(src)
	k, name := int64(st.WaitCount), semisync.ParamWaitCount
	var rtts []time.Duration
	var names []string
	for _, n := range m.in.Members[1:] {
		rtts = append(rtts, m.rtt(src, n))
		names = append(names, n)
	}
	if k < 1 || int(k) > len(rtts) {
		return nil, fmt.Errorf("%s=%d but the source %s has %d replicas: give 1..%d (with more, every commit would wait for the timeout and fall back to async)", name, k, src, len(rtts), len(rtts))
	}
	idx := make([]int, len(rtts))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return rtts[idx[a]] < rtts[idx[b]] })
	kth := idx[k-1]
	floor := rtts[kth] + m.in.SyncCost
	why := fmt.Sprintf("model: the semi-sync source %s waits for %s=%d replica ack(s) after the relay-log write, so for its %s replica %s: RTT %s%s.", src, name, k, nearest(int(k)), names[kth], fmtD(rtts[kth]), m.syncNote())
	floors := map[string]time.Duration{src: floor}
	if st.Serialized {
		e := m.finish(floors, why, 0, "")
		e.Bound.MaxTPS = 1 / floor.Seconds()
		e.Bound.Limit = "serialised"
		e.Throughput = fmt.Sprintf("model: semisync.serialized holds the binlog lock across the ack wait, so the whole source commits at most once per %s = %s tps whatever the %d threads.", fmtD(floor), FormatTPS(e.Bound.MaxTPS), m.in.Threads)
		if m.in.HotRows > 0 && float64(m.in.HotRows)*e.Bound.HotRowMaxTPS < e.Bound.MaxTPS {
			e.Bound.MaxTPS = float64(m.in.HotRows) * e.Bound.HotRowMaxTPS
			e.Bound.Limit = "hot_row"
		}
		return e, nil
	}
	e := m.finish(floors, why, 0, "")
	if e.Bound.Limit == "latency" {
		e.Throughput = strings.TrimSuffix(e.Throughput, ".") + " (group commit: the threads' commits share one ack wait per binlog group)."
	}
	return e, nil
}

func (m model) onlySource(src string) error {
	var bad []string
	for _, w := range m.writers {
		if w != src {
			bad = append(bad, w)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s has one writable source, %s; %s would be refused as read-only replicas (write on %s)", m.proto, src, strings.Join(bad, ","), src)
	}
	return nil
}

// local: async and standalone commit without waiting for any other node, so the network
// sets no floor; only the local durable commit does.
func (m model) local() (*Explanation, error) {
	src := m.in.Members[0]
	if err := m.onlySource(src); err != nil {
		return nil, err
	}
	var why string
	if m.proto == "async" {
		why = "model: async replication commits without waiting for any replica, so the network sets no floor"
	} else {
		why = "model: a standalone node replicates nothing, so the network sets no floor"
	}
	if m.in.SyncCost > 0 {
		why += "; the floor is the local sync " + fmtD(m.in.SyncCost) + "."
	} else {
		why += "; the floor is the local commit cost, 0 in the model without a sync cost (--sync)."
	}
	return m.finish(map[string]time.Duration{src: m.in.SyncCost}, why, 0, ""), nil
}
