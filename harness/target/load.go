package target

import (
	"context"
	"fmt"
	"time"

	"github.com/replbench/replbench/workloads"
)

// Load creates the tables given to Connect on the writer (dropping any with the same names), runs load on a
// bulk-loading client there (sqldb.Node.Loader: multi-row INSERTs), and waits up to
// timeout for every node to have applied it. Replication carries the data to the other
// nodes, as it would in production; nothing is copied behind the servers' backs.
//
// load is the workload's own loader (its Load method on a workloads.DB), so real and model
// runs start from the same rows.
func (t *Target) Load(ctx context.Context, load func(context.Context, workloads.DB) error, timeout time.Duration) error {
	w := t.Node(t.File.Writer())
	if err := w.CreateTables(ctx, true); err != nil {
		return err
	}
	// Wait for the DDL everywhere first: a replica that lacks the table would fail the load.
	if err := t.WaitAppliers(ctx, timeout); err != nil {
		return fmt.Errorf("after creating the tables: %v", err)
	}
	if load != nil {
		c, err := w.Loader(ctx)
		if err != nil {
			return err
		}
		err = load(ctx, c)
		c.Close()
		if err != nil {
			return fmt.Errorf("loading on %s: %v", w.Name(), err)
		}
	}
	if err := t.WaitAppliers(ctx, timeout); err != nil {
		return fmt.Errorf("after loading: %v", err)
	}
	return nil
}
