package storage

import (
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols"
)

// innodb_lock_wait_timeout: a local lock wait fails with 1205 after exactly the timeout
// (virtual time: 50 s take no wall time), and the holder keeps its lock.
func TestLockWaitTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := Open(Options{Node: "n1"})
		must(t, err)
		defer e.Close()
		mustTable(t, e, counters)
		must(t, exec(t, e, func(tx *Txn) error { _, err := tx.Insert(bg, "counters", Row{1, 0}); return err }))
		t1 := e.Begin()
		_, err = t1.GetForUpdate(bg, "counters", 1)
		must(t, err)
		t2 := e.Begin()
		start := time.Now()
		_, err = t2.GetForUpdate(bg, "counters", 1)
		wantCode(t, err, protocols.ErLockWaitTimeout, protocols.CauseLockWaitTimeout)
		if d := time.Since(start); d != DefaultLockWaitTimeout {
			t.Fatalf("waited %v, want innodb_lock_wait_timeout = %v", d, DefaultLockWaitTimeout)
		}
		t2.Rollback()
		must(t, t1.Update(bg, "counters", Row{1, 5}))
		must(t, t1.Commit(bg))
		if s := e.Stats(); s.LockWaitTimeouts != 1 || s.LockWaits != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// A lock released by commit goes to the waiter, which then reads the committed value.
func TestLockHandoffOnCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := Open(Options{Node: "n1", LockWaitTimeout: time.Second})
		must(t, err)
		defer e.Close()
		mustTable(t, e, counters)
		must(t, exec(t, e, func(tx *Txn) error { _, err := tx.Insert(bg, "counters", Row{1, 0}); return err }))
		t1 := e.Begin()
		_, err = t1.GetForUpdate(bg, "counters", 1)
		must(t, err)
		done := make(chan Row)
		go func() {
			t2 := e.Begin()
			r, err := t2.GetForUpdate(bg, "counters", 1)
			must(t, err)
			t2.Rollback()
			done <- r
		}()
		synctest.Wait()
		time.Sleep(500 * time.Millisecond)
		must(t, t1.Update(bg, "counters", Row{1, 7}))
		must(t, t1.Commit(bg))
		if r := <-done; r[1] != int64(7) {
			t.Fatalf("waiter read %v after the holder committed 7", r)
		}
	})
}

// Two transactions locking two rows in opposite order: the one whose request closes the
// cycle gets 1213 (CauseDeadlock) at once; the other proceeds once the victim rolls back.
func TestDeadlockDetection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := Open(Options{Node: "n1"})
		must(t, err)
		defer e.Close()
		mustTable(t, e, counters)
		must(t, exec(t, e, func(tx *Txn) error {
			for i := 1; i <= 2; i++ {
				if _, err := tx.Insert(bg, "counters", Row{i, 0}); err != nil {
					return err
				}
			}
			return nil
		}))
		t1, t2 := e.Begin(), e.Begin()
		must(t, t1.Update(bg, "counters", Row{1, 1}))
		must(t, t2.Update(bg, "counters", Row{2, 2}))
		res := make(chan error)
		go func() { res <- t1.Update(bg, "counters", Row{2, 1}) }()
		synctest.Wait() // t1 is blocked on row 2
		start := time.Now()
		err = t2.Update(bg, "counters", Row{1, 2})
		wantCode(t, err, protocols.ErLockDeadlock, protocols.CauseDeadlock)
		if time.Since(start) != 0 {
			t.Fatal("deadlock detection waited")
		}
		t2.Rollback()
		must(t, <-res)
		must(t, t1.Commit(bg))
		if s := e.Stats(); s.Deadlocks != 1 {
			t.Fatalf("deadlocks = %d, want exactly 1", s.Deadlocks)
		}
		tx := e.Begin()
		r1, _ := tx.Get(bg, "counters", 1)
		r2, _ := tx.Get(bg, "counters", 2)
		if r1[1] != int64(1) || r2[1] != int64(1) {
			t.Fatalf("rows after deadlock: %v %v", r1, r2)
		}
		tx.Rollback()
	})
}

// A three-transaction cycle is found too.
func TestDeadlockThreeWay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := Open(Options{Node: "n1"})
		must(t, err)
		defer e.Close()
		mustTable(t, e, counters)
		tx := [3]*Txn{e.Begin(), e.Begin(), e.Begin()}
		for i := range tx {
			_, err := tx[i].GetForUpdate(bg, "counters", i)
			must(t, err)
		}
		errs := make(chan error, 2)
		go func() { _, err := tx[0].GetForUpdate(bg, "counters", 1); errs <- err }()
		synctest.Wait()
		go func() { _, err := tx[1].GetForUpdate(bg, "counters", 2); errs <- err }()
		synctest.Wait()
		_, err = tx[2].GetForUpdate(bg, "counters", 0)
		wantCode(t, err, protocols.ErLockDeadlock, protocols.CauseDeadlock)
		tx[2].Rollback()
		must(t, <-errs) // tx1 gets row 2
		tx[1].Rollback()
		must(t, <-errs) // tx0 gets row 1
		tx[0].Rollback()
	})
}

// Repeatable read: a transaction keeps reading its snapshot while another commits, but a
// locking read sees the latest committed version.
func TestSnapshotReads(t *testing.T) {
	e := openT(t, "n1")
	mustTable(t, e, counters)
	must(t, exec(t, e, func(tx *Txn) error { _, err := tx.Insert(bg, "counters", Row{1, 10}); return err }))
	reader := e.Begin()
	r, err := reader.Get(bg, "counters", 1)
	must(t, err)
	must(t, exec(t, e, func(tx *Txn) error {
		if err := tx.Update(bg, "counters", Row{1, 11}); err != nil {
			return err
		}
		_, err := tx.Insert(bg, "counters", Row{2, 20})
		return err
	}))
	r2, err := reader.Get(bg, "counters", 1)
	must(t, err)
	if r[1] != int64(10) || r2[1] != int64(10) {
		t.Fatalf("repeatable read broken: %v then %v", r, r2)
	}
	n := 0
	must(t, reader.Scan(bg, "counters", ScanOptions{}, func(Row) bool { n++; return true }))
	if n != 1 {
		t.Fatalf("snapshot scan saw %d rows, want 1 (a row committed later is a phantom)", n)
	}
	lr, err := reader.GetForUpdate(bg, "counters", 1)
	must(t, err)
	if lr[1] != int64(11) {
		t.Fatalf("locking read %v, want the latest committed 11", lr)
	}
	reader.Rollback()
	fresh := e.Begin()
	r3, _ := fresh.Get(bg, "counters", 1)
	if r3[1] != int64(11) {
		t.Fatalf("new transaction read %v", r3)
	}
	fresh.Rollback()
}

// c = c + 1 through GetForUpdate from many goroutines never loses an update.
func TestNoLostUpdates(t *testing.T) {
	e := openT(t, "n1")
	mustTable(t, e, counters)
	must(t, exec(t, e, func(tx *Txn) error { _, err := tx.Insert(bg, "counters", Row{1, 0}); return err }))
	const clients, each = 16, 200
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				tx := e.Begin()
				r, err := tx.GetForUpdate(bg, "counters", 1)
				if err == nil {
					err = tx.Update(bg, "counters", Row{1, r[1].(int64) + 1})
				}
				if err == nil {
					err = tx.Commit(bg)
				} else {
					tx.Rollback()
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	tx := e.Begin()
	r, _ := tx.Get(bg, "counters", 1)
	tx.Rollback()
	if r[1] != int64(clients*each) {
		t.Fatalf("counter = %v, want %d", r[1], clients*each)
	}
}

func TestDuplicateKeys(t *testing.T) {
	e := openT(t, "n1")
	mustTable(t, e, accounts)
	must(t, exec(t, e, func(tx *Txn) error { _, err := tx.Insert(bg, "accounts", Row{1, "a@x", "ann", 1.0}); return err }))

	// Committed primary key.
	err := exec(t, e, func(tx *Txn) error { _, err := tx.Insert(bg, "accounts", Row{1, "b@x", "bob", 1.0}); return err })
	wantCode(t, err, protocols.ErDupEntry, protocols.CauseDuplicateKey)
	// Committed unique value.
	err = exec(t, e, func(tx *Txn) error { _, err := tx.Insert(bg, "accounts", Row{2, "a@x", "bob", 1.0}); return err })
	wantCode(t, err, protocols.ErDupEntry, protocols.CauseDuplicateKey)
	if !contains(err.Error(), "'a@x' for key 'email'") {
		t.Fatalf("message %q", err)
	}
	// NULLs never collide in a unique index.
	must(t, exec(t, e, func(tx *Txn) error {
		if _, err := tx.Insert(bg, "accounts", Row{2, nil, "n1", 1.0}); err != nil {
			return err
		}
		_, err := tx.Insert(bg, "accounts", Row{3, nil, "n2", 1.0})
		return err
	}))
	// Within one transaction.
	err = exec(t, e, func(tx *Txn) error {
		if _, err := tx.Insert(bg, "accounts", Row{4, "c@x", "c", 1.0}); err != nil {
			return err
		}
		_, err := tx.Insert(bg, "accounts", Row{5, "c@x", "c", 1.0})
		return err
	})
	wantCode(t, err, protocols.ErDupEntry, protocols.CauseDuplicateKey)
	// Update to a taken unique value.
	err = exec(t, e, func(tx *Txn) error { return tx.Update(bg, "accounts", Row{2, "a@x", "n1", 1.0}) })
	wantCode(t, err, protocols.ErDupEntry, protocols.CauseDuplicateKey)
	// Moving a unique value from one row to another in one transaction is fine.
	must(t, exec(t, e, func(tx *Txn) error {
		if err := tx.Update(bg, "accounts", Row{1, "old@x", "ann", 1.0}); err != nil {
			return err
		}
		return tx.Update(bg, "accounts", Row{2, "a@x", "n1", 1.0})
	}))
	// Delete then re-insert the same key in one transaction.
	must(t, exec(t, e, func(tx *Txn) error {
		if _, err := tx.Delete(bg, "accounts", 3); err != nil {
			return err
		}
		_, err := tx.Insert(bg, "accounts", Row{3, nil, "again", 2.0})
		return err
	}))
}

// A concurrent uncommitted insert of the same key makes the second insert wait: it fails
// with 1062 if the first commits and succeeds if the first rolls back.
func TestDuplicateAgainstUncommitted(t *testing.T) {
	for _, commitFirst := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			e, err := Open(Options{Node: "n1"})
			must(t, err)
			defer e.Close()
			mustTable(t, e, accounts)
			t1 := e.Begin()
			_, err = t1.Insert(bg, "accounts", Row{10, "u@x", "u", 0.0})
			must(t, err)
			res := make(chan error)
			go func() {
				t2 := e.Begin()
				_, err := t2.Insert(bg, "accounts", Row{11, "u@x", "v", 0.0}) // same unique email
				if err == nil {
					err = t2.Commit(bg)
				} else {
					t2.Rollback()
				}
				res <- err
			}()
			synctest.Wait()
			if commitFirst {
				must(t, t1.Commit(bg))
				wantCode(t, <-res, protocols.ErDupEntry, protocols.CauseDuplicateKey)
			} else {
				t1.Rollback()
				must(t, <-res)
			}
		})
	}
}

func TestAutoIncrementOffset(t *testing.T) {
	e := openT(t, "n1")
	mustTable(t, e, accounts)
	ins := func(id any) int64 {
		var got int64
		must(t, exec(t, e, func(tx *Txn) error {
			var err error
			got, err = tx.Insert(bg, "accounts", Row{id, nil, "x", 0.0})
			return err
		}))
		return got
	}
	if a, b := ins(nil), ins(0); a != 1 || b != 2 {
		t.Fatalf("default increment: %d %d", a, b)
	}
	// Galera on node 2 of 3: increment 3, offset 2 -> the smallest value above the
	// current max (2) congruent to 2 mod 3.
	e.SetAutoIncrement(3, 2)
	got := []int64{ins(nil), ins(nil), ins(nil)}
	if got[0] != 5 || got[1] != 8 || got[2] != 11 {
		t.Fatalf("increment 3 offset 2 gave %v, want [5 8 11]", got)
	}
	if v := ins(20); v != 20 {
		t.Fatalf("explicit value returned %d", v)
	}
	if v := ins(nil); v != 23 {
		t.Fatalf("after explicit 20 got %d, want 23", v)
	}
	// A remote row bumps the counter (GR multi-primary: increment 7).
	e.SetAutoIncrement(7, 3)
	applyWS(t, e, 1, rowInsert(t, "accounts", Row{int64(40), nil, "remote", 0.0}))
	if v := ins(nil); v != 45 {
		t.Fatalf("after remote 40 with increment 7 offset 3 got %d, want 45", v)
	}
	for _, c := range []struct{ max, inc, off, want int64 }{
		{0, 1, 1, 1}, {0, 3, 2, 2}, {2, 3, 2, 5}, {4, 3, 2, 5}, {5, 3, 2, 8}, {0, 2, 5, 1}, {10, 10, 10, 20},
	} {
		if got := nextAuto(c.max, c.inc, c.off); got != c.want {
			t.Errorf("nextAuto(max %d, inc %d, off %d) = %d, want %d", c.max, c.inc, c.off, got, c.want)
		}
	}
}

func isCode(err error, code int) bool {
	var me *protocols.Error
	return errors.As(err, &me) && me.Code == code
}
