package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// ServedNodes is a cluster of node processes serving MySQL for `replbench serve
// --nodes-external`: the point set up on every node, each node's endpoint, and what serve
// does to it while it serves and when it stops. It reuses run's coordinator parts rather
// than a serve-only copy: the fault timeline drives the same remoteTarget as a point of run
// --nodes-external (network operations on every node's emulator, kill, stop and restart
// through each node's supervisor), the convergence check is the same convergeOn over the
// same position and checksum requests, and each node's status is its own SQL layer's SHOW
// STATUS rows, as in-process serve records them. The cost of the reuse is that a restarted
// node is a new process whose endpoint is opened again at the address its predecessor bound
// (clients connected to the old one see their connection lost, as with a killed mysqld, and
// reconnect), and whose SHOW STATUS counters start from zero, as a restarted server's do.
type ServedNodes struct {
	x       *ExternalNodes
	ps      *PointSpec
	seed    int64
	members []string
	target  *remoteTarget
	relay   *ddlRelay // carries the clients' schema changes to every node while they serve

	mu sync.Mutex
	tl *timeline
	t0 time.Time
}

// newServedNodes is the handle ServeExternal returns once every node serves; setup is the
// point's setup request and serves the endpoint requests, for a restarted node to be set
// up and to serve again at the address its predecessor bound.
func newServedNodes(x *ExternalNodes, ps *PointSpec, seed int64, setup setupRequest, serves []serveRequest, eps []NodeEndpoint) *ServedNodes {
	members := ps.Members()
	t := &remoteTarget{x: x, members: members, nw: ps.Net.Clone()}
	t.life.setup = setup
	t.life.serve = map[string]serveRequest{}
	t.life.eps = map[string]NodeEndpoint{}
	for i, m := range members {
		rq := serves[i]
		rq.Addr = eps[i].Addr // the port it got, when it was asked for a free one
		t.life.serve[m] = rq
		t.life.eps[m] = eps[i]
	}
	return &ServedNodes{x: x, ps: ps, seed: seed, members: members, target: t}
}

// Endpoints are the nodes' endpoints in member order, as they were last opened (a
// restarted node's by its new process).
func (sn *ServedNodes) Endpoints() []NodeEndpoint {
	sn.target.life.mu.Lock()
	defer sn.target.life.mu.Unlock()
	out := make([]NodeEndpoint, len(sn.members))
	for i, m := range sn.members {
		out[i] = sn.target.life.eps[m]
	}
	return out
}

// StartFaults starts the point's fault timeline (--fault, the nemesis expanded as run
// expands it) counted from t0; announce is called as each event fires.
func (sn *ServedNodes) StartFaults(t0 time.Time, announce func(at time.Duration, f FaultEvent)) {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	sn.t0 = t0
	sn.tl = startTimeline(expandNemesis(sn.ps.Faults, sn.members, sn.ps.Duration, sn.ps.Protocol, sn.seed), sn.target, t0, announce)
}

// StopFaults ends the timeline as the end of run's measured phase does: a cut still in
// force is healed and a node still down is restarted (and waited for) before the
// convergence check, and the record says so. It returns the fault record (the lines of
// results' faults), the events that never fired and the network faults that did not reach
// every node.
func (sn *ServedNodes) StopFaults() []string {
	sn.mu.Lock()
	tl, t0 := sn.tl, sn.t0
	sn.mu.Unlock()
	if tl == nil {
		return nil
	}
	applied, pending, cut := tl.stop()
	out := append([]string{}, applied...)
	if cut {
		sn.target.Heal()
		out = append(out, fmt.Sprintf("%.3fs heal (end of serving, before the convergence check)", time.Since(t0).Seconds()))
	}
	for _, f := range pending {
		out = append(out, fmt.Sprintf("fault %s did not fire: serving stopped after %.3fs", f, time.Since(t0).Seconds()))
	}
	if err := sn.target.err(); err != nil {
		out = append(out, "a network fault did not reach every node: "+err.Error())
	}
	return out
}

// Converge is the convergence check of serve's stop over the node processes: every node
// applies what was committed (up to timeout) and the tables' checksums are compared;
// a node whose NATS connection was lost while it served makes the point not converged
// too (messages may have been lost), as in run --nodes-external.
func (sn *ServedNodes) Converge(ctx context.Context, timeout time.Duration) (ok bool, detail string) {
	cv := convergeOn(ctx, sn.members, remoteNodes{x: sn.x, members: sn.members}, timeout)
	statuses := make([]statusReply, len(sn.members))
	if err := sn.x.co.CallAll(ctx, sn.members, "status", nil, func(i int) any { return &statuses[i] }, time.Minute); err != nil {
		return false, "the nodes' status could not be read: " + err.Error()
	}
	for i, st := range statuses {
		if st.Lost != "" {
			return false, "the NATS bus of " + sn.members[i] + " lost a connection while serving (" + st.Lost + "); messages may be lost"
		}
	}
	return cv.ok, cv.detail
}

// Status is each node's SHOW STATUS rows (name, value) in member order, read from its own
// SQL layer: the rows in-process serve writes to status.txt and serve.json. A node that
// does not answer has no rows and is named in the error; the others' rows are still there.
func (sn *ServedNodes) Status(ctx context.Context) ([][][]string, error) {
	out := make([][][]string, len(sn.members))
	err := sn.x.co.CallAll(ctx, sn.members, "sqlstatus", nil, func(i int) any { return &out[i] }, time.Minute)
	return out, err
}

// CloseEndpoints closes every node's MySQL endpoint (its clients' connections with it,
// each session's open transaction rolled back), leaving the point up for the convergence
// check and the status, as in-process serve closes its endpoints before its check.
func (sn *ServedNodes) CloseEndpoints(ctx context.Context) error {
	return sn.x.co.CallAll(ctx, sn.members, "unserve", nil, nil, time.Minute)
}

// Close closes every node's point, its endpoint with it; Close on the ExternalNodes then
// ends the node processes.
func (sn *ServedNodes) Close() {
	if sn.relay != nil {
		sn.relay.close()
	}
	_ = sn.x.co.CallAll(context.Background(), sn.members, "close", nil, nil, closeTimeout)
}

// handleExtra answers the requests bus_node.go's handle passes on (it knows the ones of
// the first node processes): serve's (sqlstatus, unserve, here), the workload checks'
// (bus_checks.go) and the pause gate (bus_pause.go); ok is false for a request that is
// none of them.
func (pt *nodePoint) handleExtra(op string, body json.RawMessage) (reply any, ok bool, err error) {
	if reply, ok, err := pt.handleChecks(op, body); ok {
		return reply, ok, err
	}
	if reply, ok, err := pt.handlePause(op, body); ok {
		return reply, ok, err
	}
	switch op {
	case "sqlstatus":
		srv := pt.sql.Load()
		if srv == nil {
			return nil, true, fmt.Errorf("%s serves no MySQL endpoint: SHOW STATUS has nothing to read", pt.name)
		}
		return srv.Status(0), true, nil
	case "unserve":
		if pt.closeSQL != nil {
			err := pt.closeSQL()
			pt.closeSQL = nil
			return nil, true, err
		}
		return nil, true, nil
	}
	return nil, false, nil
}

// reserve opens a restarted node's endpoint again, at the address its predecessor bound,
// when the point is served; nothing when it is not (run --nodes-external).
func (t *remoteTarget) reserve(ctx context.Context, node string) error {
	t.life.mu.Lock()
	rq, ok := t.life.serve[node]
	t.life.mu.Unlock()
	if !ok {
		return nil
	}
	var ep NodeEndpoint
	if err := t.x.co.Call(ctx, node, "serve", rq, &ep, time.Minute); err != nil {
		return fmt.Errorf("open its MySQL endpoint at %s again: %w", rq.Addr, err)
	}
	if ep.Addr == "" {
		return fmt.Errorf("%s answered without an endpoint address", node)
	}
	t.life.mu.Lock()
	t.life.eps[node] = ep
	t.life.mu.Unlock()
	return nil
}
