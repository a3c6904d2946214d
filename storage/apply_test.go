package storage

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/replbench/replbench/protocols"
)

// fakeRepl is a scripted provider: Replicate calls replicate; the Commit it returns runs
// engineCommit when its gate channel is closed (standing for "its turn in commit order").
type fakeRepl struct {
	replicate func(ctx context.Context, ws *protocols.WriteSet) (protocols.Commit, error)
}

func (f *fakeRepl) BeforeRead(context.Context) error  { return nil }
func (f *fakeRepl) BeforeWrite(context.Context) error { return nil }
func (f *fakeRepl) Replicate(ctx context.Context, ws *protocols.WriteSet) (protocols.Commit, error) {
	return f.replicate(ctx, ws)
}

type fakeCommit struct {
	seqno int64
	gate  chan struct{}
}

func (c *fakeCommit) GTID() protocols.GTID { return protocols.GTID{UUID: "fake", Seqno: c.seqno} }
func (c *fakeCommit) Seqno() int64         { return c.seqno }
func (c *fakeCommit) Apply(ctx context.Context, engineCommit func() error) error {
	if c.gate != nil {
		<-c.gate
	}
	return engineCommit()
}

func ordered(seqno int64, gate chan struct{}) func(context.Context, *protocols.WriteSet) (protocols.Commit, error) {
	return func(_ context.Context, ws *protocols.WriteSet) (protocols.Commit, error) {
		ws.Seqno = seqno
		return &fakeCommit{seqno: seqno, gate: gate}, nil
	}
}

// bfSetup opens an engine in a bubble with counters rows 1 and 2 (c = 0).
func bfSetup(t *testing.T) *Engine {
	e, err := Open(Options{Node: "n1"})
	must(t, err)
	t.Cleanup(func() { e.Close() })
	mustTable(t, e, counters)
	must(t, exec(t, e, func(tx *Txn) error {
		for i := 1; i <= 2; i++ {
			if _, err := tx.Insert(bg, "counters", Row{i, 0}); err != nil {
				return err
			}
		}
		return nil
	}))
	return e
}

func remoteUpdate(t testing.TB, id, c int64, seqno int64) *protocols.WriteSet {
	pk, _ := EncodeKey(id)
	after, _ := EncodeRow(Row{id, c})
	return &protocols.WriteSet{Source: "n2", Seqno: seqno,
		Keys: []protocols.Key{{Table: "counters", Row: pk, Type: protocols.KeyExclusive}},
		Rows: []protocols.RowChange{{Table: "counters", Op: protocols.OpUpdate, Row: pk, After: after}}}
}

// prepareAsync runs PrepareApply in a goroutine; the channel yields the Applied.
func prepareAsync(t *testing.T, e *Engine, ws *protocols.WriteSet) <-chan protocols.Applied {
	ch := make(chan protocols.Applied, 1)
	go func() {
		a, err := e.PrepareApply(bg, ws)
		if err != nil {
			t.Error(err)
		}
		ch <- a
	}()
	return ch
}

func readC(t *testing.T, e *Engine, id int64) int64 {
	tx := e.Begin()
	r, err := tx.Get(bg, "counters", id)
	must(t, err)
	must(t, tx.Commit(bg))
	return r[1].(int64)
}

func blocked[T any](ch <-chan T) bool {
	select {
	case <-ch:
		return false
	default:
		return true
	}
}

// galera.md 1.5: an applier that meets a local transaction still executing aborts it at
// once; the victim's next statement and its COMMIT fail with 1213 (bf_abort).
func TestBFAbortsExecuting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := bfSetup(t)
		victim := e.Begin()
		must(t, victim.Update(bg, "counters", Row{1, 100}))
		a, err := e.PrepareApply(bg, remoteUpdate(t, 1, 5, 5))
		must(t, err) // did not wait
		_, err = victim.Get(bg, "counters", 2)
		wantCode(t, err, protocols.ErLockDeadlock, protocols.CauseBFAbort)
		wantCode(t, victim.Commit(bg), protocols.ErLockDeadlock, protocols.CauseBFAbort)
		must(t, a.Commit())
		if c := readC(t, e, 1); c != 5 {
			t.Fatalf("row 1 = %d, want the applier's 5", c)
		}
		if s := e.Stats(); s.BFAborts != 1 || s.Applied != 1 || s.Rollbacks != 1 || s.LockWaits != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// A victim blocked in a lock wait gets the BF abort from that wait.
func TestBFAbortsLockWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := bfSetup(t)
		other := e.Begin()
		must(t, other.Update(bg, "counters", Row{2, 1}))
		victim := e.Begin()
		must(t, victim.Update(bg, "counters", Row{1, 100}))
		res := make(chan error)
		go func() { res <- victim.Update(bg, "counters", Row{2, 100}) }()
		synctest.Wait()
		a, err := e.PrepareApply(bg, remoteUpdate(t, 1, 5, 5))
		must(t, err)
		wantCode(t, <-res, protocols.ErLockDeadlock, protocols.CauseBFAbort)
		victim.Rollback()
		must(t, a.Commit())
		must(t, other.Commit(bg))
		if c1, c2 := readC(t, e, 1), readC(t, e, 2); c1 != 5 || c2 != 1 {
			t.Fatalf("rows %d %d", c1, c2)
		}
	})
}

// An applier waits for an applier, and a local requester never preempts an applier.
func TestApplierWaitsForApplier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := bfSetup(t)
		a1, err := e.PrepareApply(bg, remoteUpdate(t, 1, 3, 3))
		must(t, err)
		ch := prepareAsync(t, e, remoteUpdate(t, 1, 4, 4))
		local := make(chan error)
		go func() {
			tx := e.Begin()
			_, err := tx.GetForUpdate(bg, "counters", 1)
			tx.Rollback()
			local <- err
		}()
		synctest.Wait()
		if !blocked(ch) || !blocked(local) {
			t.Fatal("a second applier or a local transaction did not wait for the applier holding the row")
		}
		must(t, a1.Commit())
		a2 := <-ch
		synctest.Wait()
		if !blocked(local) {
			t.Fatal("the local transaction overtook the queued applier")
		}
		must(t, a2.Commit())
		must(t, <-local)
		if c := readC(t, e, 1); c != 4 {
			t.Fatalf("row 1 = %d", c)
		}
	})
}

// A local transaction ordered before the applier wins: the applier waits for its commit.
func TestApplierWaitsForEarlierOrdered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := bfSetup(t)
		gate := make(chan struct{})
		e.SetReplicator(&fakeRepl{replicate: ordered(3, gate)})
		local := e.Begin()
		must(t, local.Update(bg, "counters", Row{1, 100}))
		res := make(chan error)
		go func() { res <- local.Commit(bg) }()
		synctest.Wait() // ordered at 3, waiting for its turn
		ch := prepareAsync(t, e, remoteUpdate(t, 1, 5, 5))
		synctest.Wait()
		if !blocked(ch) {
			t.Fatal("applier 5 did not wait for local transaction ordered at 3")
		}
		close(gate)
		must(t, <-res)
		a := <-ch
		must(t, a.Commit())
		if c := readC(t, e, 1); c != 5 {
			t.Fatalf("row 1 = %d, want 5 (3 then 5)", c)
		}
		if s := e.Stats(); s.BFAborts != 0 || s.Replays != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// A local transaction ordered after the applier would wait for it in commit order while
// the applier waits for its lock: it releases its locks, the applier goes first, and the
// local transaction replays its write-set in its own turn (wsrep_local_replays).
func TestOrderedAfterApplierReplays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := bfSetup(t)
		gate := make(chan struct{})
		e.SetReplicator(&fakeRepl{replicate: ordered(7, gate)})
		local := e.Begin()
		must(t, local.Update(bg, "counters", Row{1, 100}))
		res := make(chan error)
		go func() { res <- local.Commit(bg) }()
		synctest.Wait()
		a, err := e.PrepareApply(bg, remoteUpdate(t, 1, 5, 5))
		must(t, err) // took the lock from the ordered-later transaction
		must(t, a.Commit())
		close(gate) // seqno 7's turn
		must(t, <-res)
		if c := readC(t, e, 1); c != 100 {
			t.Fatalf("row 1 = %d, want the replayed 100 (5 then 7)", c)
		}
		if s := e.Stats(); s.Replays != 1 || s.BFAborts != 0 || s.Commits != 3 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// A replicating holder has its Replicate context cancelled with the BF-abort cause. What
// happens next is the provider's verdict: an error rolls it back, a seqno after the
// applier's makes it replay, a seqno before makes the applier wait.
func TestBFCancelsReplicating(t *testing.T) {
	cases := []struct {
		name        string
		verdict     func(ctx context.Context, ws *protocols.WriteSet, gate chan struct{}) (protocols.Commit, error)
		wantErr     protocols.Cause // "" = commits
		wantRow     int64
		wantReplays uint64
		appliedWait bool // the applier must wait for the local commit
	}{
		{"not sent: rolled back", func(ctx context.Context, _ *protocols.WriteSet, _ chan struct{}) (protocols.Commit, error) {
			return nil, context.Cause(ctx).(*protocols.Error)
		}, protocols.CauseBFAbort, 5, 0, false},
		{"provider returns ctx error", func(ctx context.Context, _ *protocols.WriteSet, _ chan struct{}) (protocols.Commit, error) {
			return nil, ctx.Err()
		}, protocols.CauseBFAbort, 5, 0, false},
		{"ordered after: replay", func(ctx context.Context, ws *protocols.WriteSet, gate chan struct{}) (protocols.Commit, error) {
			return ordered(7, gate)(ctx, ws)
		}, "", 100, 1, false},
		{"ordered before: applier waits", func(ctx context.Context, ws *protocols.WriteSet, gate chan struct{}) (protocols.Commit, error) {
			return ordered(3, gate)(ctx, ws)
		}, "", 5, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := bfSetup(t)
				gate := make(chan struct{})
				e.SetReplicator(&fakeRepl{replicate: func(ctx context.Context, ws *protocols.WriteSet) (protocols.Commit, error) {
					<-ctx.Done() // in flight until an applier interrupts it
					return c.verdict(ctx, ws, gate)
				}})
				local := e.Begin()
				must(t, local.Update(bg, "counters", Row{1, 100}))
				res := make(chan error)
				go func() { res <- local.Commit(bg) }()
				synctest.Wait() // inside Replicate
				ch := prepareAsync(t, e, remoteUpdate(t, 1, 5, 5))
				synctest.Wait()
				var err error
				if c.appliedWait {
					if !blocked(ch) {
						t.Fatal("applier did not wait for the transaction ordered before it")
					}
					close(gate)
					err = <-res
					must(t, (<-ch).Commit())
				} else {
					must(t, (<-ch).Commit())
					close(gate)
					err = <-res
				}
				if c.wantErr == "" {
					must(t, err)
				} else if protocols.Classify(err) != c.wantErr {
					t.Fatalf("commit error %v, want cause %s", err, c.wantErr)
				}
				if got := readC(t, e, 1); got != c.wantRow {
					t.Fatalf("row 1 = %d, want %d", got, c.wantRow)
				}
				s := e.Stats()
				if s.Replays != c.wantReplays {
					t.Fatalf("replays %d, want %d", s.Replays, c.wantReplays)
				}
				if c.wantErr == protocols.CauseBFAbort && s.BFAborts != 1 {
					t.Fatalf("bf aborts %d", s.BFAborts)
				}
			})
		})
	}
}

// A replaying transaction re-acquires its locks as a BF applier: an executing local
// transaction that took the row in between is aborted.
func TestReplayAbortsExecuting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := bfSetup(t)
		gate := make(chan struct{})
		e.SetReplicator(&fakeRepl{replicate: ordered(7, gate)})
		local := e.Begin()
		must(t, local.Update(bg, "counters", Row{1, 100}))
		res := make(chan error)
		go func() { res <- local.Commit(bg) }()
		synctest.Wait()
		a, err := e.PrepareApply(bg, remoteUpdate(t, 1, 5, 5))
		must(t, err)
		must(t, a.Commit())
		intruder := e.Begin()
		must(t, intruder.Update(bg, "counters", Row{1, 999}))
		close(gate)
		must(t, <-res)
		wantCode(t, intruder.Commit(bg), protocols.ErLockDeadlock, protocols.CauseBFAbort)
		if c := readC(t, e, 1); c != 100 {
			t.Fatalf("row 1 = %d", c)
		}
	})
}

// Commit with a replicator: the gates run before the first statement and the first write,
// and their errors fail the statement.
func TestGatesAndWriteSet(t *testing.T) {
	e := openT(t, "n1")
	mustTable(t, e, accounts)
	var got *protocols.WriteSet
	g := &gateRepl{}
	g.replicate = func(_ context.Context, ws *protocols.WriteSet) (protocols.Commit, error) {
		got = ws
		return &fakeCommit{seqno: 1}, nil
	}
	e.SetReplicator(g)
	tx := e.Begin()
	tx.SetAutocommit(true)
	_, err := tx.Insert(bg, "accounts", Row{nil, "a@x", "ann", 1.0})
	must(t, err)
	must(t, tx.Commit(bg))
	if g.reads != 1 || g.writes != 1 {
		t.Fatalf("gates called %d/%d times", g.reads, g.writes)
	}
	if got == nil || got.Flags&protocols.FlagAutocommit == 0 || got.Source != "n1" || len(got.Rows) != 1 || got.Rows[0].Op != protocols.OpInsert {
		t.Fatalf("write-set %+v", got)
	}
	pk, _ := EncodeKey(int64(1))
	email, _ := EncodeKey("a@x")
	want := []protocols.Key{{Table: "accounts", Row: pk, Type: protocols.KeyExclusive}, {Table: "accounts", Index: "email", Row: email, Type: protocols.KeyExclusive}}
	if len(got.Keys) != 2 || string(got.Keys[0].Row) != string(want[0].Row) || got.Keys[1].Index != "email" || string(got.Keys[1].Row) != string(want[1].Row) {
		t.Fatalf("keys %+v, want %+v", got.Keys, want)
	}
	// Read-only transactions never reach Replicate.
	got = nil
	tx = e.Begin()
	_, err = tx.Get(bg, "accounts", 1)
	must(t, err)
	must(t, tx.Commit(bg))
	if got != nil {
		t.Fatal("a read-only transaction was replicated")
	}
	// A refusing gate fails the statement.
	g.writeErr = protocols.ErrReadOnly()
	tx = e.Begin()
	_, err = tx.Insert(bg, "accounts", Row{nil, "b@x", "bob", 1.0})
	wantCode(t, err, protocols.ErOptionPreventsStatement, protocols.CauseReadOnly)
	tx.Rollback()
	g.readErr = protocols.ErrNotReady()
	tx = e.Begin()
	_, err = tx.Get(bg, "accounts", 1)
	wantCode(t, err, protocols.ErUnknownCommand, protocols.CauseNotReady)
	tx.Rollback()
	// A certification failure rolls back and is returned as is.
	g.readErr, g.writeErr = nil, nil
	g.replicate = func(context.Context, *protocols.WriteSet) (protocols.Commit, error) {
		return nil, protocols.ErrCertification()
	}
	tx = e.Begin()
	must(t, tx.Update(bg, "accounts", Row{1, "a@x", "ann", 2.0}))
	err = tx.Commit(bg)
	wantCode(t, err, protocols.ErLockDeadlock, protocols.CauseCertification)
	tx = e.Begin()
	r, _ := tx.GetForUpdate(bg, "accounts", 1) // the lock was released
	tx.Rollback()
	if r[3] != 1.0 {
		t.Fatalf("row after failed certification: %v", r)
	}
	if IsAutocommitConflict(err) {
		t.Fatal("explicit transaction's certification failure marked as autocommit")
	}
	// An autocommit statement's certification failure is marked, so the client loop may
	// re-run it as wsrep_retry_autocommit does, and still classifies as certification.
	tx = e.Begin()
	tx.SetAutocommit(true)
	must(t, tx.Update(bg, "accounts", Row{1, "a@x", "ann", 2.0}))
	err = tx.Commit(bg)
	wantCode(t, err, protocols.ErLockDeadlock, protocols.CauseCertification)
	if !IsAutocommitConflict(err) {
		t.Fatalf("autocommit certification failure %v not marked", err)
	}
}

type gateRepl struct {
	fakeRepl
	reads, writes     int
	readErr, writeErr error
}

func (g *gateRepl) BeforeRead(context.Context) error  { g.reads++; return g.readErr }
func (g *gateRepl) BeforeWrite(context.Context) error { g.writes++; return g.writeErr }
