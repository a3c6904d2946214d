package target

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads/sqldb"
)

// WaitAppliers waits until every node has applied everything the writers committed, or
// timeout passes (an error saying which node is behind and by what):
//   - galera: every node's wsrep_last_committed is the same and its receive queue is empty;
//   - semisync: each replica reaches the source's gtid_binlog_pos (MASTER_GTID_WAIT);
//   - gr: every member's gtid_executed is the same and its applier queue is empty;
//   - standalone: nothing to wait for.
//
// It is meant for after a point, once the clients have stopped.
func (t *Target) WaitAppliers(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	switch t.File.Kind {
	case sqldb.KindStandalone:
		return nil
	case sqldb.KindSemisync:
		src := t.Node(t.File.Writer())
		var pos string
		if err := src.SQL().QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
			return fmt.Errorf("appliers: source %s: %v", src.Name(), err)
		}
		for _, n := range t.Nodes {
			if n == src {
				continue
			}
			secs := max(1, int(time.Until(deadline).Seconds()))
			var r sql.NullInt64
			if err := n.SQL().QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, ?)", pos, secs).Scan(&r); err != nil {
				return fmt.Errorf("appliers: replica %s: %v", n.Name(), err)
			}
			if r.Int64 != 0 {
				var at string
				n.SQL().QueryRowContext(context.Background(), "SELECT @@gtid_slave_pos").Scan(&at)
				return fmt.Errorf("appliers: replica %s is at %s, the source at %s, after %v", n.Name(), at, pos, timeout)
			}
		}
		return nil
	}
	// position reads one node's last committed position and its applier queue as "POS
	// queue N". Galera's is read with SHOW GLOBAL STATUS (what every Galera server and
	// replbench's own endpoint answer) rather than information_schema subqueries.
	position := func(n *sqldb.Node) (string, error) {
		if t.File.Kind == sqldb.KindGalera {
			st, err := pairs(ctx, n.SQL(), "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_last_committed', 'wsrep_local_recv_queue')")
			if err != nil {
				return "", err
			}
			return st["wsrep_last_committed"] + " queue " + st["wsrep_local_recv_queue"], nil
		}
		var pos string
		err := n.SQL().QueryRowContext(ctx, "SELECT CONCAT(@@gtid_executed, ' queue ', (SELECT COUNT_TRANSACTIONS_REMOTE_IN_APPLIER_QUEUE FROM performance_schema.replication_group_member_stats WHERE MEMBER_ID=@@server_uuid))").Scan(&pos)
		return pos, err
	}
	var last []string
	for {
		pos := make([]string, len(t.Nodes))
		ok := true
		for i, n := range t.Nodes {
			var err error
			if pos[i], err = position(n); err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("appliers: not caught up after %v: %s", timeout, strings.Join(last, "; "))
				}
				return fmt.Errorf("appliers: node %s: %v", n.Name(), err)
			}
			ok = ok && strings.HasSuffix(pos[i], " queue 0") && pos[i] == pos[0]
		}
		if ok {
			return nil
		}
		last = last[:0]
		for i, n := range t.Nodes {
			last = append(last, n.Name()+" "+pos[i])
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("appliers: not caught up after %v: %s", timeout, strings.Join(last, "; "))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Convergence is what the nodes hold after a point.
type Convergence struct {
	// Checksums[node][table] is CHECKSUM TABLE's value, or "rows:<xxhash>" of the rows in key
	// order where the server has no CHECKSUM TABLE (replbench's own endpoint).
	Checksums map[string]map[string]string `json:"checksums"`
	// Equal is true when every table has the same checksum on every node.
	Equal bool `json:"equal"`
	// Differ names the tables that differ, with each node's value.
	Differ []string `json:"differ,omitempty"`
	// Waited is how long the appliers took to catch up.
	Waited time.Duration `json:"waited_ns"`
}

// Converge waits for the appliers (bounded by timeout) and compares the tables given to
// Connect on every node.
func (t *Target) Converge(ctx context.Context, timeout time.Duration) (*Convergence, error) {
	tables := t.tables
	start := time.Now()
	if err := t.WaitAppliers(ctx, timeout); err != nil {
		return nil, err
	}
	c := &Convergence{Checksums: map[string]map[string]string{}, Equal: true, Waited: time.Since(start)}
	for _, n := range t.Nodes {
		c.Checksums[n.Name()] = map[string]string{}
		for _, s := range tables {
			sum, err := checksum(ctx, n, s)
			if err != nil {
				return nil, fmt.Errorf("checksum of %s on %s: %v", s.Name, n.Name(), err)
			}
			c.Checksums[n.Name()][s.Name] = sum
		}
	}
	for _, s := range tables {
		var vals []string
		same := true
		for _, n := range t.Nodes {
			v := c.Checksums[n.Name()][s.Name]
			same = same && v == c.Checksums[t.Nodes[0].Name()][s.Name]
			vals = append(vals, n.Name()+"="+v)
		}
		if !same {
			c.Equal = false
			c.Differ = append(c.Differ, s.Name+": "+strings.Join(vals, " "))
		}
	}
	sort.Strings(c.Differ)
	return c, nil
}

func checksum(ctx context.Context, n *sqldb.Node, s storage.TableSchema) (string, error) {
	var name string
	var sum sql.NullString
	err := n.SQL().QueryRowContext(ctx, "CHECKSUM TABLE "+quoteIdent(s.Name)).Scan(&name, &sum)
	if err == nil && sum.Valid {
		return sum.String, nil
	}
	// No CHECKSUM TABLE: hash the rows in key order through the workload API.
	c, cerr := n.Client(ctx)
	if cerr != nil {
		return "", cerr
	}
	defer c.Close()
	tx := c.Begin()
	defer tx.Rollback()
	h := xxhash.New()
	var rows int64
	err = tx.Scan(ctx, s.Name, storage.ScanOptions{}, func(r storage.Row) bool {
		fmt.Fprintf(h, "%#v\x00", []storage.Value(r))
		rows++
		return true
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("rows:%d:%016x", rows, h.Sum64()), nil
}
