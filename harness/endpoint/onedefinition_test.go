package endpoint

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/storage/sqlexec"
	"github.com/replbench/replbench/workloads"
	_ "github.com/replbench/replbench/workloads/hotspot"
	"github.com/replbench/replbench/workloads/sqldb"
	_ "github.com/replbench/replbench/workloads/sysbench"
	_ "github.com/replbench/replbench/workloads/tpcc"
)

// outcome is what one client did: transactions by type and by how they ended.
type outcome map[string]int

// drive runs n transactions of one client of w on db, as the harness's client loop does
// (a retryable error re-runs the same transaction, at most 5 times).
func drive(t *testing.T, w workloads.Workload, db workloads.DB, n int) outcome {
	t.Helper()
	ctx := context.Background()
	c := w.NewClient(0, workloads.NewRand(7, 1000))
	out := outcome{}
	for range n {
		retry := false
		for attempt := 0; ; attempt++ {
			typ, err := c.Next(ctx, db, retry)
			if err == nil {
				out[typ+" committed"]++
				break
			}
			cause := string(protocols.Classify(err))
			if !protocols.Retryable(err) || attempt == 5 {
				out[typ+" "+cause]++
				break
			}
			out[typ+" retried "+cause]++
			retry = true
		}
	}
	return out
}

// One definition per workload (issue 15, point 4): a workload written once against
// workloads.DB runs on a node's engine directly (the model) and through `serve` over SQL
// (workloads/sqldb, the back end run --target uses for real servers), and both leave the
// same committed transactions and the same rows: the SQL form is generated from the same
// definition, not written again.
func TestOneWorkloadDefinitionDirectAndThroughServe(t *testing.T) {
	for _, c := range []struct {
		name string
		opts map[string]string
		txns int
		// clock names the columns that hold the time a transaction ran (TPC-C's dates):
		// they differ between any two runs, so the rows are compared without them.
		clock []string
	}{
		{"insert", nil, 300, nil},
		{"oltp_read_write", map[string]string{"table-size": "500"}, 150, nil},
		{"oltp_update_index", map[string]string{"table-size": "500"}, 200, nil},
		{"hotspot", nil, 200, nil},
		{"tpcc", map[string]string{"scale": "0.01"}, 60, []string{"h_date", "o_entry_d", "ol_delivery_d"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			def, err := workloads.Lookup(c.name)
			if err != nil {
				t.Fatal(err)
			}
			env := workloads.Env{Nodes: 1, Writers: []string{"n1"}, Threads: 1, Seed: 7}
			newW := func() workloads.Workload {
				w, err := def.New(maps.Clone(c.opts), env)
				if err != nil {
					t.Fatal(err)
				}
				return w
			}
			ctx := context.Background()

			// Directly on the engine.
			direct := startTest(t, "standalone", 1, nil, Config{})
			de := direct.live.Nodes()[0].Engine
			wd := newW()
			for _, s := range wd.Tables() {
				_ = de.DropTable(s.Name) // the cluster comes up with insert's table loaded
				if err := de.CreateTable(s); err != nil {
					t.Fatal(err)
				}
			}
			if err := wd.Load(ctx, workloads.OnEngine(de), nil); err != nil {
				t.Fatal(err)
			}
			got := drive(t, wd, workloads.OnEngine(de), c.txns)

			// Through serve, over SQL.
			served := startTest(t, "standalone", 1, nil, Config{})
			ws := newW()
			host, port, _ := net.SplitHostPort(served.set.Addrs()[0])
			p, _ := strconv.Atoi(port)
			node, err := sqldb.Open(sqldb.Config{Name: "n1", Host: host, Port: p, User: "root", Database: sqlexec.DefaultDatabase,
				Kind: sqldb.KindStandalone, Tables: ws.Tables()})
			if err != nil {
				t.Fatal(err)
			}
			defer node.Close()
			if err := node.CreateTables(ctx, true); err != nil {
				t.Fatal(err)
			}
			loader, err := node.Loader(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := ws.Load(ctx, loader, nil); err != nil {
				t.Fatal(err)
			}
			loader.Close()
			client, err := node.Client(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := drive(t, ws, client, c.txns)
			client.Close()

			t.Logf("%d transactions of one client, directly and through serve: %v", c.txns, got)
			if !maps.Equal(got, want) {
				t.Errorf("transactions directly: %v\nthrough serve: %v", got, want)
			}
			if got[firstCommitted(got)] == 0 {
				t.Errorf("nothing committed: %v", got)
			}
			se := served.live.Nodes()[0].Engine
			for _, s := range wd.Tables() {
				dsum, dn := rowHash(t, de, s, c.clock)
				ssum, sn := rowHash(t, se, s, c.clock)
				if dsum != ssum || dn != sn {
					t.Errorf("table %s: rows hash to %x (%d rows) directly, %x (%d rows) through serve", s.Name, dsum, dn, ssum, sn)
				}
			}
			for name, w := range map[string]struct {
				w workloads.Workload
				e *storage.Engine
			}{"directly": {wd, de}, "through serve": {ws, se}} {
				checks, err := w.w.Check(ctx, []workloads.DB{workloads.OnEngineLocal(w.e)})
				if err != nil {
					t.Fatalf("%s: check: %v", name, err)
				}
				for check, ok := range checks {
					if !ok {
						t.Errorf("%s: check %s failed", name, check)
					}
				}
			}
		})
	}
}

// rowHash hashes a table's rows in key order, read on the node's own data, with the clock
// columns left out.
func rowHash(t *testing.T, e *storage.Engine, s storage.TableSchema, clock []string) (uint64, int) {
	t.Helper()
	var skip []bool
	for _, col := range s.Columns {
		skip = append(skip, slices.Contains(clock, col.Name))
	}
	h := xxhash.New()
	n := 0
	tx := workloads.OnEngineLocal(e).Begin()
	defer tx.Rollback()
	err := tx.Scan(context.Background(), s.Name, storage.ScanOptions{}, func(r storage.Row) bool {
		for i, v := range r {
			if i < len(skip) && skip[i] {
				continue
			}
			fmt.Fprintf(h, "%#v\x00", v)
		}
		h.Write([]byte{'\n'})
		n++
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return h.Sum64(), n
}

func firstCommitted(o outcome) string {
	for k := range o {
		if len(k) > 10 && k[len(k)-10:] == " committed" {
			return k
		}
	}
	return ""
}
