package cli

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/replbench/replbench/harness"
	"github.com/replbench/replbench/harness/law"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
)

const lawUsage = "usage: replbench law [--protocol NAME,...|all] [--nodes N] [--network PRESET] [--delay NODE=DELAY] [--link A-B=DELAY] [--writers n1,n2|all] [--threads T,...] [--hot-rows R] [--param [NODE:]NAME=VALUE] [--leader NODE] [--sync DURATION] [--duration DURATION]"

// lawMain is `replbench law`: it prints, for every protocol asked (in the models' order)
// and every thread count, the commit-latency floor, the throughput bound and the per-hot-row
// bound of a network, each with its derivation in one line, without running anything: for
// teaching and what-if questions ("what do 80 ms between my data centres do to a hot row
// under each protocol?"). The cluster, network and parameters come from the same flag table
// as `run` and are resolved the same way (harness.ExpandModel), so a bound printed here is
// the bound `run` attaches to the same point. Bad input prints one line to stderr and
// returns 2.
func lawMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("law", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o harness.Overrides
	addClusterFlags(fs, &o, clusterDefaults{Protocol: "all", Nodes: "3", Threads: "1"})
	hotRows := fs.Int("hot-rows", 0, "rows every transaction modifies one of (0: no hot rows)")
	leader := fs.String("leader", "", "Group Replication primary (default n1)")
	syncCost := fs.Duration("sync", 0, "local durable-commit cost added to every floor, e.g. 100us for an fsync")
	duration := fs.Duration("duration", 0, "length of the measured phase, so a flow-control cap counts the backlog writers may run ahead by (0: sustained rate)")
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "replbench law: %s\n", oneLine(fmt.Sprintf(format, a...)))
		return ExitUsage
	}
	positional, err := parseFlags(fs, args)
	if err == flag.ErrHelp {
		fmt.Fprintln(stdout, lawUsage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return ExitOK
	}
	if err != nil {
		return fail("%v (%s)", err, lawUsage)
	}
	if len(positional) > 0 {
		return fail("unexpected argument %q (%s)", positional[0], lawUsage)
	}
	// Checked here, not per protocol, so that bad input is one line and exit 2 rather than
	// every protocol's "not applicable" block.
	switch {
	case *hotRows < 0:
		return fail("--hot-rows %d: give 0 (no hot rows) or a positive count", *hotRows)
	case *syncCost < 0:
		return fail("--sync %v: give a non-negative duration", *syncCost)
	case *duration < 0:
		return fail("--duration %v: give a non-negative duration", *duration)
	}
	protos, err := lawProtocols(o.Protocols)
	if err != nil {
		return fail("--protocol: %v", err)
	}
	if err := checkParamsKnown(protos, o.Params); err != nil {
		return fail("--param: %v", err)
	}
	type result struct {
		proto   string
		ps      harness.PointSpec
		e       *law.Explanation
		err     error
		clamped bool
	}
	var out []result
	for _, p := range protos {
		s, clamped := lawScenario(p, o)
		points, err := harness.ExpandModel(s)
		if err != nil {
			return fail("%v", err)
		}
		for _, ps := range points {
			in := harness.LawInput(&ps, *hotRows)
			in.Leader, in.SyncCost, in.Duration = *leader, *syncCost, *duration
			e, err := law.Explain(in)
			if err != nil && len(protos) == 1 {
				return fail("%s: %v", p.Name, err)
			}
			out = append(out, result{p.Name, ps, e, err, clamped})
		}
	}

	// The header describes the cluster as the replicated protocols see it (standalone's
	// points are clamped to one node).
	head := out[0].ps
	for _, r := range out {
		if !r.clamped {
			head = r.ps
			break
		}
	}
	threads := threadList(out[0].ps, o)
	fmt.Fprintf(stdout, "Callaghan's-law bounds (a model, not a measurement): network %s, %d nodes (%s), writers %s, %s threads",
		head.Network.Name, head.Nodes, strings.Join(head.Members(), ","), strings.Join(head.Writers, ","), threads)
	if *hotRows > 0 {
		fmt.Fprintf(stdout, ", %d hot rows", *hotRows)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "one-way delays ms (row = from):")
	printMatrix(stdout, head.Net, head.Members())
	several := strings.Contains(threads, ",")
	for _, r := range out {
		fmt.Fprintf(stdout, "\n%s", r.proto)
		if several {
			fmt.Fprintf(stdout, ", %d threads", r.ps.Threads)
		}
		fmt.Fprintln(stdout)
		if r.err != nil {
			fmt.Fprintf(stdout, "  not applicable: %v\n", r.err)
			continue
		}
		b := r.e.Bound
		fmt.Fprintf(stdout, "  commit floor   %10s ms   %s\n", fmtNum(b.CommitFloorMs), r.e.Floor)
		fmt.Fprintf(stdout, "  max tps        %10s      %s\n", tpsOrNone(b.MaxTPS), r.e.Throughput)
		fmt.Fprintf(stdout, "  hot row tps    %10s      %s\n", tpsOrNone(b.HotRowMaxTPS), r.e.HotRow)
		if r.clamped {
			fmt.Fprintf(stdout, "  (%s runs %s: computed for %s alone)\n", r.proto, nodesWord(r.ps.Nodes), strings.Join(r.ps.Members(), ","))
		}
	}
	return ExitOK
}

// lawProtocols is the registered protocols asked for, each with a model, in the models'
// order; none asked means all of them.
func lawProtocols(asked []string) ([]*protocols.Protocol, error) {
	if len(asked) == 0 {
		asked = law.Models
	}
	var out []*protocols.Protocol
	for _, name := range asked {
		c, err := law.Canonical(name)
		if err != nil {
			return nil, err
		}
		p, err := protocols.Lookup(c)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b *protocols.Protocol) int {
		return slices.Index(law.Models, a.Name) - slices.Index(law.Models, b.Name)
	})
	return out, nil
}

// checkParamsKnown refuses a parameter that no protocol asked for accepts, naming what they
// accept; one that only some accept goes to those (lawScenario).
func checkParamsKnown(protos []*protocols.Protocol, params map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(params)) {
		name := paramName(k)
		if !slices.ContainsFunc(protos, func(p *protocols.Protocol) bool { return harness.AcceptsParam(p, name) }) {
			var accepted, names []string
			for _, p := range protos {
				names = append(names, p.Name)
				for _, d := range harness.AllParams(p) {
					accepted = append(accepted, d.Name)
				}
			}
			slices.Sort(accepted)
			return fmt.Errorf("unknown parameter %q for %s (accepted: %s)", name, strings.Join(names, ", "), strings.Join(slices.Compact(accepted), ", "))
		}
	}
	return nil
}

// lawScenario is the scenario of one protocol's bounds: three nodes, one thread, the LAN,
// under the flags, with the parameters this protocol accepts. A protocol that cannot run
// on the node count asked (standalone) is computed on as many as it can, with what refers
// to the other nodes (their delays, parameters and writers) left out; clamped says so.
func lawScenario(p *protocols.Protocol, o harness.Overrides) (*harness.Scenario, bool) {
	s := &harness.Scenario{Protocol: p.Name, Cluster: harness.Cluster{Nodes: 3}, Workload: harness.WorkloadSpec{Name: "insert"}, Threads: harness.IntList{1}}
	o.Protocols = nil
	mine := map[string]string{}
	for k, v := range o.Params {
		if harness.AcceptsParam(p, paramName(k)) {
			mine[k] = v
		}
	}
	o.Params = mine
	n := s.Cluster.Nodes
	if o.Nodes != nil {
		n = *o.Nodes
	}
	clamped := p.MaxNodes > 0 && n > p.MaxNodes
	if clamped {
		keep := func(node string) bool { return transport.CheckNode(node, memberNames(p.MaxNodes)) == nil }
		o.Nodes = &p.MaxNodes
		o.Params = filterKeys(o.Params, func(k string) bool { node, _, scoped := strings.Cut(k, ":"); return !scoped || keep(node) })
		o.Egress = filterKeys(o.Egress, keep)
		o.Links = filterKeys(o.Links, func(k string) bool {
			a, b, _ := strings.Cut(strings.Replace(k, ">", "-", 1), "-")
			return keep(a) && keep(b)
		})
		if !slices.ContainsFunc(o.Writers, keep) {
			o.Writers = nil
		} else {
			o.Writers = slices.DeleteFunc(slices.Clone(o.Writers), func(w string) bool { return w != "all" && !keep(w) })
		}
	}
	s.Apply(o)
	return s, clamped
}

// paramName is NAME of a NAME or NODE:NAME parameter key.
func paramName(k string) string {
	if _, name, ok := strings.Cut(k, ":"); ok {
		return name
	}
	return k
}

func filterKeys[V any](m map[string]V, keep func(string) bool) map[string]V {
	out := map[string]V{}
	for k, v := range m {
		if keep(k) {
			out[k] = v
		}
	}
	return out
}

func memberNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "n" + strconv.Itoa(i+1)
	}
	return out
}

func nodesWord(n int) string {
	if n == 1 {
		return "one node"
	}
	return strconv.Itoa(n) + " nodes"
}

// threadList is the thread counts of the run, as the header prints them.
func threadList(first harness.PointSpec, o harness.Overrides) string {
	if len(o.Threads) == 0 {
		return strconv.Itoa(first.Threads)
	}
	parts := make([]string, len(o.Threads))
	for i, t := range o.Threads {
		parts[i] = strconv.Itoa(t)
	}
	return strings.Join(parts, ",")
}

func printMatrix(w io.Writer, nw transport.Network, members []string) {
	fmt.Fprintf(w, "  %6s", "")
	for _, b := range members {
		fmt.Fprintf(w, " %9s", b)
	}
	fmt.Fprintln(w)
	for _, a := range members {
		fmt.Fprintf(w, "  %6s", a)
		for _, b := range members {
			if a == b {
				fmt.Fprintf(w, " %9s", "-")
				continue
			}
			fmt.Fprintf(w, " %9s", fmtNum(float64(nw.OneWay(a, b))/float64(time.Millisecond)))
		}
		fmt.Fprintln(w)
	}
}

func fmtNum(v float64) string {
	if v == 0 {
		return "0"
	}
	if v < 1 {
		return fmt.Sprintf("%.3g", v)
	}
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

func tpsOrNone(v float64) string {
	if v == 0 {
		return "none"
	}
	return law.FormatTPS(v)
}
