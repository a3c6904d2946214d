package galera

import (
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/storage"
)

func engineState(t *testing.T, db *storage.Engine) grastate {
	t.Helper()
	fsys, dir := db.FileSystem()
	g, ok, err := readGrastate(fsys, dir)
	if err != nil || !ok {
		t.Fatalf("grastate.dat: found=%v, %v", ok, err)
	}
	return g
}

func waitView(t *testing.T, p *Provider, size string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for status(p, "wsrep_cluster_size") != size {
		if time.Now().After(deadline) {
			t.Fatalf("wsrep_cluster_size %s, want %s", status(p, "wsrep_cluster_size"), size)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// grastate.dat follows Galera's rules: seqno -1 while the node runs (so a killed node's
// file says -1), the last committed seqno after a clean shutdown, and safe_to_bootstrap=1
// only on the last node to leave the primary component cleanly.
func TestGrastateRules(t *testing.T) {
	em := transport.NewEmulator(transport.NewMemBus(), transport.Network{}, transport.EmulatorOptions{})
	c := newDBCluster(t, 3, em, nil)
	defer c.close()
	ctx := context.Background()
	for range 10 {
		if err := increment(ctx, c.dbs[0]); err != nil {
			t.Fatal(err)
		}
	}
	c.converge(t)
	for i, db := range c.dbs {
		if g := engineState(t, db); g.Seqno != -1 || g.SafeToBootstrap {
			t.Fatalf("%s running: grastate %s, want seqno -1, safe_to_bootstrap 0", c.nodes[i], g)
		}
	}
	// A crash (or a kill) leaves the running state behind: its image says -1.
	fsys, _ := c.dbs[1].FileSystem()
	killed := fsys.(*vfs.MemFS).CrashClone(vfs.CrashCloneCfg{})
	if g, ok, err := readGrastate(killed, ""); err != nil || !ok || g.Seqno != -1 {
		t.Fatalf("a crashed node's grastate.dat: %v %v %v, want seqno -1", g, ok, err)
	}
	// Clean shutdown n3, then n2, then n1.
	_ = c.ps[2].Close()
	waitView(t, c.ps[0], "2")
	_ = c.ps[1].Close()
	waitView(t, c.ps[0], "1")
	_ = c.ps[0].Close()
	for i, wantSafe := range []bool{true, false, false} {
		g := engineState(t, c.dbs[i])
		if g.Seqno != 10 || g.SafeToBootstrap != wantSafe || g.UUID == "" {
			t.Errorf("%s after a clean shutdown: grastate %s, want seqno 10, safe_to_bootstrap %v", c.nodes[i], g, wantSafe)
		}
	}
	if g, err := parseGrastate(grastate{UUID: "u", Seqno: 7, SafeToBootstrap: true}.encode()); err != nil || g != (grastate{UUID: "u", Seqno: 7, SafeToBootstrap: true}) {
		t.Errorf("round trip: %v %v", g, err)
	}
	if _, err := parseGrastate([]byte("seqno: x\n")); err == nil {
		t.Error("a garbled grastate.dat parsed")
	}
}
