package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/replbench/replbench/harness/target"
	"github.com/replbench/replbench/results"
	"github.com/replbench/replbench/workloads"
)

// Options say how a run is carried out and where its output goes; the scenario says what it
// measures.
type Options struct {
	Bus     BusConfig
	DataDir string // "" keeps every node in memory; else one subdirectory per node
	// OutDir is the parent of the run directory <timestamp>-<scenario>; "" means "runs".
	OutDir string
	// JSONPath and CSVPath are extra copies of results.json and results.csv (--json, --csv).
	JSONPath, CSVPath string
	// ReportInterval prints a timestamped line (tps, p95, aborts) per interval; 0 prints none.
	ReportInterval time.Duration
	// Status prints each node's status variables after each point.
	Status bool
	// ConvergeTimeout is how long the end-of-point wait for replicas goes on with no node
	// applying anything (a replica still draining its backlog is waited for); 0 means
	// ConvergeTimeout.
	ConvergeTimeout time.Duration
	// StallTimeout stops a point's measured phase when no transaction has finished for this
	// long while some are in flight, and reports the stall, instead of waiting for ever on
	// a protocol that blocks; 0 means DefaultStallTimeout, negative disables the watchdog.
	StallTimeout time.Duration
	// NoProgress hides the progress bar (tests, non-terminals).
	NoProgress bool
	Stdout     io.Writer
	Stderr     io.Writer
	// Percentiles are extra latency percentiles to measure (Latency.At) and print in the
	// interval lines and tables (--percentile); nil keeps the fixed ones.
	Percentiles []float64
	// runDir and points are set by Run for the history checkers (verdicts.go).
	runDir string
	points int
	// SyncCost is the local durable-commit cost the model adds to every floor (--sync).
	SyncCost time.Duration
	// Print writes the finished run on Stdout; nil means results.PrintRun (--output).
	Print func(w io.Writer, run *results.Run, opts results.TableOptions)
	// Target, when set, runs every point on the real servers it names instead of the
	// model (replbench run --target; see runRealPoint).
	Target *target.File
	// Nodes, when set, runs every point's nodes as separate processes (replbench node)
	// over an external NATS instead of in this process (--nodes-external; bus_coord.go).
	Nodes *ExternalNodes
}

// DefaultStallTimeout is the default stall bound: longer than any wait a modelled protocol
// is meant to make on its own (semi-sync's 10 s fall-back timeout, Galera's 5 s suspect
// timeout), so that a stall it reports is a hang, not a protocol waiting as designed.
const DefaultStallTimeout = 30 * time.Second

// Outcome is what a run produced.
type Outcome struct {
	Run         *results.Run
	Dir         string // the run directory
	Interrupted bool   // ctx ended before every point ran
	Files       []string
}

// Run measures every point in order, one cluster at a time, and writes the run directory:
// results.json and results.csv (rewritten after every point, so an interrupted run keeps what
// it measured), scenario.yaml (the scenario as run, flags applied), environment.json, and
// the plots; then prints the table (and the published figures beside the measured ones when
// the points reproduce a published table) on Stdout. When ctx ends the current point stops,
// is recorded as interrupted, and the outputs are still written.
func Run(ctx context.Context, s *Scenario, points []PointSpec, opt Options) (*Outcome, error) {
	if opt.Stdout == nil {
		opt.Stdout = os.Stdout
	}
	if opt.Stderr == nil {
		opt.Stderr = os.Stderr
	}
	if opt.OutDir == "" {
		opt.OutDir = "runs"
	}
	if opt.ConvergeTimeout == 0 {
		opt.ConvergeTimeout = ConvergeTimeout
	}
	if opt.StallTimeout == 0 {
		opt.StallTimeout = DefaultStallTimeout
	}
	started := time.Now()
	name := s.Name
	if name == "" {
		name = "adhoc"
	}
	dir, err := makeRunDir(opt.OutDir, started, name)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Dir: dir}
	run := &results.Run{
		Schema: results.Schema, Scenario: s.Name, Description: s.Description, Explain: s.Explain, Seed: s.Seed,
		StartedAt:   started.UTC().Format(time.RFC3339),
		Environment: environment(opt.Bus),
		Points:      []results.Point{},
	}
	out.Run = run
	if y, err := s.Marshal(); err == nil {
		if err := results.WriteFileAtomic(filepath.Join(dir, results.ScenarioFile), y); err != nil {
			return out, err
		}
	}
	env, _ := json.MarshalIndent(struct {
		*results.Environment
		Seed      int64  `json:"seed"`
		StartedAt string `json:"started_at"`
	}{run.Environment, s.Seed, run.StartedAt}, "", "  ")
	if err := results.WriteFileAtomic(filepath.Join(dir, "environment.json"), append(env, '\n')); err != nil {
		return out, err
	}

	opt.runDir, opt.points = dir, len(points)
	con := newConsole(opt.Stderr, len(points), opt.NoProgress)
	con.plan(points, opt.Percentiles)
	var runErr error
	var warnings []string             // printed under the table
	var late []string                 // the points the emulator delivered late (delayWarning), one heading
	var short []string                // the points too short to measure (shortNote), one heading
	profiles := map[string][]string{} // each protocol's cost profiles, for mixedProfileWarnings
	for i := range points {
		ps := &points[i]
		con.begin(i, pointLabel(ps))
		measure := runPoint
		if opt.Target != nil {
			measure = runRealPoint
		}
		if opt.Nodes != nil {
			measure = runExternalPoint
		}
		p, warn, err := measure(ctx, s, ps, opt, con)
		if warn != "" {
			late = append(late, warn)
		}
		if n := shortNote(p, ps); n != "" {
			short = append(short, n)
		}
		warnings = append(warnings, pointWarnings(p, ps)...)
		if prof := costProfileOf(ps); !slices.Contains(profiles[ps.Protocol], prof) {
			profiles[ps.Protocol] = append(profiles[ps.Protocol], prof)
		}
		if p != nil {
			run.Points = append(run.Points, *p)
			if err := writeResults(dir, run); err != nil {
				runErr = err
				break
			}
			if opt.Status {
				con.printf("%s", statusText(p))
			}
		}
		if err != nil {
			runErr = fmt.Errorf("point %d (%s on %d nodes, %s, %d threads): %w", i+1, ps.Protocol, ps.Nodes, ps.Network.Name, ps.Threads, err)
			break
		}
		con.done(pointSummary(p))
		if ctx.Err() != nil {
			out.Interrupted = true
			break
		}
	}
	con.finish()
	warnings = append(append(lateWarnings(late), shortWarnings(short)...), warnings...)
	warnings = append(warnings, mixedProfileWarnings(profiles)...)
	run.Warnings = warnings
	if err := writeResults(dir, run); err != nil && runErr == nil {
		runErr = err
	}
	if b := con.intervals(); b != nil {
		if err := results.WriteFileAtomic(filepath.Join(dir, IntervalsFile), b); err != nil && runErr == nil {
			runErr = err
		}
		out.Files = append(out.Files, filepath.Join(dir, IntervalsFile))
	}
	out.Files = append(out.Files, filepath.Join(dir, "results.json"), filepath.Join(dir, "results.csv"), filepath.Join(dir, results.SeriesFile))
	if len(run.Points) > 0 {
		plots, err := writePlots(dir, run)
		if err != nil {
			fmt.Fprintf(opt.Stderr, "replbench: plots not written: %v\n", err)
		}
		out.Files = append(out.Files, plots...)
	}
	if opt.JSONPath != "" {
		if err := results.WriteJSON(opt.JSONPath, run); err != nil && runErr == nil {
			runErr = err
		}
	}
	if opt.CSVPath != "" {
		if err := results.WriteCSV(opt.CSVPath, run); err != nil && runErr == nil {
			runErr = err
		}
	}
	topts := results.TableOptions{ShowBound: true, ShowStatus: opt.Status, Warnings: warnings, Percentiles: opt.Percentiles}
	if opt.Print != nil {
		opt.Print(opt.Stdout, run, topts)
	} else {
		results.PrintRun(opt.Stdout, run, topts)
	}
	fmt.Fprintf(opt.Stderr, "replbench: results in %s\n", dir)
	return out, runErr
}

// writePlots draws the plots; a failure in drawing (even a panic in the plotting library)
// costs the plots, never the measured results, which are already on disk.
func writePlots(dir string, run *results.Run) (files []string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plotting failed: %v", r)
		}
	}()
	return results.WriteRendered(dir, run)
}

func writeResults(dir string, run *results.Run) error {
	if err := results.WriteJSON(filepath.Join(dir, "results.json"), run); err != nil {
		return err
	}
	if err := results.WriteCSV(filepath.Join(dir, "results.csv"), run); err != nil {
		return err
	}
	return results.WriteSeriesCSV(filepath.Join(dir, results.SeriesFile), run)
}

// makeRunDir creates <parent>/<timestamp>-<name>, adding a suffix if two runs start in the
// same second.
func makeRunDir(parent string, t time.Time, name string) (string, error) {
	base := filepath.Join(parent, t.Format("20060102-150405")+"-"+sanitize(name))
	dir := base
	for i := 2; ; i++ {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return "", fmt.Errorf("create the output directory: %w", err)
		}
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !os.IsExist(err) {
			return "", fmt.Errorf("create the run directory: %w", err)
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r == ' ' || r == ':' {
			return '_'
		}
		return r
	}, s)
}

// Version is the program's version, from the module's build information.
func Version() (version, commit string) {
	version = "(devel)"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version, ""
	}
	if bi.Main.Version != "" {
		version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			if s.Value == "true" && commit != "" {
				commit += "+dirty"
			}
		}
	}
	return version, commit
}

func environment(bus BusConfig) *results.Environment {
	v, c := Version()
	return &results.Environment{
		Version: v, Commit: c, GoVersion: runtime.Version(),
		OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Bus: bus.String(),
	}
}

// runPoint measures one point. It returns the point (possibly partial, when ctx ended), a
// warning line for under the table when the emulator was measurably late (see
// delayWarning), and an error when the cluster could not be brought up.
func runPoint(ctx context.Context, s *Scenario, ps *PointSpec, opt Options, con *console) (*results.Point, string, error) {
	cc := clusterConfig{dataDir: opt.DataDir, bus: opt.Bus, seed: s.Seed, loadProgress: loadReporter(con, ps.Workload.Name, time.Now())}
	c, err := startCluster(ctx, ps, cc, func(string) {})
	if err != nil {
		return nil, "", err
	}
	closed := false
	defer func() {
		if !closed {
			_ = c.close()
		}
		// Each point starts from a freshly loaded database: the on-disk copies are scratch.
		_ = c.removeDataDirs(opt.DataDir)
	}()
	p := &results.Point{
		Protocol: ps.Protocol, Nodes: ps.Nodes, Network: resultNetwork(ps.Network.Name, ps.Net),
		Workload: ps.Workload.Name, Options: ps.Workload.Options, Params: ps.UserParams(),
		Threads: ps.Threads, Writers: ps.Writers, Queries: ps.Queries, Duration: ps.Duration.Seconds(),
		Repeat: ps.Repeat,
	}
	if len(p.Params) == 0 {
		p.Params = nil
	}
	if cw, ok := c.workload.(workloads.Configured); ok {
		p.Options = cw.Settings()
	}
	clients := c.clients(ps, s.Seed+int64(ps.Index)*1_000_003)
	l := load{queries: ps.Queries, duration: ps.Duration, rate: ps.Rate, retries: ps.Retries, backoff: ps.RetryBackoff, refused: ps.RefusedBackoff, stall: max(opt.StallTimeout, 0)}
	warmupStalled := false
	if ps.Warmup > 0 {
		w := l
		w.queries, w.duration = 0, ps.Warmup
		if wr := runPhase(ctx, clients, w); wr.stalled {
			// Measure nothing after a stalled warm-up: the cluster is already stuck.
			msg := "in the warm-up, " + stallText(wr, l.stall)
			p.Notes = append(p.Notes, "stalled: "+msg)
			con.printf("\n*** STALLED: %s on %d nodes, %s, %d threads: %s ***\n\n", ps.Protocol, ps.Nodes, ps.Network.Name, ps.Threads, msg)
			warmupStalled = true
		}
		for _, cl := range clients {
			cl.stats = newClientStats()
		}
		c.emu.ResetStats()
	}
	phaseStart := time.Now()
	series := startSeries(con, clients, providerStatus(c.providers), c.members, pointLabel(ps), phaseStart, opt.ReportInterval)
	tl := startTimeline(expandNemesis(ps.Faults, c.members, ps.Duration, ps.Protocol, s.Seed), newClusterTarget(c), phaseStart, func(at time.Duration, f FaultEvent) {
		con.printf("%s [%6.1fs] fault: %s\n", time.Now().Format("15:04:05.000"), at.Seconds(), strings.Replace(f.Event(), "=", " ", 1))
	})
	var ph phaseResult
	if !warmupStalled {
		ph = runPhase(ctx, clients, l)
	}
	elapsed := ph.elapsed
	applied, pending, cut := tl.stop()
	p.Series = series.stop(phaseStart.Add(elapsed))
	p.Faults = applied
	for _, f := range pending {
		p.Notes = append(p.Notes, fmt.Sprintf("fault %s did not fire: the measured phase ended after %.3fs", f, elapsed.Seconds()))
	}
	if cut {
		// Leave the network whole for the convergence check: a partition still in force
		// would make every point that ends inside one look diverged.
		c.emu.Heal()
		p.Faults = append(p.Faults, fmt.Sprintf("%.3fs heal (end of the measured phase, before the convergence check)", time.Since(phaseStart).Seconds()))
	}
	if ph.stalled {
		msg := stallText(ph, l.stall)
		p.Notes = append(p.Notes, "stalled: "+msg)
		con.printf("\n*** STALLED: %s on %d nodes, %s, %d threads: %s ***\n\n", ps.Protocol, ps.Nodes, ps.Network.Name, ps.Threads, msg)
	}

	interrupted, cto := endOfPhase(ctx, p, clients, l.refused, elapsed, opt)
	cv := c.converge(context.Background(), cto)
	p.Converged, p.ConvergenceDetail = cv.ok, cv.detail
	if events, lost := busLost(c.emu); lost != nil {
		p.Notes = append(p.Notes, events...)
		p.Converged, p.ConvergenceDetail = false, "the NATS bus lost a connection during the point ("+lost.Error()+"); messages may be lost"
		cv.ok, cv.detail = false, p.ConvergenceDetail
	}
	if cv.waited != "" {
		p.Notes = append(p.Notes, cv.waited)
	}
	if !cv.ok {
		con.printf("\n*** NOT CONVERGED: %s on %d nodes, %s, %d threads: %s ***\n\n", ps.Protocol, ps.Nodes, ps.Network.Name, ps.Threads, cv.detail)
	}
	if !interrupted {
		// The checks run whether or not the point converged, on each node's own data.
		cctx, cancel := context.WithTimeout(context.Background(), ConvergeTimeout)
		checks, err := c.workload.Check(cctx, c.localDBs())
		cancel()
		if err != nil {
			p.Notes = append(p.Notes, "workload check failed to run: "+err.Error())
		}
		if len(checks) > 0 {
			p.Checks = checks
		}
	}
	checkHistory(context.Background(), c, ps, opt.runDir, opt.points, p)
	if m, ok := c.workload.(workloads.Metricser); ok {
		byType := map[string]int64{}
		for name, t := range p.ByType {
			byType[name] = t.Committed
		}
		p.Metrics = m.Metrics(byType, elapsed)
	}
	p.Status = map[string]map[string]string{}
	for i, pr := range c.providers {
		m := map[string]string{}
		for _, v := range pr.Status() {
			m[v.Name] = v.Value
		}
		st := c.engines[i].Stats()
		m["replbench_engine_commits"] = fmt.Sprint(st.Commits)
		m["replbench_engine_rollbacks"] = fmt.Sprint(st.Rollbacks)
		m["replbench_engine_applied"] = fmt.Sprint(st.Applied)
		m["Innodb_row_lock_waits"] = fmt.Sprint(st.LockWaits)
		m["Innodb_deadlocks"] = fmt.Sprint(st.Deadlocks)
		p.Status[c.members[i]] = m
	}
	es := c.emu.Stats()
	if es.DelayErrorN > 0 {
		p.Network.DelayError = &results.Percentiles{P50: es.DelayErrorP50Ms, P99: es.DelayErrorP99Ms, Max: es.DelayErrorMaxMs, N: es.DelayErrorN}
	}
	if es.Early > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("emulator delivered %d messages early: the network was not emulated faithfully", es.Early))
	}
	closed = true
	if err := closeWithin(c, closeTimeout); err != nil {
		p.Notes = append(p.Notes, "close: "+err.Error())
	}
	setBound(p, ps, opt.SyncCost)
	noteServer(p, ps)
	if !interrupted {
		p.Reference = results.ReferenceFor(s.Name, p) // a partial point reproduces nothing
	}
	return p, delayWarning(p, smallestOneWay(ps.Net, c.members)), nil
}

// stallText says what a stalled phase left behind.
func stallText(r phaseResult, bound time.Duration) string {
	var parts []string
	for _, n := range sortedKeys(r.stuck) {
		parts = append(parts, fmt.Sprintf("%d on %s", r.stuck[n], n))
	}
	msg := fmt.Sprintf("no transaction finished for %s (the stall bound, --stall-timeout); transactions in flight: %s; they were cancelled and are counted neither as commits nor as aborts", bound, strings.Join(parts, ", "))
	if r.abandoned > 0 {
		msg += fmt.Sprintf("; %d clients ignored the cancellation and were abandoned to the cluster's close", r.abandoned)
	}
	return msg
}

// closeTimeout bounds the close of a point's cluster: a provider stuck in a stalled
// commit must not hang the run after its results are measured.
const closeTimeout = 30 * time.Second

// closeWithin closes the cluster, giving up after d; a close that does not finish leaves
// its goroutines behind, which the point's notes report.
func closeWithin(c *cluster, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- c.close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return fmt.Errorf("the cluster did not close within %s; its goroutines were left running", d)
	}
}

// statusText renders a point's status variables per node, sorted by name.
func statusText(p *results.Point) string {
	var b strings.Builder
	fmt.Fprintf(&b, "status after %s, %d nodes, %s, %d threads:\n", p.Protocol, p.Nodes, p.Network.Preset, p.Threads)
	for _, node := range sortedKeys(p.Status) {
		m := p.Status[node]
		names := sortedKeys(m)
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(&b, "  %-4s %-45s %s\n", node, n, m[n])
		}
	}
	return b.String()
}

// endOfPhase merges the clients' statistics into a point when its measured phase is over
// (model and real points alike), fills its elapsed time and tps, notes refusals (refused is
// the clients' backoff after one) and an interrupted point, and returns the bound for the
// convergence check, which gets its own context: an interrupted run still checks what it
// wrote, with a shorter bound.
func endOfPhase(ctx context.Context, p *results.Point, clients []*client, refused, elapsed time.Duration, opt Options) (interrupted bool, cto time.Duration) {
	stats := make([]*clientStats, len(clients))
	for i, cl := range clients {
		stats[i] = cl.stats
	}
	mergeStats(stats, p)
	p.Latency.At = percentilesAt(stats, opt.Percentiles)
	if n := refusalNote(clients, refused); n != "" {
		p.Notes = append(p.Notes, n)
	}
	p.ElapsedS = elapsed.Seconds()
	if p.ElapsedS > 0 {
		p.TPS = float64(p.Committed) / p.ElapsedS
	}
	interrupted = ctx.Err() != nil
	cto = opt.ConvergeTimeout
	if interrupted {
		p.Notes = append(p.Notes, "interrupted: the point stopped early and measured only part of its work")
		cto = min(cto, 5*time.Second)
	}
	return interrupted, cto
}
