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
	s := p.snap
	p.snapMu.Unlock()
	p.fcMu.Lock()
	fc := p.fc
	paused := p.pausedNs
	if p.pauseCh != nil {
		paused += time.Since(p.pausedAt)
	}
	p.fcMu.Unlock()
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
	state, status, ready := s.own.Comment(), "Primary", "OFF"
	switch {
	case !p.started.Load() || p.closed.Load():
		state, status = "Disconnected", "Disconnected"
	case !s.view.Primary:
		status = "non-Primary"
	}
	if p.ready.Load() {
		ready = "ON"
	}
	localIndex := -1
	for k, m := range s.view.Members {
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
	lat := "0/0/0/0/0"
	if s.latN > 0 {
		lat = f(s.latMin.Seconds()) + "/" + f(s.latAvg) + "/" + f(s.latMax.Seconds()) + "/" + f(s.latSD) + "/" + i(s.latN)
	}
	return []protocols.StatusVar{
		{Name: "wsrep_local_state_uuid", Value: p.uuid},
		{Name: "wsrep_last_committed", Value: i(p.LastCommitted())},
		{Name: "wsrep_replicated", Value: i(p.replicated.Load())},
		{Name: "wsrep_replicated_bytes", Value: i(p.replicatedBytes.Load())},
		{Name: "wsrep_received", Value: i(p.received.Load())},
		{Name: "wsrep_received_bytes", Value: i(p.receivedBytes.Load())},
		{Name: "wsrep_local_commits", Value: i(p.localCommits.Load())},
		{Name: "wsrep_local_cert_failures", Value: i(p.certFailures.Load())},
		{Name: "wsrep_local_bf_aborts", Value: u(bf)},
		{Name: "wsrep_local_replays", Value: u(replays)},
		{Name: "wsrep_local_send_queue", Value: i(s.sendQueue)},
		{Name: "wsrep_local_send_queue_avg", Value: f(s.sendAvg)},
		{Name: "wsrep_local_recv_queue", Value: i(fc.QueueLen)},
		{Name: "wsrep_local_recv_queue_avg", Value: f(s.recvAvg)},
		{Name: "wsrep_flow_control_paused", Value: f(pausedFrac)},
		{Name: "wsrep_flow_control_paused_ns", Value: i(int64(paused))},
		{Name: "wsrep_flow_control_sent", Value: u(fc.Sent)},
		{Name: "wsrep_flow_control_recv", Value: u(fc.Recv)},
		{Name: "wsrep_flow_control_active", Value: strconv.FormatBool(fc.StopCount > 0)},
		{Name: "wsrep_flow_control_requested", Value: strconv.FormatBool(fc.StopSent > 0)},
		{Name: "wsrep_cert_deps_distance", Value: f(s.cert.DepsDistance)},
		{Name: "wsrep_cert_interval", Value: f(s.cert.Interval)},
		{Name: "wsrep_cert_index_size", Value: strconv.Itoa(s.cert.IndexSize)},
		{Name: "wsrep_apply_window", Value: mean(p.applyWinSum.Load(), p.applyWinN.Load())},
		{Name: "wsrep_commit_window", Value: mean(p.commitWinSum.Load(), p.commitWinN.Load())},
		{Name: "wsrep_causal_reads", Value: i(p.causalReads.Load())},
		{Name: "wsrep_local_state", Value: strconv.Itoa(s.own.Number())},
		{Name: "wsrep_local_state_comment", Value: state},
		{Name: "wsrep_local_cached_downto", Value: i(s.cachedDownto)},
		{Name: "wsrep_cluster_conf_id", Value: i(p.conf.Load())},
		{Name: "wsrep_cluster_size", Value: strconv.Itoa(len(s.view.Members))},
		{Name: "wsrep_cluster_status", Value: status},
		{Name: "wsrep_cluster_weight", Value: strconv.Itoa(map[bool]int{true: s.weight}[s.view.Primary])},
		{Name: "wsrep_local_index", Value: strconv.Itoa(localIndex)},
		{Name: "wsrep_ready", Value: ready},
		{Name: "wsrep_evs_repl_latency", Value: lat},
		{Name: "wsrep_evs_state", Value: s.evsState.String()},
		{Name: "replbench_ist_received", Value: i(s.ist)},
		{Name: "replbench_sst_received", Value: i(s.sst)},
		{Name: "replbench_last_state_transfer", Value: s.lastXfer},
		{Name: "replbench_evs_retransmitted", Value: u(s.evs.Retransmitted)},
		{Name: "replbench_apply_errors", Value: i(p.applyErrors.Load())},
		{Name: "replbench_local_withdrawn", Value: i(p.withdrawn.Load())},
		{Name: "replbench_local_detached", Value: i(p.detached.Load())},
		{Name: "replbench_detached_conflicts", Value: i(p.fencedConflicts.Load())},
	}
}
