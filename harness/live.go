package harness

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/servicetime"
	"github.com/replbench/replbench/storage"
)

// Live is a cluster brought up for clients from outside the harness (`replbench serve`
// gives each node a MySQL endpoint): the same bring-up as a point of `replbench run` (the
// protocol, parameters, network and the workload's tables loaded on every node), but no
// client threads of the harness's own.
type Live struct {
	c     *cluster
	ps    *PointSpec
	proto *protocols.Protocol
}

// LiveNode is one running node as the SQL layer needs it.
type LiveNode struct {
	Name     string
	Engine   *storage.Engine
	Provider protocols.Provider
	Protocol *protocols.Protocol
	// Params are the node's resolved protocol parameters and engine parameters together,
	// under their real names (what SHOW VARIABLES reports).
	Params protocols.Params
	// Cost is the node's service-time model (nil with --cost-profile none): the SQL layer
	// charges each statement's CPU on it, as run's clients are charged (servicetime.go).
	Cost *servicetime.Node
}

// StartLive brings up the cluster of ps (its Threads, Queries and Duration are not used)
// over bus, with node databases under dataDir ("" keeps them in memory). ps must be
// resolved: a point from Expand, or one made by hand and passed to ResolvePoint.
func StartLive(ctx context.Context, ps *PointSpec, bus BusConfig, dataDir string, seed int64, progress func(string)) (*Live, error) {
	proto, err := protocols.Lookup(ps.Protocol)
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(string) {}
	}
	c, err := startCluster(ctx, ps, clusterConfig{dataDir: dataDir, bus: bus, seed: seed}, progress)
	if err != nil {
		return nil, err
	}
	return &Live{c: c, ps: ps, proto: proto}, nil
}

// Nodes returns the running nodes in order n1..nN.
func (l *Live) Nodes() []LiveNode {
	out := make([]LiveNode, len(l.c.members))
	for i, m := range l.c.members {
		out[i] = LiveNode{Name: m, Engine: l.c.engines[i], Provider: l.c.providers[i], Protocol: l.proto, Params: nodeParams(l.ps, i)}
		if i < len(l.c.costs) {
			out[i].Cost = l.c.costs[i]
		}
	}
	return out
}

// Fault makes a network event happen now (a partition, a heal, a delay), as a point's
// fault timeline would at its time.
func (l *Live) Fault(f FaultEvent) { f.apply(l.c.emu) }

// CheckLiveFaults refuses, before anything starts, the node faults (pause, resume, kill,
// crash, stop, restart, promote, also as the random nemesis draws them) that Fault cannot
// carry out: it drives the emulator's network only, and the node faults of a point act on
// its clients and engines (nodefaults*.go), which a Live cluster's clients (outside, over
// MySQL) do not go through. Without this check they would be recorded as applied and do
// nothing.
func CheckLiveFaults(ps *PointSpec, seed int64) error {
	for _, f := range expandNemesis(ps.Faults, ps.Members(), ps.Duration, ps.Protocol, seed) {
		if f.nodeEvent() {
			return fmt.Errorf("fault %s is not supported by serve with the nodes in one process: its faults are the network's (accepted: partition, oneway, clog, unclog, heal, delay, link, loss; or pause and resume with serve --nodes-external, and kill, stop and restart there with replbench node --supervise)", f.Event())
		}
	}
	return nil
}

// Converge waits up to timeout for every node to apply what was committed and compares the
// tables' checksums across nodes; ok is false with a detail naming the nodes and tables
// that differ.
func (l *Live) Converge(ctx context.Context, timeout time.Duration) (ok bool, detail string) {
	cv := l.c.converge(ctx, timeout)
	return cv.ok, cv.detail
}

// Close stops the providers, the network and the engines.
func (l *Live) Close() error { return l.c.close() }

// MakeRunDir creates the run directory <parent>/<timestamp>-<name> that `replbench run`
// writes into, for a command that writes its own files there (`replbench serve`).
func MakeRunDir(parent string, started time.Time, name string) (string, error) {
	return makeRunDir(parent, started, name)
}

// Point is the resolved point the cluster was brought up from.
func (l *Live) Point() *PointSpec { return l.ps }

// nodeParams are node i's resolved protocol parameters and engine parameters together,
// under their real names (what SHOW VARIABLES reports); a protocol parameter wins over an
// engine parameter of the same name.
func nodeParams(ps *PointSpec, i int) protocols.Params {
	n := ps.Cluster[i]
	p := maps.Clone(n.Settings.Params())
	for k, v := range n.EngineParams {
		if _, ok := p[k]; !ok {
			p[k] = v
		}
	}
	return p
}
