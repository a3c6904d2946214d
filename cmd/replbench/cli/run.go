package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/replbench/replbench/harness"
	"github.com/replbench/replbench/harness/target"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/results"
	"github.com/replbench/replbench/workloads"
)

// durationFlag is a non-negative duration, for the flags that say how a run is carried out.
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

// runFlags are the flags of `replbench run`: the flag table's cluster and load flags, which
// parse into o, and the flags that say how the run is carried out and where its output goes.
type runFlags struct {
	fs *flag.FlagSet
	o  harness.Overrides
	// experiment names the flags that describe what is measured (the table's). Without
	// any of them (and without a scenario) `replbench run` runs the default comparison.
	experiment map[string]bool

	reportInterval, stall durationFlag

	bus                             harness.BusConfig // --bus, --nats-url and NATS credentials (flags.go)
	dataDir, out, jsonPath, csvPath string
	status, noProgress              bool

	ux uxFlags // --repeats, --percentile, --output, --wide, --yes, --sync (ux.go)

	nodes nodesFlags // --nodes-external, --run-id, --nodes-wait (node.go)

	targetPath string       // --target FILE (compare.go)
	target     *target.File // the loaded target file, when --target was given
}

func newRunFlags() *runFlags {
	f := &runFlags{fs: flag.NewFlagSet("run", flag.ContinueOnError), experiment: map[string]bool{}}
	fs := f.fs
	fs.SetOutput(io.Discard)
	for _, n := range addClusterFlags(fs, &f.o, clusterDefaults{Protocol: "every registered protocol", Nodes: "3, or what the protocol accepts when it is not 3", Threads: "1"}) {
		f.experiment[n] = true
	}
	for _, n := range addLoadFlags(fs, &f.o) {
		f.experiment[n] = true
	}
	delete(f.experiment, "seed") // the seed changes the draw, not the experiment
	fs.Var(&f.reportInterval, "report-interval", "print a timestamped tps/p95/aborts line every interval")
	fs.Var(&f.stall, "stall-timeout", "end a point whose transactions make no progress for this long and report the stall (default 30s)")
	fs.BoolVar(&f.status, "status", false, "print each node's status variables after each point")
	addBusFlags(fs, &f.bus)
	fs.StringVar(&f.dataDir, "data-dir", "", "keep each node's database on disk under DIR/<node> (default: in memory)")
	fs.StringVar(&f.out, "out", "runs", "parent directory of the run directory <timestamp>-<scenario>")
	fs.StringVar(&f.jsonPath, "json", "", "also write the results as JSON (schema replbench/v1) to FILE")
	fs.StringVar(&f.csvPath, "csv", "", "also write the results as CSV to FILE")
	fs.BoolVar(&f.noProgress, "no-progress", false, "hide the progress bar")
	f.ux.define(fs)
	f.experiment["repeats"] = true
	addTargetFlags(fs, &f.targetPath)
	f.nodes.define(fs)
	return f
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
	positional, err := parseFlags(f.fs, args)
	if err != nil {
		return "", nil, err
	}
	if len(positional) > 1 {
		return "", nil, fmt.Errorf("more than one scenario given: %s (accepted: one built-in name or one FILE.yaml)", strings.Join(positional, " "))
	}
	if len(positional) == 1 {
		scenario = positional[0]
	}
	set = visited(f.fs)
	if len(f.o.WorkloadOptions) > 0 {
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
		if err := setKV(&f.o.WorkloadOptions, name+"="+val, "NAME=VALUE"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// defaultRunLength is the run length of a point whose command line gives neither --queries
// nor --time: long enough for the too-short warning (ShortCommits, ShortElapsed) not to
// fire on the LAN, short enough for the default comparison to finish in seconds.
const defaultRunLength = 2 * time.Second

// defaultScenario is what `replbench run` runs without a scenario: every registered protocol
// (standalone on one node, the others on three) with the mysqlslap insert load on the LAN,
// each point for defaultRunLength. With experiment flags the same base is used, and the
// flags replace what they name.
func defaultScenario(comparison bool) *harness.Scenario {
	s := &harness.Scenario{
		Workload: harness.WorkloadSpec{Name: "insert"},
		Threads:  harness.IntList{1},
		Sweep:    harness.Sweep{Protocols: protocols.Names()},
		Duration: harness.Duration(defaultRunLength),
	}
	if comparison {
		s.Name = "default"
		s.Description = fmt.Sprintf("A short comparison of every registered protocol: mysqlslap inserts from 8 clients on n1 over the LAN for %s per protocol; standalone runs on one node, the others on three.", defaultRunLength)
		s.Threads = harness.IntList{8}
	}
	return s
}

// checkOutputs validates where output goes, before anything is written.
func (f *runFlags) checkOutputs() error {
	for _, p := range []struct{ flag, path string }{{"--json", f.jsonPath}, {"--csv", f.csvPath}} {
		if p.path == "" {
			continue
		}
		if p.path == results.Stdout && p.flag == "--csv" {
			return fmt.Errorf("--csv -: standard output is not accepted for CSV (accepted: a file name; use --output plain or --json - for standard output)")
		}
		if err := results.CheckWritable(p.path); err != nil {
			return fmt.Errorf("%s: %v", p.flag, err)
		}
	}
	if f.jsonPath == results.Stdout && f.ux.output != "table" {
		return fmt.Errorf("--json - conflicts with --output %s (accepted: one of them writing to standard output)", f.ux.output)
	}
	if f.out == "" {
		return fmt.Errorf("--out: empty (accepted: a directory, default runs)")
	}
	if err := results.CheckWritableDir(f.out); err != nil {
		return fmt.Errorf("--out: %v", err)
	}
	if f.dataDir != "" {
		if err := results.CheckWritableDir(f.dataDir); err != nil {
			return fmt.Errorf("--data-dir: %v", err)
		}
		if err := harness.CheckDataDir(f.dataDir); err != nil {
			return fmt.Errorf("--data-dir: %v", err)
		}
	}
	if err := checkBus(&f.bus); err != nil {
		return err
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
			experiment = experiment || f.experiment[name]
		}
		s = defaultScenario(!experiment)
	}
	if err := f.applyTarget(); err != nil {
		return f, nil, nil, err
	}
	s.Apply(f.o)
	if set["repeats"] {
		s.Repeats = f.ux.repeats
	}
	if s.Name == "" {
		s.Name = "adhoc"
	}
	if f.o.Seed == nil && s.Seed == 0 {
		s.Seed = 1 // --seed's default
	}
	if err := f.checkOutputs(); err != nil {
		return f, nil, nil, err
	}
	points, err := harness.Expand(s)
	if err != nil {
		return f, nil, nil, err
	}
	if err := f.nodes.check(set, f.bus, points, s.Seed); err != nil {
		return f, nil, nil, err
	}
	if err := f.ux.confirm(points); err != nil {
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
	// SIGTERM (kill, a CI runner's timeout, systemd) stops the run as Ctrl-C does: the
	// current point ends and what was measured is written.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	jsonPath, print := f.jsonPath, f.ux.printer()
	if jsonPath == results.Stdout {
		jsonPath, print = "", jsonToStdout(print, stderr)
	}
	if f.nodes.external && f.target != nil {
		fmt.Fprintln(stderr, "replbench run: --target conflicts with --nodes-external: the points run on real servers or on node processes (accepted: one of them; replbench compare takes both, the model side on the node processes)")
		return ExitUsage
	}
	ext, err := f.nodes.connect(ctx, f.bus, points, s.Seed)
	if err != nil {
		fmt.Fprintf(stderr, "replbench run: %s\n", oneLine(err.Error()))
		return ExitUsage
	}
	if ext != nil {
		defer ext.Close()
	}
	out, err := harness.Run(ctx, s, points, harness.Options{
		Bus:     f.bus,
		DataDir: f.dataDir, OutDir: f.out, JSONPath: jsonPath, CSVPath: f.csvPath,
		ReportInterval: f.reportInterval.d, Status: f.status, NoProgress: f.noProgress,
		StallTimeout: f.stall.d,
		Stdout:       stdout, Stderr: stderr,
		Percentiles: f.ux.percentiles, SyncCost: f.ux.sync, Print: print,
		Target: f.target, Nodes: ext,
	})
	if err != nil {
		fmt.Fprintf(stderr, "replbench run: %s\n", oneLine(err.Error()))
		return ExitFailure
	}
	if out.Interrupted {
		fmt.Fprintln(stderr, "replbench run: interrupted; the points measured so far are written")
		return ExitInterrupted
	}
	if reportFailures(stderr, "replbench run", out.Run) {
		return ExitFailure
	}
	return ExitOK
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
