package galera

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/replbench/replbench/galera/replicator"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/storage"
)

func cachedRange(lo, hi int64, size int) []replicator.Cached {
	var out []replicator.Cached
	for g := lo; g <= hi; g++ {
		out = append(out, replicator.Cached{Seqno: g, Passed: g%3 != 0, Action: bytes.Repeat([]byte{byte(g)}, size)})
	}
	return out
}

func seqnos(cs []replicator.Cached) string {
	if len(cs) == 0 {
		return "none"
	}
	return fmt.Sprintf("%d..%d (%d)", cs[0].Seqno, cs[len(cs)-1].Seqno, len(cs))
}

// galera.cache survives as the real mmapped file does: a kill keeps every write-set written
// to it, a crash keeps only what the last writeback synced (the tail after it is lost), and
// the verdicts and bytes come back as they were written.
func TestGCacheFileSurvivesKillAndLosesTailInCrash(t *testing.T) {
	fs := vfs.NewCrashableMem()
	r, err := openRingCache(fs, "", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cachedRange(1, 10, 100) {
		r.add(c)
	}
	r.writeback(time.Now().Add(gcacheWriteback)) // the kernel wrote back 1..10
	for _, c := range cachedRange(11, 15, 100) {
		r.add(c)
	}
	kill := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: rand.New(rand.NewPCG(1, 1))})
	crash := fs.CrashClone(vfs.CrashCloneCfg{})

	got, err := readRingCache(kill, "")
	if err != nil {
		t.Fatal(err)
	}
	if s := seqnos(got); s != "1..15 (15)" {
		t.Fatalf("after a kill the file held %s, want 1..15", s)
	}
	for k, c := range got {
		want := cachedRange(c.Seqno, c.Seqno, 100)[0]
		if c.Passed != want.Passed || !bytes.Equal(c.Action, want.Action) {
			t.Fatalf("record %d came back as seqno %d passed=%v, want passed=%v and its bytes", k, c.Seqno, c.Passed, want.Passed)
		}
	}
	got, err = readRingCache(crash, "")
	if err != nil {
		t.Fatal(err)
	}
	if s := seqnos(got); s != "1..10 (10)" {
		t.Fatalf("after a crash the file held %s, want 1..10 (what was written back)", s)
	}
	if got, err := readRingCache(vfs.NewCrashableMem(), ""); err != nil || got != nil {
		t.Fatalf("a node without galera.cache recovered %v, %v; want nothing and no error", got, err)
	}
}

// The ring wraps at gcache.size, overwriting the oldest records; the record the wrap cut
// fails its checksum and is skipped, and recovery keeps the newest gapless run.
func TestGCacheRingWrapKeepsNewest(t *testing.T) {
	fs := vfs.NewCrashableMem()
	rec := int64(gcacheHeader + 100)
	r, err := openRingCache(fs, "", 10*rec+rec/2) // ten and a half records
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cachedRange(1, 25, 100) {
		r.add(c)
	}
	got, err := readRingCache(fs, "")
	if err != nil {
		t.Fatal(err)
	}
	kept := replicator.RecoverCache(got, 25, 1<<20)
	if s := seqnos(kept); s != "16..25 (10)" {
		t.Fatalf("after the wrap recovery kept %s (file held %s), want 16..25", s, seqnos(got))
	}
}

// RecoverCache keeps only what can serve IST for the recovered state: the gapless run
// ending at the recovered position, within gcache.size.
func TestRecoverCacheRules(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []replicator.Cached
		pos     int64
		size    int64
		want    string
	}{
		{"the whole file continues the state", cachedRange(1, 20, 10), 20, 1 << 20, "1..20 (20)"},
		{"write-sets above the recovered position are not this node's history", cachedRange(1, 20, 10), 17, 1 << 20, "1..17 (17)"},
		{"a cache that stops below the position (tail lost in a crash) serves nothing", cachedRange(1, 15, 10), 20, 1 << 20, "none"},
		{"a hole: only the run continuous with the position", append(cachedRange(1, 5, 10), cachedRange(8, 20, 10)...), 20, 1 << 20, "8..20 (13)"},
		{"bounded by gcache.size, newest first", cachedRange(1, 20, 10), 20, 55, "16..20 (5)"},
		{"gcache.size=0 keeps nothing", cachedRange(1, 20, 10), 20, 0, "none"},
		{"duplicates from the ring count once", append(cachedRange(1, 10, 10), cachedRange(5, 10, 10)...), 10, 1 << 20, "1..10 (10)"},
	} {
		if got := seqnos(replicator.RecoverCache(tc.entries, tc.pos, tc.size)); got != tc.want {
			t.Errorf("%s: kept %s, want %s", tc.name, got, tc.want)
		}
	}
}

// n3 stops cleanly and misses 20 write-sets, then n1 and n2 are killed at once, and all
// three restart: n1 and n2 recover their gcache from galera.cache, so n3 (and whichever of
// them is behind) rejoins by IST from a recovered gcache, not SST, and the cluster
// converges with every committed increment (a kill keeps what was written).
func TestKillAllRestartRejoinsByISTFromRecoveredGCache(t *testing.T) {
	em := transport.NewEmulator(transport.NewMemBus(), transport.Network{}, transport.EmulatorOptions{})
	c := newDBCluster(t, 3, em, nil)
	defer func() { c.close() }()
	ctx := context.Background()
	const n = 60
	for range n {
		if err := increment(ctx, c.dbs[0]); err != nil {
			t.Fatal(err)
		}
	}
	imgs := make([]*vfs.MemFS, 3)
	_ = c.ps[2].Close()
	_ = c.ps[2].ep.Close()
	img, err := c.dbs[2].Down(storage.HaltStop, 3)
	if err != nil {
		t.Fatal(err)
	}
	imgs[2] = img
	for range 20 {
		if err := increment(ctx, c.dbs[0]); err != nil {
			t.Fatal(err)
		}
	}
	// kill of n1 and n2: both wires cut and both images taken at one instant, then the
	// processes die.
	for i, p := range c.ps[:2] {
		_ = p.ep.Close()
		img, err := c.dbs[i].Down(storage.HaltKill, int64(i)+1)
		if err != nil {
			t.Fatal(err)
		}
		imgs[i] = img
	}
	for i, p := range c.ps {
		_ = p.Close()
		_ = c.dbs[i].Release()
	}
	const total = n + 20
	errs := make(chan error, 3)
	var recovered [3]int64
	for i, m := range c.nodes {
		db, err := storage.Reopen(storage.Options{Node: m, LockWaitTimeout: 5 * time.Second}, imgs[i])
		if err != nil {
			t.Fatal(err)
		}
		ep, err := em.Attach(m)
		if err != nil {
			t.Fatal(err)
		}
		pr, err := New(protocols.Config{Node: m, Members: c.nodes, Endpoint: ep, Applier: db, Settings: testSettings(t, nil), Rejoin: true, Position: db.Position()})
		if err != nil {
			t.Fatal(err)
		}
		db.SetReplicator(pr)
		c.dbs[i], c.ps[i] = db, pr.(*Provider)
		recovered[i] = db.Position()
	}
	// n1 and n2 first: their gvwstate.dat saved the primary view {n1,n2} (n3 had left it
	// cleanly and removed its own), and pc.recovery restores a saved view only when exactly
	// its members meet (gcs.Quorum). Started with n3 in the same view they would wait for an
	// operator's bootstrap, as the real provider does; an operator starts n3 once they are
	// back.
	start := func(ps []*Provider) {
		for _, p := range ps {
			go func() {
				sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				errs <- p.Start(sctx)
			}()
		}
		for range ps {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	start(c.ps[:2])
	start(c.ps[2:])
	c.converge(t)
	ist := 0
	for i, p := range c.ps {
		t.Logf("%s: %s; %s", c.nodes[i], status(p, "replbench_gcache_recovered"), status(p, "replbench_last_state_transfer"))
		if s := status(p, "replbench_sst_received"); s != "0" {
			t.Errorf("%s rejoined by SST (%s) though the donor's recovered gcache covers it", c.nodes[i], status(p, "replbench_last_state_transfer"))
		}
		if rec := status(p, "replbench_gcache_recovered"); !strings.HasPrefix(rec, "gcache recovered: ") || strings.HasPrefix(rec, "gcache recovered: 0 ") {
			t.Errorf("%s recovered no gcache: %q", c.nodes[i], status(p, "replbench_gcache_recovered"))
		}
		if status(p, "replbench_ist_received") == "1" {
			ist++
		}
		if got := counter(t, c.dbs[i]); got != total {
			t.Errorf("%s: counter %d after the restart, want %d", c.nodes[i], got, total)
		}
	}
	// The killed nodes' grastate.dat says -1 (their seqno came from the engine), the
	// stopped one's its last committed seqno.
	for i, want := range []string{"seqno: -1", "seqno: -1", fmt.Sprintf("seqno: %d", recovered[2])} {
		if got := strings.Join(strings.Fields(status(c.ps[i], "replbench_grastate_recovered")), " "); !strings.Contains(got, want) {
			t.Errorf("%s recovered grastate.dat %q, want %s", c.nodes[i], got, want)
		}
	}
	// n3 joins a primary component that has already formed, so it meets the others in one
	// view change and takes one IST from a recovered gcache. (When all three were started at
	// once and a majority of the saved view could restore it, n3 sometimes met n1 and n2 in
	// two primary views and took a second IST up to the same seqno.)
	if got := status(c.ps[2], "replbench_ist_received"); got != "1" {
		t.Errorf("n3, 20 write-sets behind, got %s ISTs (%s), want 1 from a recovered gcache", got, status(c.ps[2], "replbench_last_state_transfer"))
	}
	t.Logf("%d nodes rejoined by IST", ist)
}
