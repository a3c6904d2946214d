package galera

import (
	"strconv"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
)

// engineStats is what the storage engine reports of brute-force aborts and replays, which
// are server-side counters in MariaDB (wsrep_local_bf_aborts) and only the engine sees.
type engineStats interface{ Stats() storage.Stats }

// Status implements protocols.Provider: the wsrep_* status variables the model computes,
// in the order SHOW STATUS LIKE 'wsrep%' prints the common ones.
func (p *Provider) Status() []protocols.StatusVar {
	p.snapMu.Lock()
	snap := p.snap
	p.snapMu.Unlock()
	s, fc := snap.m, snap.m.FC
	p.pauseMu.Lock()
	paused := p.pausedNs
	if p.pauseCh != nil {
		paused += time.Since(p.pausedAt)
	}
	p.pauseMu.Unlock()
	var bf, replays uint64
	if es, ok := p.applier.(engineStats); ok {
		st := es.Stats()
		bf, replays = st.BFAborts, st.Replays
	}
	elapsed := time.Since(p.startedAt)
	pausedFrac := 0.0
	if elapsed > 0 && !p.startedAt.IsZero() {
		pausedFrac = float64(paused) / float64(elapsed)
	}
	state, status, ready := s.Own.Comment(), "Primary", "OFF"
	switch {
	case !p.started.Load() || p.closed.Load():
		state, status = "Disconnected", "Disconnected"
	case !s.View.Primary:
		status = "non-Primary"
	}
	if p.ready.Load() {
		ready = "ON"
	}
	localIndex := -1
	for k, m := range s.View.Members {
		if m == p.self {
			localIndex = k
		}
	}
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
	mean := func(sum, n int64) string {
		if n == 0 {
			return f(0)
		}
		return f(float64(sum) / float64(n))
	}
	return []protocols.StatusVar{
		{Name: "wsrep_local_state_uuid", Value: p.uuid},
		{Name: "wsrep_last_committed", Value: i(p.LastCommitted())},
		{Name: "wsrep_replicated", Value: i(p.replicated.Load())},
		{Name: "wsrep_replicated_bytes", Value: i(p.replicatedBytes.Load())},
		{Name: "wsrep_received", Value: i(s.Received)},
		{Name: "wsrep_received_bytes", Value: i(s.ReceivedBytes)},
		{Name: "wsrep_local_commits", Value: i(p.localCommits.Load())},
		{Name: "wsrep_local_cert_failures", Value: i(p.certFailures.Load())},
		{Name: "wsrep_local_bf_aborts", Value: u(bf)},
		{Name: "wsrep_local_replays", Value: u(replays)},
		{Name: "wsrep_local_send_queue", Value: i(s.SendQueue)},
		{Name: "wsrep_local_send_queue_avg", Value: f(s.SendQueueAvg)},
		{Name: "wsrep_local_recv_queue", Value: i(fc.QueueLen)},
		{Name: "wsrep_local_recv_queue_avg", Value: f(s.RecvQueueAvg)},
		{Name: "wsrep_flow_control_paused", Value: f(pausedFrac)},
		{Name: "wsrep_flow_control_paused_ns", Value: i(int64(paused))},
		{Name: "wsrep_flow_control_sent", Value: u(fc.Sent)},
		{Name: "wsrep_flow_control_recv", Value: u(fc.Recv)},
		{Name: "wsrep_flow_control_active", Value: strconv.FormatBool(fc.StopCount > 0)},
		{Name: "wsrep_flow_control_requested", Value: strconv.FormatBool(fc.StopSent > 0)},
		{Name: "wsrep_cert_deps_distance", Value: f(s.Cert.DepsDistance)},
		{Name: "wsrep_cert_interval", Value: f(s.Cert.Interval)},
		{Name: "wsrep_cert_index_size", Value: strconv.Itoa(s.Cert.IndexSize)},
		{Name: "wsrep_apply_window", Value: mean(p.applyWinSum.Load(), p.applyWinN.Load())},
		{Name: "wsrep_commit_window", Value: mean(p.commitWinSum.Load(), p.commitWinN.Load())},
		{Name: "wsrep_causal_reads", Value: i(p.causalReads.Load())},
		{Name: "wsrep_local_state", Value: strconv.Itoa(s.Own.Number())},
		{Name: "wsrep_local_state_comment", Value: state},
		{Name: "wsrep_local_cached_downto", Value: i(s.CachedDownto)},
		{Name: "wsrep_cluster_conf_id", Value: i(s.ConfID)},
		{Name: "wsrep_cluster_size", Value: strconv.Itoa(len(s.View.Members))},
		{Name: "wsrep_cluster_status", Value: status},
		{Name: "wsrep_cluster_weight", Value: strconv.Itoa(map[bool]int{true: s.Weight}[s.View.Primary])},
		{Name: "wsrep_local_index", Value: strconv.Itoa(localIndex)},
		{Name: "wsrep_ready", Value: ready},
		{Name: "wsrep_evs_repl_latency", Value: snap.lat.String()},
		{Name: "wsrep_evs_state", Value: s.EVSState.String()},
		{Name: "replbench_ist_received", Value: i(s.ISTReceived)},
		{Name: "replbench_sst_received", Value: i(s.SSTReceived)},
		{Name: "replbench_last_state_transfer", Value: snap.lastXfer},
		{Name: "replbench_transfer_gaps", Value: i(s.TransferGaps)},
		{Name: "replbench_writesets_unordered", Value: i(s.Unordered)},
		{Name: "replbench_gcache_recovered", Value: p.recoveredCache},
		{Name: "replbench_grastate_recovered", Value: p.recoveredState},
		{Name: "replbench_gvwstate_recovered", Value: p.recoveredView},
		{Name: "replbench_bootstrap", Value: snap.bootstrapped},
		{Name: "replbench_evs_retransmitted", Value: u(s.EVS.Retransmitted)},
		{Name: "replbench_apply_errors", Value: i(p.applyErrors.Load() + s.ApplyErrors)},
		{Name: "replbench_local_withdrawn", Value: i(s.Withdrawn)},
		{Name: "replbench_local_detached", Value: i(s.Detached)},
		{Name: "replbench_detached_conflicts", Value: i(s.FencedConflicts)},
	}
}
