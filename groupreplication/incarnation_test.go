package groupreplication

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/groupreplication/group"
	"github.com/replbench/replbench/groupreplication/membership"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/storage"
)

// anyPrimaryCluster starts, in virtual time, 3 members with 1 ms one-way links and 4
// clients writing on whichever member takes them (anyPrimaryLoad); up says which members the
// clients try (all at first), acked collects the acknowledged ids, stop ends the clients.
// The caller closes c.
func anyPrimaryCluster(t *testing.T) (c *cluster, up []atomic.Bool, acked *sync.Map, stop func()) {
	nw := slowLinks(lan(t, 3), 3, time.Millisecond, "n1", "n2", "n3")
	c = start(t, 3, transport.NewMemBus(), nw, true, nil, nil)
	up = make([]atomic.Bool, 3)
	for i := range up {
		up[i].Store(true)
	}
	acked = &sync.Map{}
	return c, up, acked, c.anyPrimaryLoad(context.Background(), 4, acked, up)
}

// anyPrimaryLoad starts clients that insert distinct rows on whichever member takes them:
// each tries its member, and on a refusal (a secondary's 1290, a member down, recovering
// or rolling back) sleeps a millisecond and tries the next. Every acknowledged id goes to
// acked. stop ends the clients and returns once they have finished.
func (c *cluster) anyPrimaryLoad(ctx context.Context, clients int, acked *sync.Map, up []atomic.Bool) (stop func()) {
	var done atomic.Bool
	var wg sync.WaitGroup
	for cl := range clients {
		wg.Go(func() {
			at := 0
			for i := int64(0); !done.Load(); i++ {
				m := at % len(c.nodes)
				if !up[m].Load() {
					at++
					continue
				}
				id := int64(cl+1)<<32 | i
				if err := c.insert(ctx, m, id); err != nil {
					at++
					time.Sleep(time.Millisecond)
					continue
				}
				acked.Store(id, true)
			}
		})
	}
	return func() {
		done.Store(true)
		wg.Wait()
	}
}

// lostAcked counts the acknowledged ids missing from member i.
func (c *cluster) lostAcked(t *testing.T, i int, acked *sync.Map) (lost, total int) {
	ctx := context.Background()
	tx := c.dbs[i].BeginLocal()
	defer tx.Rollback()
	acked.Range(func(k, _ any) bool {
		total++
		r, err := tx.Get(ctx, "t", k.(int64))
		if err != nil {
			t.Fatal(err)
		}
		if r == nil {
			lost++
		}
		return true
	})
	return lost, total
}

// primaryRestart is what a kill and a quick restart of the primary n1 saw.
type primaryRestart struct {
	unreachable, expelled, rejoined time.Duration // after the kill, as n2 saw them / n1 ONLINE
	refusedWhileOld                 bool          // n1's join was refused while its old incarnation was in the view
	newPrimary, finalPrimary        int
	n1Role                          string
	lost, acked                     int
	converged                       bool
	digests                         [3]uint64
}

// restartPrimaryUnderLoad runs, in virtual time, 3 members with 1 ms one-way links and
// 4 clients writing on whichever member is primary. At 1 s the primary n1 is killed, at
// 2 s it restarts (well within 5 s of suspicion + 5 s of member_expel_timeout). between
// runs after n1 is ONLINE again, before the clients stop.
func restartPrimaryUnderLoad(t *testing.T, between func(c *cluster, oldInc, oldMaxID int64)) primaryRestart {
	var out primaryRestart
	synctest.Test(t, func(t *testing.T) {
		c, up, acked, stop := anyPrimaryCluster(t)
		defer c.close()
		ctx := context.Background()
		time.Sleep(time.Second)
		oldInc, oldMaxID := c.provs[0].incarnation, c.provs[0].nextID.Load()
		up[0].Store(false)
		killed := time.Now()
		e, _ := c.down(0, storage.HaltKill)
		time.Sleep(time.Second)
		p, done := c.restart(0, e)
		up[0].Store(true)
		awaitRestart(t, p, done, 10*time.Millisecond, func() {
			if out.unreachable == 0 && c.stateOf(1, 0) == "UNREACHABLE" {
				out.unreachable = time.Since(killed)
			}
			c.provs[1].mu.Lock()
			primary := c.provs[1].m.Primary()
			c.provs[1].mu.Unlock()
			if out.expelled == 0 && primary != 0 {
				// The old incarnation was the primary: it is expelled when n2 elects
				// another (the new incarnation joins in the same instant).
				out.expelled, out.newPrimary = time.Since(killed), primary
			}
			if out.expelled == 0 && c.status(0, "gr_model_join_refused") == "ON" {
				out.refusedWhileOld = true
			}
		})
		out.rejoined = time.Since(killed)
		if between != nil {
			between(c, oldInc, oldMaxID)
		}
		time.Sleep(time.Second)
		stop()
		out.converged = c.quiesce(ctx)
		out.n1Role = c.roleOf(1, 0)
		p.mu.Lock()
		out.finalPrimary = p.m.Primary()
		p.mu.Unlock()
		out.lost, out.acked = c.lostAcked(t, 1, acked)
		for i := range out.digests {
			out.digests[i] = c.provs[i].verdictDigest()
		}
	})
	return out
}

// §3.1 with a restart: a killed primary that comes back within the expel timeout is a new
// incarnation. The group keeps the old one, UNREACHABLE after 5 s of silence (the new
// incarnation's frames do not count for it), expels it after member_expel_timeout and
// elects a new primary (§4: weight, then the lowest server_uuid); the new incarnation's
// join is refused until then and goes through after: n1 comes back as a SECONDARY, and no
// acknowledged write is lost.
func TestRestart_PrimaryComesBackAsANewMemberAfterItsOldIncarnationIsExpelled(t *testing.T) {
	r := restartPrimaryUnderLoad(t, nil)
	t.Logf("after the kill: n1 UNREACHABLE on n2 %v, expelled %v (new primary n%d), new incarnation ONLINE %v as %s; %d acknowledged, %d lost",
		r.unreachable, r.expelled, r.newPrimary+1, r.rejoined, r.n1Role, r.acked, r.lost)
	if r.unreachable < membership.DefaultSuspectAfter || r.unreachable > membership.DefaultSuspectAfter+300*time.Millisecond {
		t.Errorf("old incarnation UNREACHABLE after %v, want the 5 s suspicion (the restart at 1 s must not count as hearing from it)", r.unreachable)
	}
	expel := membership.DefaultSuspectAfter + DefaultSettings().ExpelTimeout
	if r.expelled < expel || r.expelled > expel+300*time.Millisecond {
		t.Errorf("old incarnation expelled after %v, want suspicion + member_expel_timeout = %v", r.expelled, expel)
	}
	if !r.refusedWhileOld {
		t.Error("n1's join was never refused while its old incarnation was in the view")
	}
	if r.rejoined < r.expelled {
		t.Errorf("n1 ONLINE %v after the kill, before its old incarnation was expelled (%v)", r.rejoined, r.expelled)
	}
	uuids := []string{memberUUID("n1"), memberUUID("n2"), memberUUID("n3")}
	want := 1
	if uuids[2] < uuids[1] {
		want = 2
	}
	if r.newPrimary != want || r.finalPrimary != want || r.n1Role != "SECONDARY" {
		t.Errorf("primary n%d at the expulsion, n%d at the end, n1 %s; want n%d (lowest server_uuid of n2, n3) and n1 SECONDARY",
			r.newPrimary+1, r.finalPrimary+1, r.n1Role, want+1)
	}
	if r.acked == 0 || r.lost != 0 {
		t.Errorf("%d of %d acknowledged writes lost", r.lost, r.acked)
	}
	if !r.converged || r.digests[1] != r.digests[0] || r.digests[2] != r.digests[0] {
		t.Errorf("converged %v, verdict digests %x", r.converged, r.digests)
	}
}

// captureReplicator records the write-set of the transaction committed through it and
// refuses it, so a test can hold a real write-set that was never sent.
type captureReplicator struct{ ws *protocols.WriteSet }

func (r *captureReplicator) BeforeRead(context.Context) error  { return nil }
func (r *captureReplicator) BeforeWrite(context.Context) error { return nil }
func (r *captureReplicator) Replicate(_ context.Context, ws *protocols.WriteSet) (protocols.Commit, error) {
	r.ws = ws
	return nil, errors.New("captured")
}

// insertWriteSet returns the write-set of INSERT INTO t VALUES (id, 0) as node would send it.
func insertWriteSet(t *testing.T, node string, id int64) *protocols.WriteSet {
	db, err := storage.Open(storage.Options{Node: node})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateTable(table); err != nil {
		t.Fatal(err)
	}
	cr := &captureReplicator{}
	db.SetReplicator(cr)
	tx := db.Begin()
	tx.SetAutocommit(true)
	if _, err := tx.Insert(context.Background(), "t", storage.Row{id, int64(0)}); err != nil {
		t.Fatal(err)
	}
	_ = tx.Commit(context.Background())
	if cr.ws == nil {
		t.Fatal("no write-set captured")
	}
	return cr.ws
}

// XCom discards messages from a node that is not in the current configuration. A
// transaction the killed n1's old incarnation had in flight (its next proposal id, a real
// write-set), ordered only after the new incarnation replaced it, is dropped by every
// member: the row exists nowhere, data and verdicts stay identical. (A transaction of the
// new incarnation from the same member is certified as usual: the other restart tests.)
func TestRestart_OldIncarnationsInFlightMessageIsNotApplied(t *testing.T) {
	const staleRow = 1 << 40
	var seen [3]bool
	r := restartPrimaryUnderLoad(t, func(c *cluster, oldInc, oldMaxID int64) {
		ws := insertWriteSet(t, "n1", staleRow)
		data := group.AppendMessage(nil, &group.Message{Kind: group.KindTxn, Origin: 0, Inc: oldInc, ID: oldMaxID + 1, WS: ws})
		at := c.provs[1].LastCommitted()
		c.provs[1].propose(data)
		// Let it be ordered and processed everywhere.
		waitUntil(t, 10*time.Second, "the group to move on", func() bool { return c.provs[1].LastCommitted() > at+10 })
		time.Sleep(100 * time.Millisecond)
		for i := range seen {
			tx := c.dbs[i].BeginLocal()
			row, err := tx.Get(context.Background(), "t", int64(staleRow))
			tx.Rollback()
			if err != nil {
				t.Fatal(err)
			}
			seen[i] = row != nil
		}
	})
	if seen != [3]bool{} {
		t.Fatalf("the old incarnation's late transaction was applied on %v", seen)
	}
	if !r.converged || r.lost != 0 || r.digests[1] != r.digests[0] || r.digests[2] != r.digests[0] {
		t.Fatalf("converged %v, %d lost, digests %x", r.converged, r.lost, r.digests)
	}
}

// §7: a restarted member whose log no longer reaches back (its own and the donors' caches
// compacted past its position: group_replication_message_cache_size 64 KiB, about 800
// messages, against the 2,000 written while it was down, yet more than the traffic during
// the clone itself, so the log still continues the cloned state) rejoins by clone: it leaves
// for ERROR at once, its auto-rejoin clones a donor (database, certification info, view),
// waits for its old incarnation to be expelled, joins, catches up from the log and goes
// ONLINE with every member's data, and its status reports the clone.
func TestRestart_LogCompactedPastTheJoinerClones(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := slowLinks(lan(t, 3), 3, time.Millisecond, "n1", "n2", "n3")
		c := start(t, 3, transport.NewMemBus(), nw, true, map[string]string{pMessageCacheSize: "65536"}, nil)
		defer c.close()
		ctx := context.Background()
		var committed atomic.Int64
		stop := c.insertLoad(ctx, 4, &committed)
		time.Sleep(time.Second)
		e, pos := c.down(1, storage.HaltKill)
		time.Sleep(time.Second)
		p, done := c.restart(1, e)
		states := awaitRestart(t, p, done, time.Millisecond, nil)
		time.Sleep(time.Second)
		stop()
		converged := c.quiesce(ctx)
		received, last := c.status(1, "gr_model_clones_received"), c.status(1, "gr_model_last_clone")
		donated := 0
		for _, i := range []int{0, 2} {
			d, _ := strconv.Atoi(c.status(i, "gr_model_clones_donated"))
			donated += d
		}
		t.Logf("n2 recovered position %d, group at %d after %d commits; states %v; clone %q (received %s, donated %d); n1 compacted %d times",
			pos, c.provs[0].LastCommitted(), committed.Load(), states, last, received, donated, c.provs[0].node.Compactions())
		if received != "1" || donated != 1 || last == "" {
			t.Fatalf("clones received %s, donated %d, last %q; want exactly one clone", received, donated, last)
		}
		if len(states) < 2 || states[len(states)-1] != group.Online {
			t.Fatalf("states %v, want ONLINE at the end", states)
		}
		if !converged {
			t.Fatal("members did not converge after the clone")
		}
		d := [3]uint64{c.provs[0].verdictDigest(), c.provs[1].verdictDigest(), c.provs[2].verdictDigest()}
		if d[1] != d[0] || d[2] != d[0] {
			t.Fatalf("verdict digests differ after the clone: %x", d)
		}
	})
}

// The whole group killed and restarted: every view member is an old incarnation nobody
// is left to expel. Each restarted member hears no view member alive, waits out the
// suspicion and the expel timeout, and reboots the group (the model's
// group_replication_bootstrap_group); they all join it, one becomes primary, and every
// committed row is there.
func TestRestart_WholeGroupRebootsAndRejoins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := start(t, 3, transport.NewMemBus(), lan(t, 3), true, nil, nil)
		defer c.close()
		ctx := context.Background()
		for i := range 20 {
			if err := c.insert(ctx, 0, int64(i)); err != nil {
				t.Fatal(err)
			}
		}
		es := make([]*storage.Engine, 3)
		for i := range 3 {
			es[i], _ = c.down(i, storage.HaltKill)
		}
		time.Sleep(time.Second)
		t0 := time.Now()
		dones := make([]chan error, 3)
		for i := range 3 {
			_, dones[i] = c.restart(i, es[i])
		}
		for i, d := range dones {
			if err := <-d; err != nil {
				t.Fatalf("n%d: %v", i+1, err)
			}
		}
		t.Logf("whole group ONLINE %v after the restart: %s", time.Since(t0), c.status(0, "replication_group_members"))
		if !c.quiesce(ctx) {
			t.Fatal("not converged after the reboot")
		}
		for i := range 3 {
			tx := c.dbs[i].BeginLocal()
			r, err := tx.Get(ctx, "t", int64(19))
			tx.Rollback()
			if err != nil || r == nil {
				t.Fatalf("n%d lost a committed row (%v)", i+1, err)
			}
		}
	})
}
