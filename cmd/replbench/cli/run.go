package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/replbench/replbench/harness"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/workloads"
)

// listFlag is a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// durationFlag is a non-negative duration.
type durationFlag struct{ d time.Duration }

func (f *durationFlag) String() string { return f.d.String() }
func (f *durationFlag) Set(v string) error {
	d, err := harness.ParseDuration(v)
	if err != nil {
		return err
	}
	f.d = d
	return nil
}

// runFlags are the flags of `replbench run`.
type runFlags struct {
	fs *flag.FlagSet

	protocol, workload, threads, network, writers, jitter, loss string
	nodes, retries                                              int
	queries, seed                                               int64
	rate                                                        float64
	duration, warmup, retryBackoff, reportInterval, stall       durationFlag
	refusedBackoff                                              durationFlag
	delays, links, params, workloadOpts, faults                 listFlag

	bus, natsURL, dataDir, out, jsonPath, csvPath string
	status, noProgress                            bool
}

func newRunFlags() *runFlags {
	f := &runFlags{fs: flag.NewFlagSet("run", flag.ContinueOnError)}
	fs := f.fs
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.protocol, "protocol", "", "protocol to run (see 'replbench params'); default: every registered protocol")
	fs.IntVar(&f.nodes, "nodes", 0, "cluster size n1..nN, 1 to 64 (default: 3, or what the protocol accepts when it is not 3)")
	fs.StringVar(&f.workload, "workload", "", "workload (see 'replbench workloads'; default insert)")
	fs.StringVar(&f.threads, "threads", "", "client threads per point, comma-separated: each value is one point (e.g. 1,4,8)")
	fs.Int64Var(&f.queries, "queries", 0, "transactions per point over all clients, split evenly (mysqlslap's --number-of-queries)")
	fs.Var(&f.duration, "duration", "run length per point (e.g. 10s), instead of --queries")
	fs.StringVar(&f.network, "network", "", "network preset: "+strings.Join(transport.PresetNames(), ", ")+" (default lan)")
	fs.Var(&f.delays, "delay", "NODE=DUR: egress delay of a node, as tc netem on its interface (repeatable)")
	fs.Var(&f.links, "link", "A-B=DUR: one-way delay each way between A and B; A>B=DUR one way only (repeatable)")
	fs.StringVar(&f.jitter, "jitter", "", "jitter: constant:D, uniform:D, normal:MEAN,SD or pareto:MEAN,SD")
	fs.StringVar(&f.loss, "loss", "", "message loss probability (0.01 or 1%)")
	fs.StringVar(&f.writers, "writers", "", "nodes that run clients: n1, all, or n1,n3 (default n1)")
	fs.Var(&f.params, "param", "NAME=VALUE on every node, or NODE:NAME=VALUE on one (repeatable; see 'replbench params PROTOCOL')")
	fs.Var(&f.workloadOpts, "workload-option", "NAME=VALUE workload option (repeatable); options may also be given as their own flags, e.g. --hot-rows 4")
	fs.Int64Var(&f.seed, "seed", 1, "seed for data, clients, jitter and loss")
	fs.Float64Var(&f.rate, "rate", 0, "open loop: transactions/s over all clients, latency measured from the intended start (0: closed loop)")
	fs.Var(&f.warmup, "warmup", "warm-up time per point, excluded from the measurement")
	fs.IntVar(&f.retries, "retries", 0, "retries of a deadlock/certification/lock-timeout failure (default 0: mysqlslap does not retry)")
	fs.Var(&f.retryBackoff, "retry-backoff", "pause before each retry")
	f.refusedBackoff.d = harness.DefaultRefusedBackoff
	fs.Var(&f.refusedBackoff, "refused-backoff", "pause of a client whose node refused its transaction (1290 read-only, 1047 not ready) before its next attempt, as a connection pool would; 0 retries at once")
	fs.Var(&f.reportInterval, "report-interval", "print a timestamped tps/p95/aborts line every interval")
	fs.Var(&f.faults, "fault", "AT:EVENT fault during the measured phase (repeatable), AT counted from its start; events: partition=n1,n2|n3, oneway=n1>n3, heal, clog=n1>n2 or n1-n2, unclog=..., delay=n3=50ms, link=n1-n2=40ms, loss=0.05; e.g. --fault 5s:partition=n1,n2|n3 --fault 10s:heal")
	fs.Var(&f.stall, "stall-timeout", "end a point whose transactions make no progress for this long and report the stall (default 30s)")
	fs.BoolVar(&f.status, "status", false, "print each node's status variables after each point")
	fs.StringVar(&f.bus, "bus", "nats", "message bus: nats (embedded, or external with --nats-url) or memory")
	fs.StringVar(&f.natsURL, "nats-url", "", "URL of an external NATS cluster (default: an embedded server)")
	fs.StringVar(&f.dataDir, "data-dir", "", "keep each node's database on disk under DIR/<node> (default: in memory)")
	fs.StringVar(&f.out, "out", "runs", "parent directory of the run directory <timestamp>-<scenario>")
	fs.StringVar(&f.jsonPath, "json", "", "also write the results as JSON (schema replbench/v1) to FILE")
	fs.StringVar(&f.csvPath, "csv", "", "also write the results as CSV to FILE")
	fs.BoolVar(&f.noProgress, "no-progress", false, "hide the progress bar")
	return f
}

// experimentFlags are the flags that describe what is measured. Without any of them (and
// without a scenario) `replbench run` runs the default comparison; the other flags only say
// where output goes and how the run is carried out.
var experimentFlags = map[string]bool{
	"protocol": true, "nodes": true, "workload": true, "threads": true, "queries": true,
	"duration": true, "network": true, "delay": true, "link": true, "jitter": true, "loss": true,
	"writers": true, "param": true, "workload-option": true, "rate": true, "warmup": true,
	"retries": true, "retry-backoff": true, "refused-backoff": true, "fault": true,
}

func (f *runFlags) usage(w io.Writer) {
	fmt.Fprintln(w, "usage: replbench run [SCENARIO|FILE.yaml] [flags]")
	fmt.Fprintln(w, "\nWithout a scenario and without experiment flags, runs a short comparison of every")
	fmt.Fprintln(w, "registered protocol. Flags given with a scenario override the scenario's fields.")
	fmt.Fprintln(w, "\nflags:")
	f.fs.SetOutput(w)
	f.fs.PrintDefaults()
	f.fs.SetOutput(io.Discard)
}

// parse parses args, allowing the scenario argument before, between or after flags, and
// workload options given as their own flags (--hot-rows 4).
func (f *runFlags) parse(args []string) (scenario string, set map[string]bool, err error) {
	args, err = f.extractWorkloadOptions(args)
	if err != nil {
		return "", nil, err
	}
	var positional []string
	for {
		if err := f.fs.Parse(args); err != nil {
			return "", nil, err
		}
		if f.fs.NArg() == 0 {
			break
		}
		positional = append(positional, f.fs.Arg(0))
		args = f.fs.Args()[1:]
	}
	if len(positional) > 1 {
		return "", nil, fmt.Errorf("more than one scenario given: %s (accepted: one built-in name or one FILE.yaml)", strings.Join(positional, " "))
	}
	if len(positional) == 1 {
		scenario = positional[0]
	}
	set = map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if len(f.workloadOpts) > 0 {
		set["workload-option"] = true
	}
	return scenario, set, nil
}

// extractWorkloadOptions moves --NAME VALUE / --NAME=VALUE, where NAME is not a run flag but
// an option of a registered workload, into --workload-option NAME=VALUE.
func (f *runFlags) extractWorkloadOptions(args []string) ([]string, error) {
	known := map[string]bool{}
	for _, n := range workloads.Names() {
		d, _ := workloads.Lookup(n)
		for _, o := range d.Options {
			known[o.Name] = true
		}
	}
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			out = append(out, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if f.fs.Lookup(name) != nil || !known[name] {
			out = append(out, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("workload option --%s needs a value (e.g. --%s=VALUE)", name, name)
			}
			i++
			val = args[i]
		}
		f.workloadOpts = append(f.workloadOpts, name+"="+val)
	}
	return out, nil
}

// defaultScenario is what `replbench run` runs without a scenario: every registered protocol
// (standalone on one node, the others on three) with the mysqlslap insert load on the LAN.
// With experiment flags the same base is used without its run length, which the flags must
// then give.
func defaultScenario(comparison bool) *harness.Scenario {
	s := &harness.Scenario{
		Workload: harness.WorkloadSpec{Name: "insert"},
		Threads:  harness.IntList{1},
		Sweep:    harness.Sweep{Protocols: protocols.Names()},
	}
	if comparison {
		s.Name = "default"
		s.Description = "A short comparison of every registered protocol: 2000 mysqlslap inserts from 8 clients on n1 over the LAN; standalone runs on one node, the others on three."
		s.Threads = harness.IntList{8}
		s.Queries = 2000
	}
	return s
}

// applyFlags writes the flags the user set over the scenario's fields; a flag replaces the
// field and any sweep axis of the same field, and the network flags refine every network of
// the run.
func (f *runFlags) applyFlags(s *harness.Scenario, set map[string]bool) error {
	m := harness.Overrides{}
	if set["protocol"] {
		m.Protocol = &f.protocol
	}
	if set["nodes"] {
		// 0 is a scenario file's "protocol default"; on the command line it is more
		// likely a script's empty variable, and running 3 nodes instead would be a
		// measurement of something else, so it is refused: leave the flag out instead.
		if f.nodes < 1 || f.nodes > 64 {
			return fmt.Errorf("--nodes: invalid node count %d (accepted: 1 to 64; leave the flag out for the protocol's default)", f.nodes)
		}
		m.Nodes = &f.nodes
	}
	if set["workload"] {
		m.Workload = &f.workload
	}
	for _, kv := range f.workloadOpts {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("--workload-option %q: expected NAME=VALUE", kv)
		}
		if m.WorkloadOptions == nil {
			m.WorkloadOptions = map[string]string{}
		}
		m.WorkloadOptions[strings.TrimLeft(k, "-")] = v
	}
	if set["threads"] {
		t, err := harness.ParseIntList(f.threads)
		if err != nil {
			return fmt.Errorf("--threads: %v", err)
		}
		m.Threads = t
	}
	if set["queries"] {
		if f.queries <= 0 {
			return fmt.Errorf("--queries: invalid count %d (accepted: a positive number of transactions)", f.queries)
		}
		m.Queries = &f.queries
	}
	if set["duration"] {
		if f.duration.d <= 0 {
			return fmt.Errorf("--duration: invalid run length %s (accepted: a positive duration such as 10s)", f.duration.d)
		}
		m.Duration = &f.duration.d
	}
	if set["network"] {
		m.Network = &f.network
	}
	for _, d := range f.delays {
		node, dur, err := transport.ParseEgress(d)
		if err != nil {
			return fmt.Errorf("--delay: %v", err)
		}
		if m.Egress == nil {
			m.Egress = map[string]time.Duration{}
		}
		m.Egress[node] = dur
	}
	for _, l := range f.links {
		ld, err := transport.ParseLink(l)
		if err != nil {
			return fmt.Errorf("--link: %v", err)
		}
		sep := "-"
		if ld.Directed {
			sep = ">"
		}
		if m.Links == nil {
			m.Links = map[string]time.Duration{}
		}
		m.Links[ld.From+sep+ld.To] = ld.Delay
	}
	if set["jitter"] {
		if _, err := transport.ParseJitter(f.jitter); err != nil {
			return fmt.Errorf("--jitter: %v", err)
		}
		m.Jitter = &f.jitter
	}
	if set["loss"] {
		v, err := transport.ParseLoss(f.loss)
		if err != nil {
			return fmt.Errorf("--loss: %v", err)
		}
		m.Loss = &v
	}
	if set["writers"] {
		w := harness.ParseWriters(f.writers)
		if len(w) == 0 {
			return fmt.Errorf("--writers: empty (accepted: n1, all, or a list such as n1,n3)")
		}
		m.Writers = w
	}
	for _, kv := range f.params {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("--param %q: expected NAME=VALUE or NODE:NAME=VALUE", kv)
		}
		if m.Params == nil {
			m.Params = map[string]string{}
		}
		m.Params[k] = v
	}
	if set["seed"] {
		m.Seed = &f.seed
	}
	if set["rate"] {
		m.Rate = &f.rate
	}
	if set["warmup"] {
		m.Warmup = &f.warmup.d
	}
	if set["retries"] {
		m.Retries = &f.retries
	}
	if set["retry-backoff"] {
		m.RetryBackoff = &f.retryBackoff.d
	}
	if set["refused-backoff"] {
		m.RefusedBackoff = &f.refusedBackoff.d
	}
	for _, fv := range f.faults {
		ev, err := harness.ParseFault(fv)
		if err != nil {
			return fmt.Errorf("--fault: %v", err)
		}
		m.Faults = append(m.Faults, ev)
	}
	s.Apply(m)
	return nil
}

// checkOutputs validates where output goes, before anything is written.
func (f *runFlags) checkOutputs() error {
	if err := (harness.BusConfig{Kind: f.bus, URL: f.natsURL}).Validate(); err != nil {
		return fmt.Errorf("--bus: %v", err)
	}
	for _, p := range []struct{ flag, path string }{{"--json", f.jsonPath}, {"--csv", f.csvPath}} {
		if p.path == "" {
			continue
		}
		dir := filepath.Dir(p.path)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return fmt.Errorf("%s %s: directory %s does not exist (accepted: a file in an existing directory)", p.flag, p.path, dir)
		}
	}
	if f.out == "" {
		return fmt.Errorf("--out: empty (accepted: a directory, default runs)")
	}
	if st, err := os.Stat(f.out); err == nil && !st.IsDir() {
		return fmt.Errorf("--out %s: not a directory", f.out)
	}
	if f.dataDir != "" {
		if st, err := os.Stat(f.dataDir); err == nil && !st.IsDir() {
			return fmt.Errorf("--data-dir %s: not a directory", f.dataDir)
		}
		if err := harness.CheckDataDir(f.dataDir); err != nil {
			return fmt.Errorf("--data-dir: %v", err)
		}
	}
	return nil
}

// prepare turns the command line into a scenario and its points, or an error for one line
// on stderr. Nothing is created here.
func prepare(args []string) (*runFlags, *harness.Scenario, []harness.PointSpec, error) {
	f := newRunFlags()
	ref, set, err := f.parse(args)
	if err != nil {
		return f, nil, nil, err
	}
	var s *harness.Scenario
	switch {
	case ref != "":
		if s, err = harness.LoadScenario(ref); err != nil {
			return f, nil, nil, err
		}
	default:
		experiment := false
		for name := range set {
			experiment = experiment || experimentFlags[name]
		}
		s = defaultScenario(!experiment)
	}
	if err := f.applyFlags(s, set); err != nil {
		return f, nil, nil, err
	}
	if s.Name == "" {
		s.Name = "adhoc"
	}
	if !set["seed"] && s.Seed == 0 {
		s.Seed = f.seed
	}
	if err := f.checkOutputs(); err != nil {
		return f, nil, nil, err
	}
	points, err := harness.Expand(s)
	if err != nil {
		return f, nil, nil, err
	}
	return f, s, points, nil
}

func runMain(args []string, stdout, stderr io.Writer) int {
	f, s, points, err := prepare(args)
	if errors.Is(err, flag.ErrHelp) {
		f.usage(stdout)
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "replbench run: %s\n", oneLine(err.Error()))
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	out, err := harness.Run(ctx, s, points, harness.Options{
		Bus:     harness.BusConfig{Kind: f.bus, URL: f.natsURL},
		DataDir: f.dataDir, OutDir: f.out, JSONPath: f.jsonPath, CSVPath: f.csvPath,
		ReportInterval: f.reportInterval.d, Status: f.status, NoProgress: f.noProgress,
		StallTimeout: f.stall.d,
		Stdout:       stdout, Stderr: stderr,
	})
	if err != nil {
		fmt.Fprintf(stderr, "replbench run: %s\n", oneLine(err.Error()))
		return ExitFailure
	}
	if out.Interrupted {
		fmt.Fprintln(stderr, "replbench run: interrupted; the points measured so far are written")
		return ExitInterrupted
	}
	for _, p := range out.Run.Points {
		if !p.Converged {
			return ExitFailure
		}
	}
	return ExitOK
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
