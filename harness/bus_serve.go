package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/replbench/replbench/harness/endpoint"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage/sqlexec"
)

// ServeConfig is what `replbench serve --nodes-external` asks of every node process: where
// its MySQL endpoint listens and who may log in. The coordinator computes each node's
// address from serve's --listen (n1's address, node i on its port + i, port 0 a free one
// each), so the one flag means the same with the nodes in one process or in several.
type ServeConfig struct {
	Listen           string // n1's address
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

// ddlAcrossProcesses is why a node process's endpoint refuses schema changes: the SQL
// layer changes every node's engine directly (DDL is not a write-set of the protocol), and
// here the other engines are in other processes.
const ddlAcrossProcesses = "DDL with the nodes in separate processes (serve --nodes-external): the tables are the workload's, created on every node at set-up; run serve without --nodes-external for DDL"

// serve opens this node's MySQL endpoint through the same SQL layer and endpoint code as
// in-process serve, over this node alone: its engine, its provider, its parameters and its
// cost model. The endpoint closes with the point.
func (pt *nodePoint) serve(rq serveRequest) (endpoint.Info, error) {
	if pt.endpoints != nil {
		return endpoint.Info{}, fmt.Errorf("%s already serves on %s", pt.name, pt.endpoints.Addrs()[0])
	}
	proto, err := protocols.Lookup(pt.ps.Protocol)
	if err != nil {
		return endpoint.Info{}, err
	}
	n := &sqlexec.Node{Name: pt.name, Engine: pt.engine, Provider: pt.prov, Protocol: proto, Params: nodeParams(pt.ps, pt.idx), Cost: pt.cost}
	srv, err := sqlexec.NewServer([]*sqlexec.Node{n}, sqlexec.Options{MaxAllowedPacket: rq.MaxAllowedPacket, RefuseDDL: ddlAcrossProcesses})
	if err != nil {
		return endpoint.Info{}, err
	}
	set, err := endpoint.Start(srv, endpoint.Config{Listen: rq.Addr, User: rq.User, Password: rq.Password})
	if err != nil {
		return endpoint.Info{}, err
	}
	pt.endpoints = set
	return set.Endpoints()[0], nil
}

// ServeExternal brings the point ps of s up on the node processes, as a run's point is
// brought up (setup, the loaded checksums compared, start), then has every node open its
// MySQL endpoint (ServeConfig) and returns the endpoints in node order. Closing the
// returned function closes every node's point (its endpoint with it); Close on x then
// ends the node processes.
func (x *ExternalNodes) ServeExternal(ctx context.Context, s *Scenario, ps *PointSpec, cfg ServeConfig) ([]endpoint.Info, func(), error) {
	members := ps.Members()
	host, base, err := endpoint.ParseListen(cfg.Listen, len(members))
	if err != nil {
		return nil, nil, err
	}
	yaml, err := s.Marshal()
	if err != nil {
		return nil, nil, err
	}
	prefix := fmt.Sprintf("replbench.%s.%d.serve", x.runID, time.Now().UnixNano())
	closeAll := func() { _ = x.co.CallAll(context.Background(), members, "close", nil, nil, closeTimeout) }
	sums := make([]setupReply, len(members))
	if err := x.co.CallAll(ctx, members, "setup", func(int) any {
		return setupRequest{Scenario: yaml, Index: ps.Index, Prefix: prefix, Serve: true}
	}, func(i int) any { return &sums[i] }, 10*time.Minute); err != nil {
		closeAll()
		return nil, nil, err
	}
	loaded := make([]map[string]uint64, len(sums))
	for i := range sums {
		loaded[i] = sums[i].Checksums
	}
	if d := diffChecksums(members, loaded); d != "" {
		closeAll()
		return nil, nil, fmt.Errorf("the nodes loaded different data (%s): workload %s does not load the same rows from the same seed", d, ps.Workload.Name)
	}
	if err := x.co.CallAll(ctx, members, "start", nil, nil, startTimeout+10*time.Second); err != nil {
		closeAll()
		return nil, nil, err
	}
	infos := make([]endpoint.Info, len(members))
	err = x.co.CallAll(ctx, members, "serve", func(i int) any {
		port := 0
		if base > 0 {
			port = base + i
		}
		return serveRequest{Addr: net.JoinHostPort(host, strconv.Itoa(port)), User: cfg.User, Password: cfg.Password, MaxAllowedPacket: cfg.MaxAllowedPacket}
	}, func(i int) any { return &infos[i] }, time.Minute)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	for i, e := range infos {
		if e.Addr == "" {
			closeAll()
			return nil, nil, errors.New(members[i] + " answered without an endpoint address")
		}
	}
	return infos, closeAll, nil
}
