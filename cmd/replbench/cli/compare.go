package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"

	"github.com/replbench/replbench/harness"
	"github.com/replbench/replbench/harness/target"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/results"
	"github.com/replbench/replbench/semisync"
)

// targetProtocol is the model protocol that stands for each kind of target.
var targetProtocol = map[string]string{
	"galera": "galera", "semisync": "semisync", "gr": "group-replication", "standalone": "standalone",
}

// applyTarget loads --target and makes the model side of the points describe the same
// cluster: its node count, the protocol of its kind, the delays its proxy holds (the
// target file's network), and, for semi-sync, the flavour of its servers (MariaDB 10.11, where the
// protocol declares that flavour) and the wait point the source runs with. What the command line already says wins only where
// it agrees; a disagreement (3 nodes asked of a 4-node target) is a usage error, since
// the comparison would compare two different clusters.
func (f *runFlags) applyTarget() error {
	if f.targetPath == "" {
		return nil
	}
	tf, err := target.Load(f.targetPath)
	if err != nil {
		return fmt.Errorf("--target: %v", err)
	}
	n := len(tf.Nodes)
	if f.o.Nodes != nil && *f.o.Nodes != n {
		return fmt.Errorf("--nodes %d: target %s has %d nodes (accepted: leave --nodes out with --target)", *f.o.Nodes, tf.Path, n)
	}
	f.o.Nodes = &n
	proto := targetProtocol[tf.Kind]
	if len(f.o.Protocols) > 0 && (len(f.o.Protocols) != 1 || f.o.Protocols[0] != proto) {
		return fmt.Errorf("--protocol %s: target %s is a %s cluster (accepted: leave --protocol out, or --protocol %s)", strings.Join(f.o.Protocols, ","), tf.Path, tf.Kind, proto)
	}
	f.o.Protocols = []string{proto}
	if len(f.o.Egress) > 0 || len(f.o.Links) > 0 {
		return fmt.Errorf("--delay/--link with --target: a real node's delays are the proxy's (accepted: scripts/real-cluster.sh delay NODE=DUR, which the target file then records)")
	}
	if tf.Network != nil {
		for node, d := range tf.Network.Delay {
			dd, err := time.ParseDuration(d)
			if err != nil && d == "0" {
				dd, err = 0, nil
			}
			if err != nil {
				return fmt.Errorf("--target: %s: network.delay %s=%q: %v", tf.Path, node, d, err)
			}
			if dd > 0 {
				setDuration(&f.o.Egress, node, dd)
			}
		}
		for _, l := range tf.Network.Links {
			ld, err := transport.ParseLink(l)
			if err != nil {
				return fmt.Errorf("--target: %s: network.links %q: %v", tf.Path, l, err)
			}
			sep := "-"
			if ld.Directed {
				sep = ">"
			}
			setDuration(&f.o.Links, ld.From+sep+ld.To, ld.Delay)
		}
	}
	v := strings.ToLower(tf.Settings["version"])
	if _, set := f.o.Params[protocols.FlavorParam]; !set && hasFlavor(proto, "mariadb-10.11") && strings.Contains(v, "mariadb") && strings.HasPrefix(v, "10.11") {
		setKV(&f.o.Params, protocols.FlavorParam+"=mariadb-10.11", "")
	}
	if wp := tf.Settings[semisync.ParamWaitPoint]; tf.Kind == "semisync" && wp != "" {
		if _, set := f.o.Params[semisync.ParamWaitPoint]; !set {
			setKV(&f.o.Params, semisync.ParamWaitPoint+"="+wp, "")
		}
	}
	f.target = tf
	return nil
}

// hasFlavor reports whether the protocol can stand for the named server (--flavor).
func hasFlavor(proto, name string) bool {
	p, err := protocols.Lookup(proto)
	if err != nil {
		return false
	}
	for _, fl := range p.Flavors {
		if fl.Name == name {
			return true
		}
	}
	return false
}

// compareMain is `replbench compare [SCENARIO] --target FILE [run flags]`: every point on
// the model, then on the target, then the two side by side with real / model ratios. The
// two runs are ordinary run directories (<out>/<time>-<scenario>-model and -real); the
// comparison (compare.json with both runs, compare.txt, and plots of model and real as two
// series) goes in the real run's directory, and --json writes compare.json elsewhere too.
func compareMain(args []string, stdout, stderr io.Writer) int {
	f, s, points, err := prepare(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, "usage: replbench compare [SCENARIO|FILE.yaml] --target FILE [run flags]")
		fmt.Fprintln(stdout, "\nRuns every point on the model and on the target's real servers and prints them side")
		fmt.Fprintln(stdout, "by side with real/model ratios. The flags are replbench run's (see replbench run -h).")
		return ExitOK
	}
	if err == nil && f.target == nil {
		err = errors.New("--target FILE is required (a target file from scripts/real-cluster.sh up)")
	}
	if err == nil && f.csvPath != "" {
		err = errors.New("--csv is not accepted by compare (accepted: --json FILE for the comparison; each run directory has its results.csv)")
	}
	if err != nil {
		fmt.Fprintf(stderr, "replbench compare: %s\n", oneLine(err.Error()))
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	base := harness.Options{
		Bus: f.bus, DataDir: f.dataDir, OutDir: f.out,
		ReportInterval: f.reportInterval.d, Status: f.status, NoProgress: f.noProgress, StallTimeout: f.stall.d,
		Stdout: io.Discard, Stderr: stderr, Percentiles: f.ux.percentiles, SyncCost: f.ux.sync,
	}
	ext, err := f.nodes.connect(ctx, f.bus, points, s.Seed) // --nodes-external: the model side runs on node processes
	if err != nil {
		fmt.Fprintf(stderr, "replbench compare: %s\n", oneLine(err.Error()))
		return ExitUsage
	}
	if ext != nil {
		defer ext.Close()
		base.Nodes = ext
	}
	name := s.Name
	runSide := func(side string, tf *target.File) (*harness.Outcome, bool) {
		sc := *s
		sc.Name = name + "-" + side
		opt := base
		opt.Target = tf
		if tf != nil {
			opt.Nodes = nil
		}
		fmt.Fprintf(stderr, "replbench compare: %s: %d points\n", side, len(points))
		out, err := harness.Run(ctx, &sc, points, opt)
		if err != nil {
			fmt.Fprintf(stderr, "replbench compare: %s: %s\n", side, oneLine(err.Error()))
			return out, false
		}
		return out, !out.Interrupted
	}
	model, ok := runSide("model", nil)
	if !ok {
		return ExitFailure
	}
	real, ok := runSide("real", f.target)
	if real == nil {
		return ExitFailure
	}
	c := &harness.Comparison{
		Schema: harness.CompareSchema, Scenario: name, Target: f.target.Path, Kind: f.target.Kind,
		Model: model.Run, Real: real.Run, Rows: harness.Compare(model.Run, real.Run),
	}
	if len(real.Run.Points) > 0 {
		c.ServerVersion = real.Run.Points[0].ServerVersion
	}
	var txt strings.Builder
	printComparison(&txt, c)
	fmt.Fprint(stdout, txt.String())
	if err := writeComparison(real.Dir, f.jsonPath, c, txt.String()); err != nil {
		fmt.Fprintf(stderr, "replbench compare: %s\n", oneLine(err.Error()))
		return ExitFailure
	}
	fmt.Fprintf(stderr, "replbench compare: model in %s, real and the comparison in %s\n", model.Dir, real.Dir)
	if !ok {
		return ExitInterrupted
	}
	if reportFailures(stderr, "replbench compare (real)", real.Run) {
		return ExitFailure
	}
	return ExitOK
}

// printComparison renders the rows: throughput, mean and p95 latency on both sides with
// real/model ratios, aborts by cause on both sides, and the status counters both report.
func printComparison(w io.Writer, c *harness.Comparison) {
	if len(c.Real.Points) > 0 {
		p := &c.Real.Points[0]
		line := fmt.Sprintf("target %s: innodb_flush_log_at_trx_commit=%s", c.Target, p.TargetSettings["innodb_flush_log_at_trx_commit"])
		if c.Kind == "semisync" {
			line += " rpl_semi_sync_master_wait_point=" + p.TargetSettings[semisync.ParamWaitPoint]
		}
		var rtts []string
		for _, k := range slices.Sorted(maps.Keys(p.Network.MeasuredRTT)) {
			rtts = append(rtts, fmt.Sprintf("%s %.2fms", k, p.Network.MeasuredRTT[k]))
		}
		if len(rtts) > 0 {
			line += "; measured round trips " + strings.Join(rtts, ", ")
		}
		fmt.Fprintln(w, line)
	}
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetTitle(fmt.Sprintf("%s: model vs real %s (%s), ratio = real/model", c.Scenario, c.Kind, c.ServerVersion))
	t.AppendHeader(table.Row{"point", "model tps", "real tps", "ratio", "model mean ms", "real mean ms", "ratio", "model p95", "real p95", "ratio", "model aborts", "real aborts", "real conv"})
	for _, r := range c.Rows {
		conv := "yes"
		if !r.RealConverged {
			conv = "NO"
		}
		t.AppendRow(table.Row{r.Point,
			fmt.Sprintf("%.0f", r.ModelTPS), fmt.Sprintf("%.0f", r.RealTPS), fmt.Sprintf("%.2f", r.TPSRatio),
			fmt.Sprintf("%.2f", r.ModelMeanMs), fmt.Sprintf("%.2f", r.RealMeanMs), fmt.Sprintf("%.2f", r.MeanRatio),
			fmt.Sprintf("%.2f", r.ModelP95Ms), fmt.Sprintf("%.2f", r.RealP95Ms), fmt.Sprintf("%.2f", r.P95Ratio),
			harness.FormatAborts(r.ModelAborts), harness.FormatAborts(r.RealAborts), conv})
	}
	t.Render()
	st := table.NewWriter()
	st.SetOutputMirror(w)
	st.SetTitle("status, summed over nodes: model (totals after the point) / real (deltas over the measured phase)")
	var names []string
	seen := map[string]bool{}
	for _, r := range c.Rows {
		for _, n := range harness.CompareStatus {
			if _, ok := r.Status[n]; ok && !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	if len(names) == 0 {
		return
	}
	hdr := table.Row{"point"}
	for _, n := range names {
		hdr = append(hdr, n)
	}
	st.AppendHeader(hdr)
	for _, r := range c.Rows {
		row := table.Row{r.Point}
		for _, n := range names {
			v := r.Status[n]
			row = append(row, fmt.Sprintf("%g / %g", v[0], v[1]))
		}
		st.AppendRow(row)
	}
	st.Render()
}

// writeComparison writes compare.json, compare.txt and the plots (model and real as two
// series: the real points' protocol is labelled "<protocol> (real)") into dir, and
// compare.json also to jsonPath when given.
func writeComparison(dir, jsonPath string, c *harness.Comparison, txt string) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if err := results.WriteFileAtomic(filepath.Join(dir, "compare.json"), b); err != nil {
		return err
	}
	if jsonPath == results.Stdout {
		os.Stdout.Write(b)
	} else if jsonPath != "" {
		if err := results.WriteFileAtomic(jsonPath, b); err != nil {
			return err
		}
	}
	if err := results.WriteFileAtomic(filepath.Join(dir, "compare.txt"), []byte(txt)); err != nil {
		return err
	}
	both := *c.Real
	both.Points = append([]results.Point{}, c.Model.Points...)
	for _, p := range c.Real.Points {
		p.Protocol += " (real)"
		both.Points = append(both.Points, p)
	}
	pdir := filepath.Join(dir, "compare-plots")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		return err
	}
	if _, err := writeComparePlots(pdir, &both); err != nil {
		fmt.Fprintf(os.Stderr, "replbench compare: plots not written: %v\n", err)
	}
	return nil
}

func writeComparePlots(dir string, run *results.Run) (files []string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plotting failed: %v", r)
		}
	}()
	return results.WriteRendered(dir, run)
}
