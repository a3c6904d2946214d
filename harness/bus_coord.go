package harness

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/replbench/replbench/harness/nodes"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/results"
	"github.com/replbench/replbench/workloads"
)

// DefaultNodesWait is how long a coordinator waits, by default, for its node processes to
// register (--nodes-wait), and a node for its coordinator: long enough to start the
// processes on three machines by hand, short enough that a typo in a run id fails soon.
const DefaultNodesWait = 60 * time.Second

// ExternalNodes is a coordinator's handle on the node processes of a run (replbench node),
// for Options.Nodes: each point's nodes run there instead of in this process.
type ExternalNodes struct {
	runID   string
	bus     BusConfig
	nc      *nats.Conn
	co      *nodes.Coordinator
	members []string
	board   *statsBoard // the nodes' statistics reports (bus_stats.go)
}

// ConnectNodes connects to the external NATS of bus, accepts the registrations of nodes
// n1..n<n> for runID and waits at most wait for all of them; the error names the nodes
// that did not come. Close tells every node the run is over.
func ConnectNodes(ctx context.Context, bus BusConfig, runID string, n int, wait time.Duration) (*ExternalNodes, error) {
	if bus.URL == "" {
		return nil, fmt.Errorf("--nodes-external needs --nats-url: the external NATS cluster the node processes use")
	}
	if err := nodes.CheckRunID(runID); err != nil {
		return nil, err
	}
	nc, err := transport.ConnectNATS(transport.NATSOptions{URL: bus.URL, Auth: bus.Auth}, "replbench coordinator "+runID)
	if err != nil {
		return nil, err
	}
	x := &ExternalNodes{runID: runID, bus: bus, nc: nc, members: memberNames(n)}
	if x.co, err = nodes.NewCoordinator(nc, runID, x.members); err != nil {
		nc.Close()
		return nil, err
	}
	if x.board, err = subscribeStats(nc, runID); err != nil {
		x.co.Close()
		nc.Close()
		return nil, fmt.Errorf("subscribe to the nodes' statistics: %w", err)
	}
	if err := x.co.Wait(ctx, x.members, wait); err != nil {
		x.co.Close()
		nc.Close()
		return nil, err
	}
	return x, nil
}

// RunID is the run id the nodes registered under.
func (x *ExternalNodes) RunID() string { return x.runID }

// Close tells every node that the run is over (they close and exit) and disconnects.
func (x *ExternalNodes) Close() {
	_ = x.co.CallAll(context.Background(), x.members, "exit", nil, nil, 5*time.Second)
	x.co.Close()
	x.nc.Close()
}

// refusedExternal are the node faults node processes cannot carry out (kill, stop and
// restart are carried out by each node's supervisor, bus_lifecycle.go).
var refusedExternal = []FaultKind{FaultCrash, FaultPromote}

// CheckExternal refuses, before anything runs, what external nodes cannot carry out:
// crash (a process kill on a real filesystem keeps every written byte; a power loss needs
// the storage on Pebble's crash-testing filesystem, which lives in the process and dies
// with it), promote (semi-sync's promote restarts every live node under a new source, a
// new topology the node processes' set-up does not carry), and kill, stop or
// restart with a workload that records a history (the history of a killed process dies
// with it). Whether the nodes a kill, stop or restart names run under a supervisor is
// known once they register (ExternalNodes.CheckSupervised).
func CheckExternal(points []PointSpec, seed int64) error {
	for _, ps := range points {
		historian := false
		if def, err := workloads.Lookup(ps.Workload.Name); err == nil {
			wl, err := def.New(cloneMap(ps.Workload.Options), workloads.Env{Nodes: ps.Nodes, Writers: ps.Writers, Threads: ps.Threads, Seed: seed})
			_, historian = wl.(workloads.Historian)
			historian = historian && err == nil
		}
		for _, f := range expandNemesis(ps.Faults, ps.Members(), ps.Duration, ps.Protocol, seed) {
			if historian && slices.Contains(lifecycleFaults, f.Kind) {
				return fmt.Errorf("fault %s with workload %s is not supported with --nodes-external: a killed node process takes the history its clients recorded with it (the recorder is in its memory, not journaled to its data directory as its acknowledged writes are), and its restarted process would number its values and its clients' processes from the start again (accepted: the network faults and pause/resume with %s, or kill, stop and restart with the nodes in one process)", f.Event(), ps.Workload.Name, ps.Workload.Name)
			}
			if f.Kind == FaultCrash {
				return fmt.Errorf("fault %s is not supported with --nodes-external: a node process's data is on a real filesystem, where a kill keeps every written byte and a power loss cannot be simulated (accepted: kill=%s or stop=%s of a node under replbench node --supervise, or crash= with the nodes in one process, on Pebble's crash-testing filesystem)", f.Event(), f.Node, f.Node)
			}
			if slices.Contains(refusedExternal, f.Kind) {
				return fmt.Errorf("fault %s is not supported with --nodes-external yet: a promote restarts every live node under a new source, which node processes cannot be set up with (accepted: pause, resume, and kill, stop and restart of nodes under replbench node --supervise, and the network faults partition, oneway, clog, unclog, heal, delay, link, loss; or promote with the nodes in one process)", f.Event())
			}
		}
	}
	return nil
}

// runExternalPoint measures one point on node processes, as runPoint does in one process:
// the same bring-up (each node sets up its own share: engine, workload, emulator, cost
// model, provider), the same phases of the same clients (each runs on its writer's node,
// with the seeds runPoint gives it), the same fault timeline (network faults sent to every
// node's emulator), the same convergence check (positions and checksums over NATS) and the
// same record. Each link's round trip is measured through the emulated network before the
// point starts (network.measured_rtt_ms).
// The per-second series comes from the nodes' statistics reports (bus_series.go), the
// acknowledged-write check from their journaled commits (bus_acks.go), the histories from
// their recorders (bus_history.go) and the workload's end-of-run checks from their data
// against every node's clients' counters summed (bus_checks.go; not after a kill, whose
// process took its counters with it, and the notes say so).
func runExternalPoint(ctx context.Context, s *Scenario, ps *PointSpec, opt Options, con *console) (*results.Point, string, error) {
	x := opt.Nodes
	members := ps.Members()
	if err := x.co.Wait(ctx, members, DefaultNodesWait); err != nil {
		return nil, "", err
	}
	yaml, err := s.Marshal()
	if err != nil {
		return nil, "", err
	}
	prefix := fmt.Sprintf("replbench.%s.%d.p%d", x.runID, time.Now().UnixNano(), ps.Index)
	phaseID := prefix // names the measured phase in the nodes' statistics reports
	sums := make([]setupReply, len(members))
	err = x.co.CallAll(ctx, members, "setup", func(int) any {
		return setupRequest{Scenario: yaml, Index: ps.Index, Prefix: prefix}
	}, func(i int) any { return &sums[i] }, 10*time.Minute)
	defer func() { _ = x.co.CallAll(context.Background(), members, "close", nil, nil, closeTimeout) }()
	if err != nil {
		return nil, "", err
	}
	loaded := make([]map[string]uint64, len(sums))
	for i := range sums {
		loaded[i] = sums[i].Checksums
	}
	if d := diffChecksums(members, loaded); d != "" {
		return nil, "", fmt.Errorf("the nodes loaded different data (%s): workload %s does not load the same rows from the same seed", d, ps.Workload.Name)
	}
	rtts := make([]map[string]float64, len(members))
	if len(members) > 1 {
		if err := x.co.CallAll(ctx, members, "probe", func(int) any { return 5 }, func(i int) any { return &rtts[i] }, 2*time.Minute); err != nil {
			return nil, "", err
		}
	}
	if err := x.co.CallAll(ctx, members, "start", nil, nil, startTimeout+10*time.Second); err != nil {
		return nil, "", err
	}

	p := &results.Point{
		Protocol: ps.Protocol, Nodes: ps.Nodes, Network: resultNetwork(ps.Network.Name, ps.Net),
		Workload: ps.Workload.Name, Options: ps.Workload.Options, Params: ps.UserParams(),
		Threads: ps.Threads, Writers: ps.Writers, Queries: ps.Queries, Duration: ps.Duration.Seconds(),
		Repeat: ps.Repeat,
	}
	if len(p.Params) == 0 {
		p.Params = nil
	}
	var wl workloads.Workload // the coordinator's copy: settings, metrics, tables
	if def, err := workloads.Lookup(ps.Workload.Name); err == nil {
		if wl, err = def.New(cloneMap(ps.Workload.Options), workloads.Env{Nodes: ps.Nodes, Writers: ps.Writers, Threads: ps.Threads, Seed: s.Seed}); err == nil {
			if cw, ok := wl.(workloads.Configured); ok {
				p.Options = cw.Settings()
			}
			defer func() {
				if m, ok := wl.(workloads.Metricser); ok {
					byType := map[string]int64{}
					for name, t := range p.ByType {
						byType[name] = t.Committed
					}
					p.Metrics = m.Metrics(byType, time.Duration(p.ElapsedS*float64(time.Second)))
				}
			}()
		}
	}
	for _, r := range rtts {
		for k, v := range r {
			if p.Network.MeasuredRTT == nil {
				p.Network.MeasuredRTT = map[string]float64{}
			}
			p.Network.MeasuredRTT[k] = v
		}
	}
	var where []string
	for _, m := range members {
		r, _ := x.co.Registered(m)
		where = append(where, fmt.Sprintf("%s pid %d on %s", m, r.PID, r.Host))
	}
	p.Notes = append(p.Notes, "nodes ran as separate processes (replbench node, run "+x.runID+") over NATS at "+x.bus.String()+": "+strings.Join(where, ", ")+"; the per-second series is binned from the nodes' statistics reports (every 250 ms)")

	l := load{queries: ps.Queries, duration: ps.Duration, rate: ps.Rate, retries: ps.Retries, backoff: ps.RetryBackoff, refused: ps.RefusedBackoff, stall: max(opt.StallTimeout, 0)}
	target := &remoteTarget{x: x, members: members, nw: ps.Net.Clone()}
	target.life.setup = setupRequest{Scenario: yaml, Index: ps.Index, Prefix: prefix}
	// phase runs one phase on every node process (extPhase: a process killed in it
	// leaves its last statistics report, a restarted one gets the rest of it).
	phase := func(l load, warmup bool) (phaseResult, []*client, error) {
		rq := phaseRequest{Queries: l.queries, Duration: l.duration, Rate: l.rate, Retries: l.retries, Backoff: l.backoff, Refused: l.refused, Stall: l.stall, Warmup: warmup}
		timeout := l.duration + l.stall + abandonGrace + time.Minute
		if l.queries > 0 {
			timeout = convergeCap
		}
		id := "" // the warm-up's figures are thrown away: nothing to stream
		if !warmup {
			id = phaseID
		}
		ep := newExtPhase(x, ps, rq, timeout, id)
		if !warmup {
			target.life.mu.Lock()
			target.life.phase = ep
			target.life.mu.Unlock()
			defer func() {
				target.life.mu.Lock()
				target.life.phase = nil
				target.life.mu.Unlock()
			}()
		}
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // Ctrl-C: the nodes stop their clients, as runPhase's context does
			defer wg.Done()
			select {
			case <-ctx.Done():
				_ = x.co.CallAll(context.Background(), target.up(), "cancel", nil, nil, 5*time.Second)
			case <-done:
			}
		}()
		ep.begin(target.up())
		r, clients, notes, err := ep.wait()
		close(done)
		wg.Wait()
		if !warmup {
			p.Notes = append(p.Notes, notes...)
		}
		return r, clients, err
	}
	warmupStalled := false
	if ps.Warmup > 0 {
		w := l
		w.queries, w.duration = 0, ps.Warmup
		wr, _, err := phase(w, true)
		if err != nil {
			return nil, "", err
		}
		if wr.stalled {
			msg := "in the warm-up, " + stallText(wr, l.stall)
			p.Notes = append(p.Notes, "stalled: "+msg)
			con.printf("\n*** STALLED: %s on %d nodes, %s, %d threads: %s ***\n\n", ps.Protocol, ps.Nodes, ps.Network.Name, ps.Threads, msg)
			warmupStalled = true
		}
	}
	phaseStart := time.Now()
	rs := newRemoteSeries(phaseID, members)
	x.board.setSink(rs.add)
	series := startSeries(con, rs.clients(), rs.statusReaders(), members, pointLabel(ps), phaseStart, opt.ReportInterval)
	tl := startTimeline(expandNemesis(ps.Faults, members, ps.Duration, ps.Protocol, s.Seed), target, phaseStart, func(at time.Duration, f FaultEvent) {
		con.printf("%s [%6.1fs] fault: %s\n", time.Now().Format("15:04:05.000"), at.Seconds(), strings.Replace(f.Event(), "=", " ", 1))
	})
	var ph phaseResult
	var clients []*client
	if !warmupStalled {
		if ph, clients, err = phase(l, false); err != nil {
			tl.stop()
			x.board.setSink(nil)
			series.stop(phaseStart.Add(ph.elapsed))
			return nil, "", err
		}
	}
	rs.waitFinal(target.up(), 2*time.Second)
	x.board.setSink(nil)
	p.Series = series.stop(phaseStart.Add(ph.elapsed))
	applied, pending, cut := tl.stop()
	p.Faults = applied
	for _, f := range pending {
		p.Notes = append(p.Notes, fmt.Sprintf("fault %s did not fire: the measured phase ended after %.3fs", f, ph.elapsed.Seconds()))
	}
	if target.err() != nil {
		p.Notes = append(p.Notes, "a network fault did not reach every node: "+target.err().Error())
	}
	if cut {
		target.Heal()
		p.Faults = append(p.Faults, fmt.Sprintf("%.3fs heal (end of the measured phase, before the convergence check)", time.Since(phaseStart).Seconds()))
	}
	if ph.stalled {
		msg := stallText(ph, l.stall)
		p.Notes = append(p.Notes, "stalled: "+msg)
		con.printf("\n*** STALLED: %s on %d nodes, %s, %d threads: %s ***\n\n", ps.Protocol, ps.Nodes, ps.Network.Name, ps.Threads, msg)
	}
	interrupted, cto := endOfPhase(ctx, p, clients, l.refused, ph.elapsed, opt)
	cv := convergeOn(context.Background(), members, remoteNodes{x: x, members: members}, cto)
	p.Converged, p.ConvergenceDetail = cv.ok, cv.detail
	if cv.waited != "" {
		p.Notes = append(p.Notes, cv.waited)
	}
	if !interrupted {
		// The checks run whether or not the point converged, on each node's own data,
		// against every node's clients' counters summed (bus_checks.go).
		checkExternalWorkload(context.Background(), x, members, target.wentDown(), p)
	}

	if hw, ok := wl.(workloads.Historian); ok && opt.runDir != "" {
		h, live, err := gatherHistory(context.Background(), x, members, wl)
		if err != nil {
			p.Notes = append(p.Notes, "history checkers did not run: "+err.Error())
		} else {
			judgeHistory(hw, wl, h, live, nil, ps, opt.runDir, opt.points, p)
		}
	} else if wl != nil && !ok {
		if err := checkExternalAcks(context.Background(), x, members, wl.Tables(), ps, p); err != nil {
			p.Notes = append(p.Notes, "acknowledged-write check did not run: "+err.Error())
		}
	}
	statuses := make([]statusReply, len(members))
	if err := x.co.CallAll(context.Background(), members, "status", nil, func(i int) any { return &statuses[i] }, time.Minute); err != nil {
		return p, "", err
	}
	p.Status = map[string]map[string]string{}
	var early uint64
	var de results.Percentiles
	for i, st := range statuses {
		st.Vars["replbench_node_rss_kb"] = fmt.Sprint(st.RSSKB)
		st.Vars["replbench_node_peak_rss_kb"] = fmt.Sprint(st.HWMKB)
		p.Status[members[i]] = st.Vars
		if st.Lost != "" {
			p.Notes = append(p.Notes, st.Bus...)
			p.Converged, p.ConvergenceDetail = false, "the NATS bus of "+members[i]+" lost a connection during the point ("+st.Lost+"); messages may be lost"
			cv.ok, cv.detail = false, p.ConvergenceDetail
		}
		early += st.Emu.Early
		// The delay error of the worst node: per-node summaries cannot be merged into
		// exact percentiles, and the worst one is what bounds the network's fidelity.
		de.P50, de.P99, de.Max = max(de.P50, st.Emu.DelayErrorP50Ms), max(de.P99, st.Emu.DelayErrorP99Ms), max(de.Max, st.Emu.DelayErrorMaxMs)
		de.N += st.Emu.DelayErrorN
	}
	if !cv.ok {
		con.printf("\n*** NOT CONVERGED: %s on %d nodes, %s, %d threads: %s ***\n\n", ps.Protocol, ps.Nodes, ps.Network.Name, ps.Threads, cv.detail)
	}
	if de.N > 0 {
		p.Network.DelayError = &de
	}
	if early > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("emulator delivered %d messages early: the network was not emulated faithfully", early))
	}
	setBound(p, ps, opt.SyncCost)
	noteServer(p, ps)
	if !interrupted {
		p.Reference = results.ReferenceFor(s.Name, p)
	}
	return p, delayWarning(p, smallestOneWay(ps.Net, members)), nil
}

// remoteNodes are node processes as the convergence check reads them.
type remoteNodes struct {
	x       *ExternalNodes
	members []string
}

func (r remoteNodes) positions() ([]int64, error) {
	out := make([]int64, len(r.members))
	err := r.x.co.CallAll(context.Background(), r.members, "position", nil, func(i int) any { return &out[i] }, 10*time.Second)
	return out, err
}

func (r remoteNodes) checksums() ([]map[string]uint64, error) {
	out := make([]map[string]uint64, len(r.members))
	err := r.x.co.CallAll(context.Background(), r.members, "checksums", nil, func(i int) any { return &out[i] }, time.Minute)
	return out, err
}

// remoteTarget is the fault timeline's target for node processes: every network operation
// goes to every node's emulator (each holds the links that leave it). It keeps the network
// in force itself, so that a delay or link fault changes one value of it as on one
// emulator.
type remoteTarget struct {
	x       *ExternalNodes
	members []string
	life    remoteLife // kill, stop, restart (bus_lifecycle.go)

	mu     sync.Mutex
	nw     transport.Network
	errs   []string
	paused map[string]bool // nodes paused now (bus_pause.go)
}

func (t *remoteTarget) send(rq faultRequest) {
	// A node that is down has no emulator; a restarted one gets the network and the cuts
	// in force when it rejoins.
	t.life.mu.Lock()
	switch rq.Op {
	case "heal":
		t.life.cuts = nil
	case "partition", "oneway", "clog", "unclog":
		t.life.cuts = append(t.life.cuts, rq)
	}
	t.life.mu.Unlock()
	if err := t.x.co.CallAll(context.Background(), t.up(), "fault", func(int) any { return rq }, nil, 10*time.Second); err != nil {
		t.mu.Lock()
		t.errs = append(t.errs, err.Error())
		t.mu.Unlock()
	}
}

func (t *remoteTarget) err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(t.errs, "; "))
}

func (t *remoteTarget) Partition(groups ...[]string) {
	t.send(faultRequest{Op: "partition", Groups: groups})
}
func (t *remoteTarget) PartitionOneWay(from, to string) {
	t.send(faultRequest{Op: "oneway", From: from, To: to})
}
func (t *remoteTarget) Clog(from, to string) { t.send(faultRequest{Op: "clog", From: from, To: to}) }
func (t *remoteTarget) Unclog(from, to string) {
	t.send(faultRequest{Op: "unclog", From: from, To: to})
}

func (t *remoteTarget) Network() transport.Network {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nw.Clone()
}

func (t *remoteTarget) SetNetwork(nw transport.Network) {
	t.mu.Lock()
	t.nw = nw.Clone()
	t.mu.Unlock()
	t.send(faultRequest{Op: "network", Network: toWireNetwork(nw)})
}
