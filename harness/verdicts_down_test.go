package harness

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads/insert"
)

// A node still down at the check is read from its surviving storage, not reported as
// "unknown": after kill=n2 with no restart the verdict judges the live nodes and reads n2's
// recovered copy (a kill keeps every acknowledged commit); after crash=all with no restart
// it judges what survived on every node, and with innodb_flush_log_at_trx_commit=1 nothing
// acknowledged is missing. The surviving image itself stays untouched for a later restart.
func TestCheckReadsDownNodesSurvivingStorage(t *testing.T) {
	for _, tc := range []struct {
		fault string
		live  int
	}{{"kill=n2", 2}, {"crash=all", 0}} {
		t.Run(tc.fault, func(t *testing.T) {
			ps, _ := boundPoint(t, &Scenario{Protocol: "galera", Threads: IntList{1}, Params: map[string]string{"innodb_flush_log_at_trx_commit": "1"}})
			c, err := startCluster(context.Background(), ps, clusterConfig{bus: BusConfig{Kind: "memory"}, seed: 1}, func(string) {})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := closeWithin(c, closeTimeout); err != nil {
					t.Error(err)
				}
			}()
			target := newClusterTarget(c)
			db := c.logAcked(c.clientDB("n1", 0))
			ctx := context.Background()
			for id := int64(1); id <= 20; id++ {
				tx := db.Begin()
				tx.SetAutocommit(true)
				if _, err := tx.Insert(ctx, insert.Table, storage.Row{1_000_000 + id, insert.Value}); err != nil {
					t.Fatal(err)
				}
				if err := tx.Commit(ctx); err != nil {
					t.Fatal(err)
				}
			}
			// Every node has applied the 20 before the fault: what is read afterwards is what
			// the fault kept, not how far a replica's applier had got when it struck (a
			// replica applies after the writer has acknowledged).
			if cv := c.converge(ctx, 10*time.Second); !cv.ok {
				t.Fatalf("the cluster did not converge before the fault: %s", cv.detail)
			}
			f, err := ParseFault("0s:" + tc.fault)
			if err != nil {
				t.Fatal(err)
			}
			target.Lifecycle(f)
			nodes, notes := c.checkNodes()
			defer c.releaseCheckNodes()
			live := 0
			for _, n := range nodes {
				if n.live {
					live++
				} else if !strings.HasSuffix(n.name, downSuffix) {
					t.Errorf("down node named %q", n.name)
				}
			}
			if len(nodes) != 3 || live != tc.live || len(notes) != 0 {
				t.Fatalf("%d nodes, %d live, notes %v", len(nodes), live, notes)
			}
			v := c.acked.check(ctx, nodes)
			if v.Valid != checker.True || v.Checked["rows"] < 20 {
				t.Fatalf("%s %v", v.String(), v.Checked)
			}
			if tc.live == 0 && !strings.Contains(v.Note, "surviving storage") {
				t.Errorf("note %q does not say what was read", v.Note)
			}
			if tc.live > 0 && v.Checked["rows a down node's surviving storage lacks (fetched on rejoin, not lost)"] != 0 {
				t.Errorf("a killed node lost a commit it had acknowledged: %v", v.Checked)
			}
			// The image is still the one a restart opens.
			if img := target.downImage("n2"); img == nil {
				t.Fatal("n2 has no image")
			} else if e, err := storage.Reopen(c.opts[1], img); err != nil {
				t.Fatalf("the check disturbed n2's image: %v", err)
			} else {
				e.Close()
			}
		})
	}
}
