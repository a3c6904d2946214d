package law

import (
	"flag"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
)

// multiFlag collects a repeatable flag; a value may also hold a comma-separated list.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*m = append(*m, s)
		}
	}
	return nil
}

const usage = "usage: replbench law [--protocol NAME|all] [--nodes N] [--network PRESET] [--delay NODE=DELAY] [--link A-B=DELAY] [--writers n1,n2] [--threads T] [--hot-rows R] [--param [NODE:]NAME=VALUE] [--sync DURATION] [--duration DURATION]"

// Main is `replbench law`: it prints, for every protocol asked, the commit-latency floor, the
// throughput bound at the thread count and the per-hot-row bound of a network, each with its
// derivation in one line, without running anything: for teaching and what-if questions
// ("what do 80 ms between my data centres do to a hot row under each protocol?"). Bad input
// prints one line to stderr and returns 2.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("law", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	protoFlag := fs.String("protocol", "all", "protocol name or alias, or all ("+strings.Join(Models, ", ")+")")
	nodes := fs.Int("nodes", 3, "cluster size; members are n1..nN, n1 is the default writer, GR primary and semi-sync source")
	network := fs.String("network", "lan", "network preset ("+strings.Join(transport.PresetNames(), ", ")+")")
	var delays, links, writers, params multiFlag
	fs.Var(&delays, "delay", "egress delay of one node, NODE=DELAY (repeatable), as tc netem on its interface: n2=50ms")
	fs.Var(&links, "link", "extra one-way delay A-B=DELAY both ways or A>B=DELAY one way (repeatable)")
	fs.Var(&writers, "writers", "nodes clients write to, comma-separated (default n1)")
	threads := fs.Int("threads", 1, "client threads, spread round-robin over the writers")
	hotRows := fs.Int("hot-rows", 0, "rows every transaction modifies one of (0: no hot rows)")
	fs.Var(&params, "param", "protocol parameter NAME=VALUE, or NODE:NAME=VALUE on one node (repeatable), e.g. rpl_semi_sync_master_wait_for_slave_count=2 or n3:replbench.apply_delay=1ms")
	leader := fs.String("leader", "", "Group Replication primary (default n1)")
	syncCost := fs.Duration("sync", 0, "local durable-commit cost added to every floor, e.g. 100us for an fsync")
	duration := fs.Duration("duration", 0, "length of the measured phase, so a flow-control cap counts the backlog writers may run ahead by (0: sustained rate)")
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "replbench law: "+format+"\n", a...)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprintln(stdout, usage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		return fail("%v (%s)", err, usage)
	}
	if fs.NArg() > 0 {
		return fail("unexpected argument %q (%s)", fs.Arg(0), usage)
	}
	if *nodes < 1 || *nodes > 64 {
		return fail("--nodes %d: give 1 to 64", *nodes)
	}
	// Checked here, not per protocol, so that bad input is one line and exit 2 rather than
	// every protocol's "not applicable" block.
	if *threads < 1 {
		return fail("--threads %d: give at least 1 client thread", *threads)
	}
	if *hotRows < 0 {
		return fail("--hot-rows %d: give 0 (no hot rows) or a positive count", *hotRows)
	}
	if *syncCost < 0 {
		return fail("--sync %v: give a non-negative duration", *syncCost)
	}
	if *duration < 0 {
		return fail("--duration %v: give a non-negative duration", *duration)
	}
	members := make([]string, *nodes)
	for i := range members {
		members[i] = fmt.Sprintf("n%d", i+1)
	}
	nw, err := transport.Preset(*network, members)
	if err != nil {
		return fail("%v", err)
	}
	nw = nw.Clone()
	for _, d := range delays {
		node, dur, err := transport.ParseEgress(d)
		if err != nil {
			return fail("--delay: %v", err)
		}
		if err := transport.CheckNode(node, members); err != nil {
			return fail("--delay %s: %v", d, err)
		}
		nw.SetEgress(node, dur)
	}
	for _, l := range links {
		ld, err := transport.ParseLink(l)
		if err != nil {
			return fail("--link: %v", err)
		}
		for _, n := range []string{ld.From, ld.To} {
			if err := transport.CheckNode(n, members); err != nil {
				return fail("--link %s: %v", l, err)
			}
		}
		ld.Apply(&nw)
	}
	user := map[string]string{}
	perNode := map[string]map[string]string{}
	for _, p := range params {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return fail("--param %q: expected NAME=VALUE or NODE:NAME=VALUE", p)
		}
		if node, name, ok := strings.Cut(k, ":"); ok {
			if err := transport.CheckNode(node, members); err != nil {
				return fail("--param %s: %v", p, err)
			}
			if name == "" {
				return fail("--param %q: expected NODE:NAME=VALUE", p)
			}
			if perNode[node] == nil {
				perNode[node] = map[string]string{}
			}
			perNode[node][name] = strings.TrimSpace(v)
			continue
		}
		user[k] = strings.TrimSpace(v)
	}
	var protos []string
	if *protoFlag == "all" {
		protos = Models
	} else {
		for _, p := range strings.Split(*protoFlag, ",") {
			c, err := Canonical(strings.TrimSpace(p))
			if err != nil {
				return fail("--protocol: %v", err)
			}
			protos = append(protos, c)
		}
	}
	resolved, err := resolveParams(protos, user)
	if err != nil {
		return fail("--param: %v", err)
	}
	// Per-node values are checked like global ones; the model reads them raw, falling back
	// to the resolved global value for names a node does not set.
	nodeParams := map[string]protocols.Params{}
	for node, kv := range perNode {
		if _, err := resolveParams(protos, kv); err != nil {
			return fail("--param %s: %v", node, err)
		}
		nodeParams[node] = protocols.Params(kv)
	}
	type result struct {
		proto string
		e     *Explanation
		err   error
	}
	var out []result
	for _, p := range protos {
		in := Input{Network: nw, Members: members, Protocol: p, Params: resolved[p], Writers: writers,
			Threads: *threads, HotRows: *hotRows, Leader: *leader, SyncCost: *syncCost,
			NodeParams: nodeParams, Duration: *duration}
		if p == "standalone" {
			in.Members = members[:1]
			in.Network = nw.Clone()
			in.NodeParams = nil
			if len(in.Writers) > 1 || (len(in.Writers) == 1 && in.Writers[0] != members[0]) {
				in.Writers = nil
			}
		}
		e, err := Explain(in)
		if err != nil && len(protos) == 1 {
			return fail("%s: %v", p, err)
		}
		out = append(out, result{p, e, err})
	}

	ws := writers
	if len(ws) == 0 {
		ws = members[:1]
	}
	fmt.Fprintf(stdout, "Callaghan's-law bounds (a model, not a measurement): network %s, %d nodes (%s), writers %s, %d threads",
		describe(*network, delays, links), *nodes, strings.Join(members, ","), strings.Join(ws, ","), *threads)
	if *hotRows > 0 {
		fmt.Fprintf(stdout, ", %d hot rows", *hotRows)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "one-way delays ms (row = from):")
	printMatrix(stdout, nw, members)
	for _, r := range out {
		fmt.Fprintf(stdout, "\n%s\n", r.proto)
		if r.err != nil {
			fmt.Fprintf(stdout, "  not applicable: %v\n", r.err)
			continue
		}
		b := r.e.Bound
		fmt.Fprintf(stdout, "  commit floor   %10s ms   %s\n", fmtNum(b.CommitFloorMs), r.e.Floor)
		fmt.Fprintf(stdout, "  max tps        %10s      %s\n", tpsOrNone(b.MaxTPS), r.e.Throughput)
		fmt.Fprintf(stdout, "  hot row tps    %10s      %s\n", tpsOrNone(b.HotRowMaxTPS), r.e.HotRow)
		if r.proto == "standalone" && *nodes > 1 {
			fmt.Fprintln(stdout, "  (standalone runs one node: computed for n1 alone)")
		}
	}
	return 0
}

// resolveParams splits the user's parameters among the protocols asked: each gets the
// names it accepts (its registered parameters when the protocol is linked in, plus the
// model's own), resolved against their defaults. A name no asked protocol accepts is an
// error that lists what is accepted.
func resolveParams(protos []string, user map[string]string) (map[string]protocols.Params, error) {
	out := map[string]protocols.Params{}
	used := map[string]bool{}
	var accepted []string
	for _, p := range protos {
		defs := append([]protocols.Param(nil), ModelParams[p]...)
		if reg, err := protocols.Lookup(p); err == nil {
			for _, d := range reg.Params {
				replaced := false
				for i := range defs {
					if defs[i].Name == d.Name {
						defs[i] = d
						replaced = true
					}
				}
				if !replaced {
					defs = append(defs, d)
				}
			}
		}
		mine := map[string]string{}
		for _, d := range defs {
			accepted = append(accepted, d.Name)
			if v, ok := user[d.Name]; ok {
				mine[d.Name] = v
				used[d.Name] = true
			}
		}
		r, err := protocols.Resolve(defs, mine)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		out[p] = r
	}
	for _, k := range sortedKeys(user) {
		if !used[k] {
			sort.Strings(accepted)
			return nil, fmt.Errorf("unknown parameter %q for %s (accepted: %s)", k, strings.Join(protos, ", "), strings.Join(uniq(accepted), ", "))
		}
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func uniq(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func describe(preset string, delays, links []string) string {
	parts := []string{preset}
	parts = append(parts, delays...)
	parts = append(parts, links...)
	return strings.Join(parts, " ")
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
			fmt.Fprintf(w, " %9s", fmtNum(ms(nw.OneWay(a, b))))
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
	return fmtTPS(v)
}
