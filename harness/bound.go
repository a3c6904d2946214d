package harness

import (
	"strconv"
	"time"

	"github.com/replbench/replbench/harness/law"
	"github.com/replbench/replbench/results"
)

// LawInput is the bound's input for a resolved point: its built network, members, writers
// and threads, and every node's settings exactly as the providers get them, so that the
// bound and the run cannot read a parameter differently. hotRows is the number of hot rows
// (0: none). The caller may set what a point does not say (law.Input.Leader, SyncCost).
func LawInput(ps *PointSpec, hotRows int) law.Input {
	nodes := make([]law.Node, len(ps.Cluster))
	for i, n := range ps.Cluster {
		nodes[i] = law.Node{Settings: n.Settings, Engine: n.Engine}
	}
	return law.Input{
		Network:  ps.Net,
		Members:  ps.Members(),
		Protocol: ps.Protocol,
		Nodes:    nodes,
		Writers:  ps.Writers,
		Threads:  ps.Threads,
		HotRows:  hotRows,
		Duration: ps.Duration,
	}
}

// setBound attaches the Callaghan's-law model of the point (package law) to p: the commit
// floor the network and the protocol impose, the throughput bound for the thread count,
// and the efficiency measured / bound. A protocol the law package has no model for gets no
// bound and a note, not an invented one. The model leaves out the engine's own cost (and
// the fsync of an on-disk run), so efficiency near 1 means "at the network's limit".
func setBound(p *results.Point, ps *PointSpec, syncCost time.Duration) {
	in := LawInput(ps, hotRows(p))
	in.SyncCost = syncCost
	b, err := law.Compute(in)
	if err != nil {
		p.Notes = append(p.Notes, "no Callaghan bound: "+err.Error())
		return
	}
	p.SetBound(b)
}

// hotRows is the number of hot rows of a hotspot-style workload (its "hot-rows" option,
// resolved value first), 0 for any other workload.
func hotRows(p *results.Point) int {
	v, ok := p.Options["hot-rows"]
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
