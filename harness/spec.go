package harness

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// PointSpec is one fully resolved point: everything needed to bring up a cluster and drive
// it, with names checked against the registries, every node's parameters resolved into the
// protocol's typed settings and the engine's options, and the network built. Expand (or
// ResolvePoint, for a point made by hand) is the one place that parses a parameter or a
// network: bring-up, the providers, the bound (package law) and the results read Cluster and
// Net, so no two of them can read a value differently.
type PointSpec struct {
	Scenario string
	Index    int // 0-based position in the run
	Protocol string
	Nodes    int
	// Network is the network as the scenario describes it, with its label (Network.Name);
	// Net is that network built for this point's members, what the emulator runs and the
	// bound reads.
	Network  NetworkSpec
	Net      transport.Network
	Workload WorkloadSpec
	Threads  int
	// Writers are the nodes that have clients: the requested writers, cut to the first
	// Threads of them when there are fewer threads than writers.
	Writers []string
	// Cluster is every node's resolved configuration, in member order (Cluster[0] is n1).
	Cluster []NodeSpec
	// Given are the parameters the user set, per node, as typed (protocol and engine
	// parameters mixed). They are kept only to record them in the result (UserParams);
	// everything that acts on a parameter reads Cluster.
	Given        map[string]map[string]string
	Queries      int64
	Duration     time.Duration
	Warmup       time.Duration
	Rate         float64
	Retries      int
	RetryBackoff time.Duration
	// RefusedBackoff is the client's pause after a read_only or not_ready refusal.
	RefusedBackoff time.Duration
	Repeat         int
	// Faults is the fault timeline of the measured phase, sorted by time.
	Faults []FaultEvent
}

// NodeSpec is one node of a point, resolved: what its provider and its engine are built from.
type NodeSpec struct {
	Name string
	// Settings are the node's protocol settings as the protocol's Parse built them
	// (*galera.Settings, *groupreplication.Settings, *semisync.Settings, ...).
	Settings protocols.Settings
	// Engine are the node's storage options from the engine parameters. Dir is empty:
	// where a node keeps its files is a property of the run (--data-dir), not of the point.
	Engine storage.Options
	// EngineParams are the engine parameters' resolved values under their names, as SHOW
	// VARIABLES reports them; the engine itself runs on Engine.
	EngineParams protocols.Params
}

// Members returns n1..nN.
func (p *PointSpec) Members() []string {
	out := make([]string, p.Nodes)
	for i := range out {
		out[i] = nodeName(i)
	}
	return out
}

// UserParams returns the parameters the user set, in NAME / NODE:NAME form, for the result.
func (p *PointSpec) UserParams() map[string]string {
	out := map[string]string{}
	common := map[string]string{}
	if len(p.Given) > 0 {
		// a parameter equal on every node was given for all nodes
		first := p.Given[nodeName(0)]
		for k, v := range first {
			same := true
			for i := 1; i < p.Nodes; i++ {
				if p.Given[nodeName(i)][k] != v {
					same = false
					break
				}
			}
			if same {
				common[k] = v
				out[k] = v
			}
		}
	}
	for node, m := range p.Given {
		for k, v := range m {
			if _, ok := common[k]; !ok {
				out[node+":"+k] = v
			}
		}
	}
	return out
}

// Expand validates the scenario and returns its points: the cartesian product of the sweep
// axes (see Sweep for the order), repeated, each resolved (see PointSpec). The first problem
// found is returned as one line naming where it is (file and line, or the flag) and what is
// accepted.
func Expand(s *Scenario) ([]PointSpec, error) { return expand(s, true) }

// ExpandModel is Expand for a command that computes from the points without running them
// (`replbench law`): the same resolution, but no run length is needed.
func ExpandModel(s *Scenario) ([]PointSpec, error) { return expand(s, false) }

func expand(s *Scenario, run bool) ([]PointSpec, error) {
	fail := func(p, format string, args ...any) error {
		return fmt.Errorf("%s: %s", s.where(p), fmt.Sprintf(format, args...))
	}
	type axisVal[T any] struct {
		v    T
		path string
	}
	axis := func(n int, base string, sweep string) []string {
		if n == 0 {
			return []string{base}
		}
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s[%d]", sweep, i)
		}
		return out
	}

	// protocols
	var protos []axisVal[*protocols.Protocol]
	names := s.Sweep.Protocols
	if len(names) == 0 {
		if s.Protocol == "" {
			return nil, fail("protocol", "no protocol given (accepted: %s)", strings.Join(protocols.Names(), ", "))
		}
		names = []string{s.Protocol}
	}
	for i, p := range axis(len(s.Sweep.Protocols), "protocol", "sweep.protocols") {
		pr, err := protocols.Lookup(names[i])
		if err != nil {
			return nil, fail(p, "%v", err)
		}
		protos = append(protos, axisVal[*protocols.Protocol]{pr, p})
	}

	// workloads
	wls := s.Sweep.Workloads
	if len(wls) == 0 {
		wls = []WorkloadSpec{s.Workload}
	}
	wlPaths := axis(len(s.Sweep.Workloads), "workload", "sweep.workloads")
	for i, w := range wls {
		if w.Name == "" {
			return nil, fail(wlPaths[i]+".name", "no workload given (accepted: %s)", strings.Join(workloads.Names(), ", "))
		}
		def, err := workloads.Lookup(w.Name)
		if err != nil {
			return nil, fail(wlPaths[i]+".name", "%v", err)
		}
		for _, k := range sortedKeys(w.Options) {
			if !slices.ContainsFunc(def.Options, func(o workloads.Option) bool { return o.Name == k }) {
				return nil, fail(wlPaths[i]+".options."+k, "unknown option %q of workload %s (accepted: %s)", k, def.Name, optionNames(def))
			}
		}
	}

	// nodes (0 = auto, decided per protocol)
	nodes := s.Sweep.Nodes
	if len(nodes) == 0 {
		nodes = []int{s.Cluster.Nodes}
	}
	nodePaths := axis(len(s.Sweep.Nodes), "cluster.nodes", "sweep.nodes")
	for i, n := range nodes {
		if n < 0 || n > 64 {
			return nil, fail(nodePaths[i], "invalid node count %d (accepted: 1 to 64)", n)
		}
	}

	writers := s.Sweep.Writers
	if len(writers) == 0 {
		writers = []Writers{s.Writers}
	}
	writerPaths := axis(len(s.Sweep.Writers), "writers", "sweep.writers")

	paramSets := s.Sweep.Params
	if len(paramSets) == 0 {
		paramSets = []map[string]string{nil}
	}
	paramPaths := axis(len(s.Sweep.Params), "params", "sweep.params")

	nets := s.Sweep.Networks
	if len(nets) == 0 {
		nets = []NetworkSpec{s.Network}
	}
	netPaths := axis(len(s.Sweep.Networks), "network", "sweep.networks")

	threads := s.Sweep.Threads
	threadPath := "sweep.threads"
	if len(threads) == 0 {
		threads, threadPath = s.Threads, "threads"
	}
	if len(threads) == 0 {
		threads = IntList{1}
	}
	for _, t := range threads {
		if t < 1 {
			return nil, fail(threadPath, "invalid thread count %d (accepted: positive integers such as 1,4,8)", t)
		}
	}

	// run length
	switch {
	case s.Queries < 0:
		return nil, fail("queries", "negative query count %d (accepted: a positive integer)", s.Queries)
	case s.Queries > 0 && s.Duration > 0:
		return nil, fail("queries", "both queries (%d) and duration (%s) given (accepted: exactly one of --queries N or --duration D)", s.Queries, time.Duration(s.Duration))
	case s.Queries == 0 && s.Duration == 0 && run:
		return nil, fail("queries", "neither queries nor duration given (accepted: exactly one of --queries N or --duration D)")
	}
	if s.Rate < 0 {
		return nil, fail("rate", "negative rate %g (accepted: transactions per second over all clients, 0 for closed loop)", s.Rate)
	}
	if s.Retries < 0 {
		return nil, fail("retries", "negative retry count %d (accepted: 0 or more)", s.Retries)
	}
	refused := DefaultRefusedBackoff
	if s.RefusedBackoff != nil {
		refused = time.Duration(*s.RefusedBackoff)
	}
	if refused < 0 {
		return nil, fail("refused_backoff", "negative pause %s (accepted: 0 or a positive duration such as 10ms)", refused)
	}
	if s.Repeats < 0 {
		return nil, fail("repeats", "negative repeat count %d (accepted: 1 or more)", s.Repeats)
	}
	if err := s.checkLimits(); err != nil {
		return nil, err
	}
	repeats := max(s.Repeats, 1)
	faults := sortFaults(s.Faults)

	var out []PointSpec
	for _, pr := range protos {
		for wi, wl := range wls {
			for ni, n := range nodes {
				if n == 0 {
					n = max(3, pr.v.MinNodes)
					if pr.v.MaxNodes > 0 {
						n = min(n, pr.v.MaxNodes)
					}
				}
				if n < pr.v.MinNodes || (pr.v.MaxNodes > 0 && n > pr.v.MaxNodes) {
					return nil, fail(nodePaths[ni], "protocol %s runs on %s nodes, not %d", pr.v.Name, NodeRange(pr.v), n)
				}
				for wri, wr := range writers {
					ws := wr.resolve(n)
					for _, w := range ws {
						if !validNode(w, n) {
							return nil, fail(writerPaths[wri], "unknown writer node %q (accepted: all, or names among %s)", w, strings.Join(memberNames(n), ", "))
						}
					}
					for pi, ps := range paramSets {
						given, cluster, err := resolveUserParams(s, pr.v, n, s.Params, "params", ps, paramPaths[pi])
						if err != nil {
							return nil, err
						}
						for neti, nw := range nets {
							nw, net, err := s.checkNetwork(nw, netPaths[neti], n)
							if err != nil {
								return nil, err
							}
							for fi, f := range s.Faults {
								if err := CheckFault(f, memberNames(n), time.Duration(s.Duration)); err != nil {
									return nil, fail(fmt.Sprintf("faults[%d]", fi), "%v", err)
								}
								if err := checkNodeFaults(f, *pr.v); err != nil {
									return nil, fail(fmt.Sprintf("faults[%d]", fi), "%v", err)
								}
							}
							if err := checkTimeline(expandNemesis(faults, memberNames(n), time.Duration(s.Duration), pr.v.Name, s.Seed), memberNames(n), *pr.v); err != nil {
								return nil, fail("faults", "%v%s", err, nemesisOrigin(faults))
							}
							for _, t := range threads {
								// Clients go round-robin over the writers, so with fewer
								// threads than writers only the first t get one: the point
								// records the writers that actually had clients.
								used := slices.Clone(ws[:min(t, len(ws))])
								if err := checkWorkload(wl, n, used, t, s.Seed); err != nil {
									return nil, fail(wlPaths[wi]+".options", "%v", err)
								}
								for r := 0; r < repeats; r++ {
									out = append(out, PointSpec{
										Scenario: s.Name, Index: len(out),
										Protocol: pr.v.Name, Nodes: n, Network: nw, Net: net,
										Workload: WorkloadSpec{Name: wl.Name, Options: maps.Clone(wl.Options)},
										Threads:  t, Writers: used, Cluster: cluster, Given: given,
										Queries: s.Queries, Duration: time.Duration(s.Duration),
										Warmup: time.Duration(s.Warmup), Rate: s.Rate,
										Retries: s.Retries, RetryBackoff: time.Duration(s.RetryBackoff),
										RefusedBackoff: refused,
										Repeat:         r, Faults: faults,
									})
								}
							}
						}
					}
				}
			}
		}
	}
	return out, nil
}

// ResolvePoint resolves a point made by hand (a test's, a command's that builds its cluster
// without a scenario): from Protocol, Nodes, Network and Given it fills Cluster and Net,
// the same way Expand resolves a scenario's points. A point from Expand is resolved already.
func ResolvePoint(ps *PointSpec) error {
	p, err := protocols.Lookup(ps.Protocol)
	if err != nil {
		return err
	}
	if ps.Nodes < max(p.MinNodes, 1) || (p.MaxNodes > 0 && ps.Nodes > p.MaxNodes) {
		return fmt.Errorf("protocol %s runs on %s nodes, not %d", p.Name, NodeRange(p), ps.Nodes)
	}
	ps.Protocol = p.Name
	ps.Cluster = make([]NodeSpec, ps.Nodes)
	for i, node := range ps.Members() {
		if ps.Cluster[i], err = resolveNode(p, node, ps.Given[node]); err != nil {
			return fmt.Errorf("%s: %w", node, err)
		}
	}
	if ps.Network.Name == "" {
		ps.Network.Name = ps.Network.label()
	}
	ps.Net, err = ps.Network.Build(ps.Members())
	return err
}

// NodeRange says how many nodes protocol p runs on, as errors and listings print it: "1",
// "3 or more", "2 to 9". It is here, beside the check that enforces the range, so that the
// message and the check cannot drift apart.
func NodeRange(p *protocols.Protocol) string {
	switch {
	case p.MaxNodes == p.MinNodes:
		return strconv.Itoa(p.MinNodes)
	case p.MaxNodes == 0:
		return fmt.Sprintf("%d or more", max(p.MinNodes, 1))
	}
	return fmt.Sprintf("%d to %d", p.MinNodes, p.MaxNodes)
}

func validNode(name string, n int) bool {
	s, ok := strings.CutPrefix(name, "n")
	if !ok {
		return false
	}
	i, err := strconv.Atoi(s)
	return err == nil && i >= 1 && i <= n && strconv.Itoa(i) == s
}

func memberNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = nodeName(i)
	}
	return out
}

func optionNames(d *workloads.Definition) string {
	var ns []string
	for _, o := range d.Options {
		ns = append(ns, o.Name)
	}
	if len(ns) == 0 {
		return "none"
	}
	return strings.Join(ns, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// checkWorkload builds the workload once to let it validate its option values.
func checkWorkload(w WorkloadSpec, nodes int, writers []string, threads int, seed int64) error {
	def, err := workloads.Lookup(w.Name)
	if err != nil {
		return err
	}
	_, err = def.New(maps.Clone(w.Options), workloads.Env{Nodes: nodes, Writers: writers, Threads: threads, Seed: seed})
	return err
}

// resolveUserParams merges the base parameters and one sweep set (the sweep wins; a flag
// has already been written into base and removed from the sweep sets), splits NODE:NAME
// entries per node, validates every name and value against the protocol's and the engine's
// parameter lists, and resolves each node (resolveNode). It returns the user's values per
// node, for the record, and the resolved nodes.
func resolveUserParams(s *Scenario, p *protocols.Protocol, n int, base map[string]string, basePath string, sweep map[string]string, sweepPath string) (map[string]map[string]string, []NodeSpec, error) {
	perNode := map[string]map[string]string{}
	for i := 0; i < n; i++ {
		perNode[nodeName(i)] = map[string]string{}
	}
	defs := AllParams(p)
	apply := func(m map[string]string, path string) error {
		for _, k := range sortedKeys(m) {
			v := m[k]
			node, name, scoped := strings.Cut(k, ":")
			if !scoped {
				node, name = "", k
			}
			where := s.where(path + "." + k)
			if scoped && !validNode(node, n) {
				return fmt.Errorf("%s: unknown node %q (accepted: %s)", where, node, strings.Join(memberNames(n), ", "))
			}
			d, ok := findParam(defs, name)
			if !ok {
				return fmt.Errorf("%s: unknown parameter %q for protocol %s (accepted: %s; see replbench params %s)", where, name, p.Name, paramList(defs), p.Name)
			}
			if _, err := protocols.Resolve([]protocols.Param{d}, map[string]string{name: v}); err != nil {
				return fmt.Errorf("%s: %v", where, err)
			}
			for nd, m := range perNode {
				if !scoped || nd == node {
					m[name] = v
				}
			}
		}
		return nil
	}
	if err := apply(base, basePath); err != nil {
		return nil, nil, err
	}
	if err := apply(sweep, sweepPath); err != nil {
		return nil, nil, err
	}
	// Each value is valid on its own; now each node's whole set, so that a combination the
	// protocol refuses (its Parse) or the engine cannot open with fails here, before a run
	// directory exists, not at start-up.
	nodes := make([]NodeSpec, n)
	for i := range nodes {
		node := nodeName(i)
		ns, err := resolveNode(p, node, perNode[node])
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", paramsWhere(s, node, err, base, basePath, sweep, sweepPath), err)
		}
		nodes[i] = ns
	}
	return perNode, nodes, nil
}

// paramsWhere names where the parameters behind a node's failed combination were set: the
// flag or file line of the first user entry that reaches node and whose name the error
// mentions, with the node when that entry was for it alone; the params field when the
// error names none of them (a rule broken by the defaults plus a value the message does
// not repeat).
func paramsWhere(s *Scenario, node string, err error, base map[string]string, basePath string, sweep map[string]string, sweepPath string) string {
	msg := err.Error()
	for _, set := range []struct {
		m    map[string]string
		path string
	}{{sweep, sweepPath}, {base, basePath}} {
		for _, k := range sortedKeys(set.m) {
			nd, name, scoped := strings.Cut(k, ":")
			if !scoped {
				name = k
			}
			if (scoped && nd != node) || !strings.Contains(msg, name) {
				continue
			}
			where := s.where(set.path + "." + k)
			if scoped {
				where += " (on " + node + ")"
			}
			return where
		}
	}
	return s.where(basePath)
}

// findParam finds a parameter by its name or one of its aliases (the MySQL 8.0.26+
// renames), as protocols.Resolve accepts them.
func findParam(defs []protocols.Param, name string) (protocols.Param, bool) {
	for _, d := range defs {
		if d.Name == name || slices.Contains(d.Aliases, name) {
			return d, true
		}
	}
	return protocols.Param{}, false
}

func paramList(defs []protocols.Param) string {
	ns := make([]string, len(defs))
	for i, d := range defs {
		ns[i] = d.Name
	}
	sort.Strings(ns)
	return strings.Join(ns, ", ")
}
