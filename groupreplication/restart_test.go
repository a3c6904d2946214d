package groupreplication

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/groupreplication/group"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/storage"
)

// down takes member i down as the harness's node faults do: its wire is cut, its engine
// keeps what h says survives, its provider stops. It returns the surviving image's
// engine, reopened (crash recovery), and the position it recovered.
func (c *cluster) down(i int, h storage.Halt) (*storage.Engine, int64) {
	c.t.Helper()
	if h == storage.HaltStop {
		_ = c.provs[i].Close()
	}
	img, err := c.dbs[i].Down(h, int64(i)+1)
	if err != nil {
		c.t.Fatal(err)
	}
	_ = c.provs[i].Close()
	_ = c.dbs[i].Release()
	e, err := storage.Reopen(c.opts[i], img)
	if err != nil {
		c.t.Fatal(err)
	}
	return e, e.Position()
}

// restart gives member i a new provider over engine e, rejoining from e's position, and
// returns it without waiting (the caller watches its Start).
func (c *cluster) restart(i int, e *storage.Engine) (*Provider, chan error) {
	c.t.Helper()
	ep, err := c.em.Attach(c.nodes[i])
	if err != nil {
		c.t.Fatal(err)
	}
	p, err := newProvider(protocols.Config{Node: c.nodes[i], Members: c.nodes, Endpoint: ep, Applier: e,
		Settings: c.sets[i], Seed: 1, Rejoin: true, Position: e.Position()})
	if err != nil {
		c.t.Fatal(err)
	}
	e.SetReplicator(p)
	c.dbs[i], c.provs[i] = e, p
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		done <- p.Start(ctx)
	}()
	return p, done
}

// awaitRestart waits for a restarted member's Start (done) and returns the states its
// provider p went through meanwhile, looking every interval; watch, if not nil, runs at
// every look (a test's own observations while the member rejoins). A failed Start fails t.
func awaitRestart(t *testing.T, p *Provider, done chan error, every time.Duration, watch func()) []group.State {
	t.Helper()
	var states []group.State
	for started := false; !started; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("restart: %v", err)
			}
			started = true
		case <-time.After(every):
		}
		if watch != nil {
			watch()
		}
		p.mu.Lock()
		st := p.m.State()
		p.mu.Unlock()
		if len(states) == 0 || states[len(states)-1] != st {
			states = append(states, st)
		}
	}
	return states
}

// restartRun is what one kill/crash/stop and restart of the secondary n2 under load saw.
type restartRun struct {
	recovered, final  int64 // n2's recovered position; the group's last position
	appliedAfter      int64 // remote transactions n2 applied after the restart
	states            []group.State
	recoveredToOnline time.Duration
	converged         bool
	digests           [3]uint64
}

// restartUnderLoad runs, in virtual time, 4 clients inserting on the primary n1 of 3
// members with 1 ms one-way links (about 2,000 commits per second); at 1 s n2 goes down as h says, at 2 s it restarts, and the
// clients stop at 3 s.
func restartUnderLoad(t *testing.T, h storage.Halt, flush storage.LogFlush) restartRun {
	var out restartRun
	synctest.Test(t, func(t *testing.T) {
		nw := slowLinks(lan(t, 3), 3, time.Millisecond, "n1", "n2", "n3")
		c := start(t, 3, transport.NewMemBus(), nw, true, nil, nil, func(_ string, o *storage.Options) { o.LogFlush = flush })
		defer c.close()
		ctx := context.Background()
		var committed atomic.Int64
		stop := c.insertLoad(ctx, 4, &committed)
		time.Sleep(time.Second)
		e, pos := c.down(1, h)
		out.recovered = pos
		time.Sleep(time.Second)
		p, done := c.restart(1, e)
		began := time.Now()
		out.states = awaitRestart(t, p, done, time.Millisecond, nil)
		out.recoveredToOnline = time.Since(began)
		time.Sleep(time.Second)
		stop()
		out.converged = c.quiesce(ctx)
		out.final = c.provs[0].LastCommitted()
		out.appliedAfter = p.remoteApplied.Load()
		for i := range out.digests {
			out.digests[i] = c.provs[i].verdictDigest()
		}
		if n, _ := strconv.Atoi(c.status(1, "COUNT_TRANSACTIONS_REMOTE_APPLIED")); int64(n) != out.appliedAfter {
			t.Errorf("status %d, counter %d", n, out.appliedAfter)
		}
	})
	return out
}

// A secondary killed, crashed or stopped under load comes back: it replays its persisted
// agreed log (rebuilding certification, view and primary) without applying again what its
// engine kept, applies the rest (what it lost in the crash, and what the group committed
// while it was down, from the leader), reports RECOVERING and then ONLINE, and ends with the
// others' data and verdicts. With innodb_flush_log_at_trx_commit=2 a crash loses up to a
// second of the engine's commits; the log, synced as the binlog is, still has them, so
// they are applied again from it.
func TestRestart_SecondaryReplaysItsLogAndRejoins(t *testing.T) {
	for _, tc := range []struct {
		name  string
		h     storage.Halt
		flush storage.LogFlush
	}{
		{"kill", storage.HaltKill, storage.LogFlushCommit},
		{"crash", storage.HaltCrash, storage.LogFlushCommit},
		{"crash/flush_log_at_trx_commit=2", storage.HaltCrash, storage.LogFlushOS},
		{"stop", storage.HaltStop, storage.LogFlushCommit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := restartUnderLoad(t, tc.h, tc.flush)
			t.Logf("recovered position %d, group at %d, applied after the restart %d, states %v, ONLINE after %v",
				r.recovered, r.final, r.appliedAfter, r.states, r.recoveredToOnline)
			if !r.converged {
				t.Fatal("not converged after the restart")
			}
			if r.recovered <= 0 || r.recovered >= r.final {
				t.Fatalf("recovered position %d of %d: the test must restart a member with a backlog", r.recovered, r.final)
			}
			if want := r.final - r.recovered; r.appliedAfter != want {
				t.Errorf("applied %d transactions after the restart, want %d (everything above the recovered position, once)", r.appliedAfter, want)
			}
			if len(r.states) < 2 || r.states[0] != group.Recovering || r.states[len(r.states)-1] != group.Online {
				t.Errorf("states %v, want RECOVERING then ONLINE", r.states)
			}
			if r.digests[1] != r.digests[0] || r.digests[2] != r.digests[0] {
				t.Errorf("verdict digests differ after the restart: %x", r.digests)
			}
		})
	}
}

// Multi-primary, every member incrementing two hot rows: n3 is killed in the middle, comes
// back, and writes again. Its rebuilt certification info must decide every later
// transaction as the others do (equal verdict digests: same positions, same conflicts), its
// new proposal ids must not collide with its old life's, and the members converge.
func TestRestart_MultiPrimaryCertifiesAlikeAfterRejoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := slowLinks(lan(t, 3), 3, time.Millisecond, "n1", "n2", "n3")
		c := start(t, 3, transport.NewMemBus(), nw, true, map[string]string{pSinglePrimary: "OFF"}, nil)
		defer c.close()
		ctx := context.Background()
		for r := range 2 {
			if err := c.insert(ctx, 0, int64(r)); err != nil {
				t.Fatal(err)
			}
		}
		var up [3]atomic.Bool
		for i := range up {
			up[i].Store(true)
		}
		var stopAll atomic.Bool
		var certFails, commits atomic.Int64
		var wg sync.WaitGroup
		for m := range 3 {
			for k := range 2 {
				wg.Go(func() {
					for i := 0; !stopAll.Load(); i++ {
						if !up[m].Load() {
							time.Sleep(5 * time.Millisecond)
							continue
						}
						err := c.increment(ctx, m, int64((i+k)%2))
						switch {
						case err == nil:
							commits.Add(1)
						case protocols.Classify(err) == protocols.CauseCertification:
							certFails.Add(1)
						default:
							time.Sleep(5 * time.Millisecond) // the node is down or recovering
						}
					}
				})
			}
		}
		time.Sleep(time.Second)
		up[2].Store(false)
		e, _ := c.down(2, storage.HaltKill)
		time.Sleep(500 * time.Millisecond)
		p, done := c.restart(2, e)
		if err := <-done; err != nil {
			t.Fatalf("restart: %v", err)
		}
		before := p.localProposed.Load()
		up[2].Store(true)
		time.Sleep(time.Second)
		stopAll.Store(true)
		wg.Wait()
		if !c.quiesce(ctx) {
			t.Fatal("members did not converge after the restart")
		}
		t.Logf("commits %d, certification failures %d, n3 proposed %d after its restart", commits.Load(), certFails.Load(), p.localProposed.Load()-before)
		if p.localProposed.Load() == before || certFails.Load() == 0 {
			t.Fatalf("the test needs n3 writing after the restart (%d proposals) and conflicts (%d)", p.localProposed.Load()-before, certFails.Load())
		}
		d := [3]uint64{c.provs[0].verdictDigest(), c.provs[1].verdictDigest(), c.provs[2].verdictDigest()}
		if d[1] != d[0] || d[2] != d[0] {
			t.Fatalf("verdict digests differ after the restart: %x", d)
		}
	})
}
