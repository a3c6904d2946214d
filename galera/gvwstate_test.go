package galera

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/storage"
)

func savedView(t *testing.T, fsys vfs.FS, dir string, members []string) ([]int, bool) {
	t.Helper()
	v, ok, err := readGvwstate(fsys, dir, members, func(int) int { return 1 })
	if err != nil {
		t.Fatal(err)
	}
	return v.Members, ok
}

// gvwstate.dat (pc.recovery) holds the primary view the node is in, survives a crash
// (fsynced), and is removed by a clean shutdown; a node restarted with pc.bootstrap whose
// grastate.dat says safe_to_bootstrap: 0 is refused with the way out named, and one with
// safe_to_bootstrap: 1 starts alone as a new primary component.
func TestGvwstateAndBootstrapRefusal(t *testing.T) {
	em := transport.NewEmulator(transport.NewMemBus(), transport.Network{}, transport.EmulatorOptions{})
	c := newDBCluster(t, 3, em, nil)
	defer c.close()
	for i, db := range c.dbs {
		fsys, dir := db.FileSystem()
		if m, ok := savedView(t, fsys, dir, c.nodes); !ok || !slices.Equal(m, []int{0, 1, 2}) {
			t.Fatalf("%s running: gvwstate.dat members %v (found %v), want the whole primary view", c.nodes[i], m, ok)
		}
	}
	if err := increment(context.Background(), c.dbs[0]); err != nil {
		t.Fatal(err)
	}
	c.converge(t)
	fsys, _ := c.dbs[1].FileSystem()
	crashed := fsys.(*vfs.MemFS).CrashClone(vfs.CrashCloneCfg{})
	if m, ok := savedView(t, crashed, "", c.nodes); !ok || len(m) != 3 {
		t.Fatalf("a crashed node's gvwstate.dat: %v %v, want the 3-member view", m, ok)
	}
	_ = c.ps[2].Close()
	fs3, dir3 := c.dbs[2].FileSystem()
	if _, ok := savedView(t, fs3, dir3, c.nodes); ok {
		t.Fatal("gvwstate.dat still there after a clean shutdown")
	}

	// The crashed n2 asked to bootstrap: its grastate.dat says safe_to_bootstrap: 0.
	db, err := storage.Reopen(storage.Options{Node: "n2"}, crashed)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := em.Attach("n2-refused")
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(protocols.Config{Node: "n2", Members: c.nodes, Endpoint: ep, Applier: db,
		Settings: testSettings(t, map[string]string{ParamPCBootstrap: "true"}), Rejoin: true, Position: db.Position()})
	if err == nil || !strings.Contains(err.Error(), "set safe_to_bootstrap: 1") || !strings.Contains(err.Error(), "highest recovered seqno") {
		t.Fatalf("bootstrap from a node with safe_to_bootstrap: 0: %v, want the refusal naming the way out", err)
	}
}
