package harness

import (
	"strconv"

	"github.com/replbench/replbench/harness/law"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/results"
)

// setBound attaches the Callaghan's-law model of the point (package law) to p: the commit
// floor the network and the protocol impose, the throughput bound for the thread count,
// and the efficiency measured / bound. A protocol the law package has no model for gets no
// bound and a note, not an invented one. The model leaves out the engine's own cost (and
// the fsync of an on-disk run), so efficiency near 1 means "at the network's limit".
//
// nodeParams are every node's parameters (protocol and engine), so that a slow applier
// (replbench.apply_delay on one node) caps the bound the way flow control caps the cluster.
func setBound(p *results.Point, ps *PointSpec, net transport.Network, params map[string]string, nodeParams map[string]protocols.Params) {
	in := law.Input{
		NodeParams: nodeParams,
		Duration:   ps.Duration,
		Network:    net,
		Members:    ps.Members(),
		Protocol:   ps.Protocol,
		Params:     params,
		Writers:    ps.Writers,
		Threads:    ps.Threads,
		HotRows:    hotRows(p),
	}
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
