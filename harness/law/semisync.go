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
// grouped and how often each thread commits (semisyncPipeline): AFTER_COMMIT, MySQL's
// AFTER_SYNC and binlog_order_commits=OFF let each thread commit once per floor; MariaDB's
// AFTER_SYNC, whose wait holds the lock the next group's leader needs before it lets a
// third group write, makes every thread from three on miss one group: about 1.5 of the
// lock-held cycle per commit, which the bound then uses. The serialised mode of 5.5/5.6
// lets the whole source commit once per floor whatever the thread count.
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
		note, cycle := m.semisyncPipeline(st, floor, rtts[kth])
		e.Throughput = strings.TrimSuffix(e.Throughput, ".") + ". " + note
		if tps := float64(m.in.Threads) / cycle.Seconds(); cycle > floor && tps < e.Bound.MaxTPS {
			e.Bound.MaxTPS = tps
			e.Bound.Limit = "pipeline"
			e.Throughput += fmt.Sprintf(" The bound is therefore %d / %s = %s tps (limit: pipeline).", m.in.Threads, fmtD(cycle), FormatTPS(tps))
		}
	}
	return e, nil
}

// semisyncPipeline is the derivation of what the source's group commit does with several
// threads, step by step as each flavour's source does it (real-servers.md 2 and 3) and as
// the semi-sync driver runs it (semisync/source.go: pump, logFree, advance), and the time
// per commit of one thread it leads to (the floor where nothing in the pipeline adds to
// it). R is the round trip the source waits for (with the replica's relay-log write and
// ack). Checked in virtual time by TestSemisyncPipelineMatchesVirtualTime here and by
// semisync TestAfterSyncLockPerFlavour, TestGroupFsyncPerRoundTrip and
// TestPipelineWithThinkTime.
//
// MariaDB AFTER_SYNC: the leader holds LOCK_log through the group's binlog write and
// sync (time S) and takes LOCK_after_binlog_sync before releasing it; the next leader
// writes its group and blocks on LOCK_after_binlog_sync still holding LOCK_log. So group
// k+2 cannot start writing before group k is done (d_k), and is done no sooner than
// d_k + S + R = d_k + Q: at most two groups per Q. A thread released by group k finds
// group k+1's leader just taking the lock and the threads queued behind LOCK_log (those
// released by group k-1) starting group k+2 at that instant, so with three threads or
// more it cannot join k+2 (a leader takes only the queue it finds) and commits with group
// k+3, done Q after group k+1: its commit takes Q plus the gap between two completions,
// and the gaps alternate between g and Q-g, so over two commits 3Q: 1.5 Q per commit,
// never less than the floor.
func (m model) semisyncPipeline(st *semisync.Settings, floor, R time.Duration) (string, time.Duration) {
	threads := m.in.Threads
	if threads < 2 {
		return "Pipeline: one thread has one commit in flight, one per floor.", floor
	}
	if !st.SemiSync {
		return "", floor
	}
	if st.WaitPoint == semisync.AfterCommit {
		return fmt.Sprintf("Pipeline (AFTER_COMMIT): each session waits for its own ack after the engine commit, every binlog lock released, so the %d threads' waits overlap freely and each commits once per floor %s.", threads, fmtD(floor)), floor
	}
	if st.Pipeline == semisync.PipelineMariaDB {
		S := m.binlogStage(m.in.Members[0])
		Q := R + S
		head := fmt.Sprintf("Pipeline (MariaDB trx_group_commit_leader, AFTER_SYNC): step 1, a group's leader holds LOCK_log while it writes and syncs the group (S = %s under the cost profile: the binlog write, the group leader's work%s), then its events leave; step 2, it takes LOCK_after_binlog_sync before releasing LOCK_log and waits R = %s for the ack under it; step 3, the next leader writes its group and blocks on LOCK_after_binlog_sync still holding LOCK_log, so group k+2 starts writing only when group k is done and is done Q = R + S = %s later: at most two groups per Q (%s groups/s).", fmtD(S), map[bool]string{true: ", the binlog fsync", false: ""}[st.SyncBinlog], fmtD(R), fmtD(Q), FormatTPS(2/Q.Seconds()))
		if threads < 3 {
			return head + fmt.Sprintf(" With %d threads each group's thread finds LOCK_log free when it comes back, so each commits once per floor %s.", threads, fmtD(floor)), floor
		}
		cycle := max(floor, Q*3/2)
		return head + fmt.Sprintf(" Step 4, with %d threads a thread released by group k comes back after the threads queued behind LOCK_log have started group k+2 at that instant, so it commits with group k+3, done Q after group k+1: Q plus the gap between two completions, the gaps alternating between g and Q - g, 3Q per two commits, so each thread commits once per max(floor %s, 1.5 Q = %s) = %s.", threads, fmtD(floor), fmtD(Q*3/2), fmtD(cycle)), cycle
	}
	if !st.OrderCommits {
		return fmt.Sprintf("Pipeline (MySQL ordered_commit, binlog_order_commits=OFF): the commit stage is skipped and the after-sync hook holds no stage mutex, so every synced group waits for its own ack at once, in parallel, and each of the %d threads commits once per floor %s.", threads, fmtD(floor)), floor
	}
	return fmt.Sprintf("Pipeline (MySQL ordered_commit, AFTER_SYNC): step 1, flush under LOCK_log (the prepared transactions' redo, then the binlog write); step 2, sync under LOCK_sync (the binlog fsync with sync_binlog=1), after which the events leave; step 3, the commit stage's leader takes LOCK_commit and waits for the ack of its queue's last position under it. So the ack waits do not overlap, but a thread released by group k flushes and syncs while group k+1 waits, its ack is on its way R = %s after its sync, and it joins group k+2, which is done when that ack is in: about two groups per floor (%s groups/s), and with the %d threads split between them each thread commits once per floor %s.", fmtD(R), FormatTPS(2/floor.Seconds()), threads, fmtD(floor)), floor
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
