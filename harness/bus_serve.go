package harness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage/sqlexec"
)

// NodeEndpoint describes one node's running MySQL endpoint, with the fields of
// harness/endpoint's Info (which converts to and from it): harness cannot import the
// endpoint package, whose tests import harness.
type NodeEndpoint struct {
	Node  string
	Addr  string
	Role  string
	State string
}

// SQLServer opens a MySQL endpoint at addr over srv (one node's SQL layer) for user and
// password, and returns it and how to close it. `replbench node` passes harness/endpoint's
// Start through NodeOptions.ServeSQL, so a node process serves through the same endpoint
// code as in-process serve. hold is the node's pause gate: the endpoint calls it before
// every statement, which waits while the node is paused (bus_pause.go).
type SQLServer func(srv *sqlexec.Server, addr, user, password string, hold func(context.Context) error) (NodeEndpoint, func() error, error)

// ServeConfig is what `replbench serve --nodes-external` asks of the node processes: each
// node's endpoint address, in member order (the CLI computes them from serve's --listen,
// as in-process serve does: n1's address, node i on its port + i, port 0 a free one each),
// and who may log in.
type ServeConfig struct {
	Addrs            []string
	User, Password   string
	MaxAllowedPacket int
}

// serveRequest opens one node's endpoint on the point set up on it.
type serveRequest struct {
	Addr             string `json:"addr"`
	User             string `json:"user"`
	Password         string `json:"password"`
	MaxAllowedPacket int    `json:"max_allowed_packet"`
}

// serve opens this node's MySQL endpoint through open (NodeOptions.ServeSQL), over the SQL
// layer of this node alone: its engine, its provider, its parameters and its cost model.
// Its schema changes go through schema to the coordinator, which carries them to every
// node (bus_ddl.go). The endpoint closes with the point.
func (pt *nodePoint) serve(open SQLServer, rq serveRequest, schema sqlexec.SchemaApplier) (NodeEndpoint, error) {
	if open == nil {
		return NodeEndpoint{}, fmt.Errorf("%s cannot serve MySQL: this node process was started without an endpoint (NodeOptions.ServeSQL)", pt.name)
	}
	if pt.closeSQL != nil {
		return NodeEndpoint{}, fmt.Errorf("%s already serves MySQL", pt.name)
	}
	proto, err := protocols.Lookup(pt.ps.Protocol)
	if err != nil {
		return NodeEndpoint{}, err
	}
	n := &sqlexec.Node{Name: pt.name, Engine: pt.engine, Provider: pt.prov, Protocol: proto, Params: nodeParams(pt.ps, pt.idx), Cost: pt.cost}
	srv, err := sqlexec.NewServer([]*sqlexec.Node{n}, sqlexec.Options{MaxAllowedPacket: rq.MaxAllowedPacket, Schema: schema})
	if err != nil {
		return NodeEndpoint{}, err
	}
	pt.sql.Store(srv) // before the first client can send a change to any endpoint
	ep, closeFn, err := open(srv, rq.Addr, rq.User, rq.Password, pt.gate.wait)
	if err != nil {
		pt.sql.Store(nil)
		return NodeEndpoint{}, err
	}
	pt.closeSQL = closeFn
	return ep, nil
}

// ServeExternal brings the point ps of s up on the node processes, as a run's point is
// brought up (setup, the loaded checksums compared, start), then has every node open its
// MySQL endpoint at cfg.Addrs[i] and returns the served nodes (bus_served.go: endpoints,
// faults, convergence, status). While they serve, this coordinator carries every schema
// change a client sends to any endpoint to all the nodes, one at a time (bus_ddl.go).
// Their Close stops that and closes every node's point (its endpoint with it); Close on x
// then ends the node processes.
func (x *ExternalNodes) ServeExternal(ctx context.Context, s *Scenario, ps *PointSpec, cfg ServeConfig) (*ServedNodes, error) {
	members := ps.Members()
	if len(cfg.Addrs) != len(members) {
		return nil, fmt.Errorf("%d endpoint addresses for %d nodes", len(cfg.Addrs), len(members))
	}
	yaml, err := s.Marshal()
	if err != nil {
		return nil, err
	}
	prefix := fmt.Sprintf("replbench.%s.%d.serve", x.runID, time.Now().UnixNano())
	closeAll := func() { _ = x.co.CallAll(context.Background(), members, "close", nil, nil, closeTimeout) }
	sums := make([]setupReply, len(members))
	setup := setupRequest{Scenario: yaml, Index: ps.Index, Prefix: prefix, Serve: true}
	if err := x.co.CallAll(ctx, members, "setup", func(int) any {
		return setup
	}, func(i int) any { return &sums[i] }, 10*time.Minute); err != nil {
		closeAll()
		return nil, err
	}
	loaded := make([]map[string]uint64, len(sums))
	for i := range sums {
		loaded[i] = sums[i].Checksums
	}
	if d := diffChecksums(members, loaded); d != "" {
		closeAll()
		return nil, fmt.Errorf("the nodes loaded different data (%s): workload %s does not load the same rows from the same seed", d, ps.Workload.Name)
	}
	if err := x.co.CallAll(ctx, members, "start", nil, nil, startTimeout+10*time.Second); err != nil {
		closeAll()
		return nil, err
	}
	relay, err := x.relayDDL(members)
	if err != nil {
		closeAll()
		return nil, err
	}
	closePoint := closeAll
	closeAll = func() {
		relay.close()
		closePoint()
	}
	eps := make([]NodeEndpoint, len(members))
	serves := make([]serveRequest, len(members))
	for i := range serves {
		serves[i] = serveRequest{Addr: cfg.Addrs[i], User: cfg.User, Password: cfg.Password, MaxAllowedPacket: cfg.MaxAllowedPacket}
	}
	err = x.co.CallAll(ctx, members, "serve", func(i int) any {
		return serves[i]
	}, func(i int) any { return &eps[i] }, time.Minute)
	if err != nil {
		closeAll()
		return nil, err
	}
	for i, e := range eps {
		if e.Addr == "" {
			closeAll()
			return nil, errors.New(members[i] + " answered without an endpoint address")
		}
	}
	sn := newServedNodes(x, ps, s.Seed, setup, serves, eps)
	sn.relay = relay
	return sn, nil
}
