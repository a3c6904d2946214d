package sqlexec

import (
	"context"
	"fmt"
	"time"

	"vitess.io/vitess/go/mysql/sqlerror"
)

// SchemaChange is one DDL statement as it travels to every node: its canonical text (what
// vitess's parser prints of the parsed statement, so every node parses exactly what the
// origin planned) and the origin session's current database, which resolves its
// unqualified table names. A statement, not a closure: each node re-executes it against
// its own engine and catalogue, which is what lets a node in another process take it.
type SchemaChange struct {
	SQL string `json:"sql"`
	DB  string `json:"db"`
}

// SchemaApplier carries a schema change from the node it was issued on (origin, a node
// name) to every node of the cluster, with the semantics of ApplyInOrder, serialised with
// every other schema change of the cluster. The Server is the in-process implementation;
// the harness's bus implementation relays it through the coordinator of a
// serve --nodes-external to the node processes.
type SchemaApplier interface {
	ApplySchema(ctx context.Context, origin string, ch SchemaChange) error
}

// SchemaNode is one node as a schema change sees it: the last position it committed (to
// wait for the cluster to go quiet) and how to make the change on it. A node that cannot
// be reached answers an error saying so.
type SchemaNode interface {
	Name() string
	LastCommitted(ctx context.Context) (int64, error)
	ApplySchema(ctx context.Context, ch SchemaChange) error
}

// ApplyInOrder is how a schema change reaches the nodes, in one process or across node
// processes alike: it waits (up to quiesce) until every node reports the same last
// committed position twice in a row, so that no write-set of the old schema is still being
// applied, then applies ch on each node in order. The first node's refusal (a table that
// exists, a duplicate in a new unique index) is returned as it is and nothing changed
// anywhere; a refusal further on says the schemas now differ. The caller serialises.
//
// Quiescing is best effort, as a quiet cluster is: after quiesce the change goes ahead
// even if the cluster is still busy. A node that does not answer fails the change.
func ApplyInOrder(ctx context.Context, nodes []SchemaNode, ch SchemaChange, quiesce time.Duration) error {
	if err := quiesceNodes(ctx, nodes, quiesce); err != nil {
		return err
	}
	for i, n := range nodes {
		if err := n.ApplySchema(ctx, ch); err != nil {
			if i == 0 {
				return err
			}
			return fmt.Errorf("schema change applied on %s but failed on %s (the nodes' schemas now differ): %w", nodes[0].Name(), n.Name(), err)
		}
	}
	return nil
}

// quiesceNodes waits until every node reports the same last committed position twice in a
// row, ctx ends, or d passes; an unreachable node's error is returned.
func quiesceNodes(ctx context.Context, nodes []SchemaNode, d time.Duration) error {
	deadline := time.Now().Add(d)
	last := int64(-1)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var pos int64
		same := true
		for i, n := range nodes {
			p, err := n.LastCommitted(ctx)
			if err != nil {
				return err
			}
			if i == 0 {
				pos = p
			} else if p != pos {
				same = false
			}
		}
		if same && pos == last {
			return nil
		}
		if same {
			last = pos
		} else {
			last = -1
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// SchemaError is the MySQL error of a schema change as it travels between processes: its
// number, SQLSTATE and message, so that a client of another node's endpoint gets the error
// number the in-process path gives (1050, 1062, 1290, 1047, ...), not a generic 1105.
type SchemaError struct {
	Code    int    `json:"code"`
	State   string `json:"state"`
	Message string `json:"message"`
}

// NewSchemaError encodes err (nil: nil) as the client would see it (ToSQLError).
func NewSchemaError(err error) *SchemaError {
	if err == nil {
		return nil
	}
	se := ToSQLError(err)
	return &SchemaError{Code: int(se.Num), State: se.State, Message: se.Message}
}

// Err is the error again, as a MySQL error (nil for a nil SchemaError).
func (e *SchemaError) Err() error {
	if e == nil {
		return nil
	}
	return sqlerror.NewSQLError(sqlerror.ErrorCode(e.Code), e.State, e.Message)
}
