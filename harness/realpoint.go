package harness

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/replbench/replbench/harness/target"
	"github.com/replbench/replbench/results"
	"github.com/replbench/replbench/workloads"
)

// TargetReal is results.Point.Target for a point measured on real servers.
const TargetReal = "real"

// RealStatusPrefixes are the status variables a real point keeps per node (counters as
// their delta across the measured phase, gauges as their value after it): the
// replication families and the engine's conflict counters, which are the names the model's
// providers report, so a real point and a model point print the same status columns.
var RealStatusPrefixes = []string{"wsrep_", "rpl_semi_sync_", "gr_member_stats.", "innodb_deadlocks",
	"innodb_row_lock_waits", "innodb_row_lock_time", "binlog_commits", "binlog_group_commits", "com_commit", "com_rollback"}

// runRealPoint measures one point on the real cluster of opt.Target instead of the model:
// the same workload, options, writers, threads, run length or query count, warm-up, rate
// and retries as runPoint, driven through go-sql-driver (workloads/sqldb) by the same
// client loop (runPhase), so the two differ only in what is behind workloads.DB. The
// workload's tables are created and loaded on the target's writer and replicated to the
// others by the servers; SHOW GLOBAL STATUS is read on every node before and after the
// measured phase; convergence is CHECKSUM TABLE on every node after a bounded wait for the
// appliers (target.Converge).
//
// What the model has and a real cluster cannot give is left out rather than faked: there is
// no fault timeline (faults on a real cluster are the script's delays), no emulator
// lateness, and the per-second series is not recorded.
func runRealPoint(ctx context.Context, s *Scenario, ps *PointSpec, opt Options, con *console) (*results.Point, string, error) {
	f := opt.Target
	if len(ps.Faults) > 0 {
		return nil, "", fmt.Errorf("--fault is not supported with --target (change a real node's delay with scripts/real-cluster.sh delay)")
	}
	if ps.Nodes != len(f.Nodes) {
		return nil, "", fmt.Errorf("point has %d nodes, target %s has %d", ps.Nodes, f.Path, len(f.Nodes))
	}
	def, err := workloads.Lookup(ps.Workload.Name)
	if err != nil {
		return nil, "", err
	}
	env := workloads.Env{Nodes: ps.Nodes, Writers: ps.Writers, Threads: ps.Threads, Seed: s.Seed}
	wl, err := def.New(maps.Clone(ps.Workload.Options), env)
	if err != nil {
		return nil, "", fmt.Errorf("workload %s: %w", def.Name, err)
	}
	tg, err := target.Connect(ctx, f, target.Options{Tables: wl.Tables(), MaxConns: ps.Threads + 4})
	if err != nil {
		return nil, "", err
	}
	defer tg.Close()
	for _, w := range ps.Writers {
		if tg.Node(w) == nil {
			return nil, "", fmt.Errorf("writer %s is not a node of target %s", w, f.Path)
		}
	}
	if err := tg.Load(ctx, func(ctx context.Context, db workloads.DB) error { return wl.Load(ctx, db, nil) }, opt.ConvergeTimeout); err != nil {
		return nil, "", fmt.Errorf("target %s: %v", f.Path, err)
	}
	p := &results.Point{
		Protocol: ps.Protocol, Nodes: ps.Nodes, Network: realNetwork(f, tg),
		Workload: ps.Workload.Name, Options: ps.Workload.Options, Params: ps.UserParams(),
		Threads: ps.Threads, Writers: ps.Writers, Queries: ps.Queries, Duration: ps.Duration.Seconds(),
		Repeat: ps.Repeat, Target: TargetReal, ServerVersion: tg.Version(), TargetSettings: f.Settings,
	}
	if len(p.Params) == 0 {
		p.Params = nil
	}
	if len(p.Params) > 0 {
		p.Notes = append(p.Notes, "protocol parameters apply to the model only; the real servers run with the target's settings (target_settings)")
	}
	if cw, ok := wl.(workloads.Configured); ok {
		p.Options = cw.Settings()
	}
	seed := s.Seed + int64(ps.Index)*1_000_003
	clients := make([]*client, ps.Threads)
	for i := range clients {
		node := ps.Writers[i%len(ps.Writers)]
		db, err := tg.Node(node).Client(ctx)
		if err != nil {
			return nil, "", err
		}
		defer db.Close()
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(i)+1))
		clients[i] = &client{id: i, node: node, db: db, wl: wl.NewClient(i, rng), stats: newClientStats()}
	}
	l := load{queries: ps.Queries, duration: ps.Duration, rate: ps.Rate, retries: ps.Retries, backoff: ps.RetryBackoff, refused: ps.RefusedBackoff, stall: max(opt.StallTimeout, 0)}
	if ps.Warmup > 0 {
		w := l
		w.queries, w.duration = 0, ps.Warmup
		runPhase(ctx, clients, w)
		for _, cl := range clients {
			cl.stats = newClientStats()
		}
	}
	// The warm-up's commits must be applied everywhere before the counters are read.
	if err := tg.WaitAppliers(ctx, opt.ConvergeTimeout); err != nil {
		return nil, "", fmt.Errorf("target %s before the point: %v", f.Path, err)
	}
	before, err := tg.Snap(ctx)
	if err != nil {
		return nil, "", err
	}
	ph := runPhase(ctx, clients, l)
	if ph.stalled {
		msg := stallText(ph, l.stall)
		p.Notes = append(p.Notes, "stalled: "+msg)
		con.printf("\n*** STALLED: real %s, %d threads: %s ***\n\n", ps.Protocol, ps.Threads, msg)
	}
	interrupted, cto := endOfPhase(ctx, p, clients, l.refused, ph.elapsed, opt)
	cv, err := tg.Converge(context.Background(), cto)
	switch {
	case err != nil:
		p.ConvergenceDetail = err.Error()
	case !cv.Equal:
		p.ConvergenceDetail = "checksums differ: " + strings.Join(cv.Differ, "; ")
	default:
		p.Converged = true
		p.ConvergenceDetail = fmt.Sprintf("CHECKSUM TABLE equal on every node; appliers caught up in %.3fs", cv.Waited.Seconds())
	}
	if !p.Converged {
		con.printf("\n*** NOT CONVERGED: real %s, %d threads: %s ***\n\n", ps.Protocol, ps.Threads, p.ConvergenceDetail)
	}
	after, err := tg.Snap(context.Background())
	if err != nil {
		return p, "", err
	}
	p.Status = RealStatus(before, after)
	if changed := target.VariableChanges(before, after); len(changed) > 0 {
		p.Notes = append(p.Notes, "global variables changed during the point: "+strings.Join(changed, "; "))
	}
	if p.Converged && !interrupted {
		var dbs []workloads.DB
		for _, n := range tg.Nodes {
			c, err := n.Client(context.Background())
			if err != nil {
				return p, "", err
			}
			defer c.Close()
			dbs = append(dbs, c)
		}
		cctx, cancel := context.WithTimeout(context.Background(), ConvergeTimeout)
		checks, err := wl.Check(cctx, dbs)
		cancel()
		if err != nil {
			p.Notes = append(p.Notes, "workload check failed to run: "+err.Error())
		}
		if len(checks) > 0 {
			p.Checks = checks
		}
	}
	if m, ok := wl.(workloads.Metricser); ok {
		byType := map[string]int64{}
		for name, t := range p.ByType {
			byType[name] = t.Committed
		}
		p.Metrics = m.Metrics(byType, ph.elapsed)
	}
	setBound(p, ps, opt.SyncCost)
	return p, "", nil
}

// RealStatus is the real point's Status: per node, the RealStatusPrefixes variables, a
// counter as its delta across the point and a gauge as its value after it.
func RealStatus(before, after []target.Snapshot) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, st := range target.Select(target.Diff(before, after), RealStatusPrefixes...) {
		m := out[st.Node]
		if m == nil {
			m = map[string]string{}
			out[st.Node] = m
		}
		if st.Kind == target.Counter {
			m[st.Name] = strconv.FormatFloat(st.Delta, 'f', -1, 64)
		} else {
			m[st.Name] = st.After
		}
	}
	return out
}

// realNetwork is the target's network as a result records it: the delays the proxy holds
// (as the model's egress and link delays) and the round trips measured through it.
func realNetwork(f *target.File, tg *target.Target) results.Network {
	n := results.Network{Preset: "real"}
	if f.Network != nil {
		for node, d := range f.Network.Delay {
			if dd, err := time.ParseDuration(d); err == nil && dd > 0 {
				if n.Egress == nil {
					n.Egress = map[string]float64{}
				}
				n.Egress[node] = ms(dd)
			}
		}
	}
	for _, r := range tg.RTT {
		if n.MeasuredRTT == nil {
			n.MeasuredRTT = map[string]float64{}
		}
		from := r.From
		if from == "" {
			from = "client"
		}
		n.MeasuredRTT[from+">"+r.To] = ms(r.Median)
	}
	return n
}
