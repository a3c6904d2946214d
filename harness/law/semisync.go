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
// replica, plus the source's own commit path under its cost profile (the statement, the
// prepare's redo fsync, the binlog write and, with sync_binlog=1, its fsync: all before
// the events leave), which is the floor one client pays, exactly
// (synctest_semisync_test.go). With more threads the pipeline decides how the waits are
// grouped (pipelineNote): each flavour's AFTER_SYNC wait holds a lock, so the waits of
// successive groups do not overlap and about two groups complete per floor, which with
// the threads split between them is still one commit per thread per floor at best: the
// bound stays T/floor, capped by the CPU budget. The serialised mode of 5.5/5.6 lets the
// whole source commit once per floor whatever the thread count.
func (m model) semisyncModel() (*Explanation, error) {
	src := m.in.Members[0]
	if err := m.onlySource(src); err != nil {
		return nil, err
	}
	st := m.semisyncAt(src)
	k, name := int64(st.WaitCount), semisync.ParamWaitCount
	var rtts []time.Duration // each replica's round trip and its relay-log write and ack
	var names []string
	for _, n := range m.in.Members[1:] {
		ack, _ := m.replicaAck(n)
		rtts = append(rtts, m.rtt(src, n)+ack)
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
	floor := rtts[kth] + m.localFloor(src)
	acks := fmt.Sprintf("%s=%d replica ack(s)", name, k)
	if st.Pipeline == semisync.PipelineMariaDB {
		acks = "one replica ack (MariaDB has no " + name + ")"
	}
	rttWhy := "RTT " + fmtD(rtts[kth])
	if ack, prof := m.replicaAck(names[kth]); ack > 0 {
		rttWhy = fmt.Sprintf("RTT %s + its relay-log write and ack %s (cost profile %s)", fmtD(rtts[kth]-ack), fmtD(ack), prof)
	}
	why := fmt.Sprintf("model: the semi-sync source %s waits for %s after the relay-log write, so for its %s replica %s: %s%s; floor %s.", src, acks, nearest(int(k)), names[kth], rttWhy, m.localNote(src), fmtD(floor))
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
	if e.Bound.Limit == "latency" || e.Bound.Limit == "cpu" {
		e.Throughput = strings.TrimSuffix(e.Throughput, ".") + ". " + m.pipelineNote(st, floor)
	}
	return e, nil
}

// pipelineNote is the derivation of what the source's group commit does with several
// threads, stated as each flavour's source does it (real-servers.md 2 and 3; checked in
// virtual time by semisync TestAfterSyncLockPerFlavour, TestGroupFsyncPerRoundTrip and
// TestPipelineWithThinkTime).
func (m model) pipelineNote(st *semisync.Settings, floor time.Duration) string {
	threads := m.in.Threads
	if threads < 2 {
		return "Pipeline: one thread has one commit in flight, one per floor."
	}
	if !st.SemiSync {
		return ""
	}
	if st.WaitPoint == semisync.AfterCommit {
		return fmt.Sprintf("Pipeline (AFTER_COMMIT): each session waits for its own ack after the engine commit, every binlog lock released, so the %d threads' waits overlap freely: about %d commits per floor.", threads, threads)
	}
	if st.Pipeline == semisync.PipelineMariaDB {
		return fmt.Sprintf("Pipeline (MariaDB trx_group_commit_leader, AFTER_SYNC): step 1, a group's leader writes it under LOCK_log and its events leave; step 2, it takes LOCK_after_binlog_sync before releasing LOCK_log and waits for the ack under it; step 3, the next leader writes its group and blocks on LOCK_after_binlog_sync still holding LOCK_log, so a third group cannot even write until the first group's ack. So the ack waits do not overlap and about two groups complete per floor; with the %d threads split between two groups each thread commits once per floor at best (the bound), but a thread released just after the next group began writing waits for the group after it, about 1.5 floors per commit (%s tps) when the threads come back spread out.", threads, FormatTPS(float64(threads)/(1.5*floor.Seconds())))
	}
	if !st.OrderCommits {
		return fmt.Sprintf("Pipeline (MySQL ordered_commit, binlog_order_commits=OFF): the commit stage is skipped and the after-sync hook holds no stage mutex, so every synced group waits for its own ack at once, in parallel: about %d commits per floor.", threads)
	}
	return fmt.Sprintf("Pipeline (MySQL ordered_commit, AFTER_SYNC): step 1, flush under LOCK_log (the prepared transactions' redo, then the binlog write); step 2, sync under LOCK_sync (the binlog fsync with sync_binlog=1), after which the events leave; step 3, the commit stage's leader takes LOCK_commit and waits for the ack of its queue's last position under it. So the ack waits do not overlap, but any number of later groups flush and sync meanwhile and merge into the next commit-stage group, whose ack is already on its way: about two groups complete per floor, and with the %d threads split between them each thread commits once per floor.", threads)
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
	if f := m.localFloor(src); f > 0 {
		why += fmt.Sprintf("; the floor is%s: %s.", strings.TrimPrefix(m.localNote(src), " plus"), fmtD(f))
	} else {
		why += "; the floor is the local commit cost, 0 in the model without a cost profile or a sync cost (--sync)."
	}
	return m.finish(map[string]time.Duration{src: m.localFloor(src)}, why, 0, ""), nil
}
