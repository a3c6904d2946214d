package harness

// Schema changes with the nodes in separate processes (replbench serve --nodes-external).
//
// The SQL layer applies DDL outside the replication protocol: it waits for the cluster to
// go quiet and then changes every node's schema in member order (sqlexec.ApplyInOrder).
// Across node processes the same algorithm runs in the coordinator, over the bus:
//
//	client ── DDL ──▶ node endpoint (origin): the change's check on its engine, its
//	                  provider's BeforeWrite (read-only secondary, non-primary 1047)
//	origin ── ddl request {origin, SQL text, database} ──▶ coordinator (DDLSubject)
//	coordinator: one change at a time (ddlRelay.mu: the cluster-wide order), "position"
//	             polled on every node until they agree twice, then "ddl" on n1, n2, ...
//	each node: sqlexec.Server.ApplyLocal (re-parses the text, checks and changes its own
//	           engine and catalogue) ── its MySQL error, number and SQLSTATE kept ──▶
//	coordinator ──▶ origin ──▶ client
//
// So a refusal on n1 changes nothing anywhere and reaches the client with the number the
// in-process path gives; a node that is down fails the change within a bound, naming the
// node. What this leaves out, as in one process: real servers order DDL through the
// protocol (Galera's TOI, a binlog Query event on GR and semi-sync) and stall the cluster
// while it runs; here DDL costs one quiesce and nothing else, so its stall is not
// modelled, and a write-set in flight on a lagging node when the quiesce bound passes
// meets the new schema.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/replbench/replbench/harness/nodes"
	"github.com/replbench/replbench/storage/sqlexec"
)

// Bounds of a schema change across node processes: ddlQuiesce is how long the coordinator
// waits for the nodes to agree on their last committed position (the in-process default,
// sqlexec.Options.DDLQuiesce), ddlPositionTimeout bounds one poll of a node and
// ddlApplyTimeout one node's application (a new index over a large table takes a while);
// ddlWait bounds the origin's wait for the coordinator, above the rest.
const (
	ddlQuiesce         = 10 * time.Second
	ddlPositionTimeout = 5 * time.Second
	ddlApplyTimeout    = time.Minute
)

// ddlWait is how long an origin waits for the coordinator to carry its change to every
// node of a cluster of n.
func ddlWait(n int) time.Duration {
	return ddlQuiesce + time.Duration(n)*(ddlPositionTimeout+ddlApplyTimeout)
}

// ddlRequest is one schema change an origin node asks the coordinator to carry.
type ddlRequest struct {
	Origin string               `json:"origin"`
	Change sqlexec.SchemaChange `json:"change"`
}

// ddlReply is the outcome of a schema change on one node, or on the whole cluster: nil
// Error for success, else the MySQL error as the client is to see it.
type ddlReply struct {
	Error *sqlexec.SchemaError `json:"error,omitempty"`
}

// busSchema is the sqlexec.SchemaApplier of a node process's endpoint: it sends each
// change to the coordinator of the run and returns the cluster's answer.
type busSchema struct {
	nc    *nats.Conn
	run   string
	nodes int
}

// ApplySchema asks the coordinator to apply ch on every node and waits (ddlWait) for it.
func (b *busSchema) ApplySchema(ctx context.Context, origin string, ch sqlexec.SchemaChange) error {
	var rep ddlReply
	wait := ddlWait(b.nodes)
	err := nodes.Request(ctx, b.nc, nodes.DDLSubject(b.run), "the coordinator of run "+b.run, "ddl", ddlRequest{Origin: origin, Change: ch}, &rep, wait)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("no coordinator of run %s answers schema changes (is `replbench serve --nodes-external --run-id %s` still running? start it again; nothing was changed)", b.run, b.run)
	case err != nil:
		return fmt.Errorf("the schema change did not complete: %w (is `replbench serve --nodes-external` of run %s still running? if it is, a node may have applied the change and another not: compare SHOW TABLES on every node)", err, b.run)
	}
	return rep.Error.Err()
}

// ddlRelay is the coordinator's side: it answers DDLSubject and carries each change to
// every node in member order, one change at a time.
type ddlRelay struct {
	x       *ExternalNodes
	members []string
	sub     *nats.Subscription
	mu      sync.Mutex // one schema change at a time over the cluster
}

// relayDDL starts answering the nodes' schema changes for the cluster of members.
func (x *ExternalNodes) relayDDL(members []string) (*ddlRelay, error) {
	r := &ddlRelay{x: x, members: members}
	sub, err := nodes.ServeSubject(x.nc, nodes.DDLSubject(x.runID), r.handle)
	if err != nil {
		return nil, fmt.Errorf("serve schema changes on %s: %w", nodes.DDLSubject(x.runID), err)
	}
	r.sub = sub
	return r, nil
}

// close stops answering schema changes.
func (r *ddlRelay) close() {
	if r != nil && r.sub != nil {
		_ = r.sub.Unsubscribe()
	}
}

func (r *ddlRelay) handle(op string, body json.RawMessage) (any, error) {
	if op != "ddl" {
		return nil, fmt.Errorf("unknown request %q on the schema-change subject (accepted: ddl)", op)
	}
	var rq ddlRequest
	if err := json.Unmarshal(body, &rq); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ns := make([]sqlexec.SchemaNode, len(r.members))
	for i, m := range r.members {
		ns[i] = remoteSchemaNode{r.x, m}
	}
	err := sqlexec.ApplyInOrder(context.Background(), ns, rq.Change, ddlQuiesce)
	return ddlReply{Error: sqlexec.NewSchemaError(err)}, nil
}

// remoteSchemaNode is a node process as ApplyInOrder sees it.
type remoteSchemaNode struct {
	x    *ExternalNodes
	name string
}

func (n remoteSchemaNode) Name() string { return n.name }

func (n remoteSchemaNode) LastCommitted(ctx context.Context) (int64, error) {
	var pos int64
	if err := n.x.co.Call(ctx, n.name, "position", nil, &pos, ddlPositionTimeout); err != nil {
		return 0, fmt.Errorf("%s did not answer before the schema change, so nothing was changed: %w (restart its replbench node process, or stop serve and start the cluster again)", n.name, err)
	}
	return pos, nil
}

func (n remoteSchemaNode) ApplySchema(ctx context.Context, ch sqlexec.SchemaChange) error {
	var rep ddlReply
	if err := n.x.co.Call(ctx, n.name, "ddl", ch, &rep, ddlApplyTimeout); err != nil {
		return fmt.Errorf("%s did not take the schema change: %w (restart its replbench node process, or stop serve and start the cluster again)", n.name, err)
	}
	return rep.Error.Err()
}

// applyDDL is a node process's side of a carried change: its own SQL layer re-executes
// the statement on its engine and catalogue.
func (pt *nodePoint) applyDDL(body json.RawMessage) (any, error) {
	var ch sqlexec.SchemaChange
	if err := json.Unmarshal(body, &ch); err != nil {
		return nil, err
	}
	srv := pt.sql.Load()
	if srv == nil {
		return nil, fmt.Errorf("%s serves no MySQL endpoint, so it has no SQL layer to apply a schema change with (only replbench serve --nodes-external carries DDL)", pt.name)
	}
	return ddlReply{Error: sqlexec.NewSchemaError(srv.ApplyLocal(ch))}, nil
}
