package storage

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// TestDurabilityFollowsFlushLogAtTrxCommit checks what survives a kill and a crash under
// each innodb_flush_log_at_trx_commit: ten commits before the once-a-second flush, ten
// after it, then the fault.
func TestDurabilityFollowsFlushLogAtTrxCommit(t *testing.T) {
	cases := []struct {
		mode        LogFlush
		name        string
		kill, crash int64 // the position that survives
	}{
		{LogFlushCommit, "1", 20, 20},
		{LogFlushOS, "2", 20, 10},
		{LogFlushSecond, "0", 10, 10},
	}
	for _, c := range cases {
		for _, h := range []Halt{HaltKill, HaltCrash, HaltStop} {
			want := map[Halt]int64{HaltKill: c.kill, HaltCrash: c.crash, HaltStop: 20}[h]
			t.Run(c.name+"/"+h.String(), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					opts := Options{Node: "n1", LogFlush: c.mode}
					e, err := Open(opts)
					must(t, err)
					defer e.Close()
					mustTable(t, e, counters)
					time.Sleep(flushInterval / 2) // the schema reaches a once-a-second flush
					synctest.Wait()
					for i := int64(1); i <= 10; i++ {
						applyWS(t, e, i, rowInsert(t, "counters", Row{i, i}))
					}
					time.Sleep(flushInterval)
					synctest.Wait()
					for i := int64(11); i <= 20; i++ {
						applyWS(t, e, i, rowInsert(t, "counters", Row{i, i}))
					}
					synctest.Wait()
					img, err := e.Down(h, 1)
					must(t, err)
					if !e.Halted() {
						t.Error("an engine taken down does not say it is halted")
					}
					// The check's look at a down node: a copy of the image, as recovered,
					// and the image itself left for the real restart.
					for range 2 {
						peek, err := Recovered(opts, img)
						must(t, err)
						if got := peek.Position(); got != want {
							t.Errorf("recovered copy after %s with flush_log_at_trx_commit=%s: position %d, want %d", h, c.name, got, want)
						}
						must(t, peek.Close())
					}
					r, err := Reopen(opts, img)
					must(t, err)
					defer r.Close()
					if got := r.Position(); got != want {
						t.Errorf("position after %s with flush_log_at_trx_commit=%s: %d, want %d", h, c.name, got, want)
					}
					rows := int64(0)
					must(t, exec(t, r, func(tx *Txn) error {
						return tx.Scan(bg, "counters", ScanOptions{}, func(Row) bool { rows++; return true })
					}))
					if rows != want {
						t.Errorf("rows after %s with flush_log_at_trx_commit=%s: %d, want %d (the position and the rows must survive together)", h, c.name, rows, want)
					}
				})
			})
		}
	}
}

func TestDownRefusesOnDiskNodes(t *testing.T) {
	e, err := Open(Options{Node: "n1", Dir: t.TempDir()})
	must(t, err)
	defer e.Close()
	if _, err := e.Down(HaltCrash, 1); err == nil || !contains(err.Error(), "in-memory") {
		t.Fatalf("crash of an on-disk node: %v, want a refusal naming in-memory nodes", err)
	}
}

// TestDownEndsLockWaits: a session blocked in a row-lock wait when its server dies gets an
// error at once (the dead server dropped its connection), instead of waiting out
// innodb_lock_wait_timeout behind a holder that can never finish.
func TestDownEndsLockWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := Open(Options{Node: "n1"})
		must(t, err)
		defer e.Close()
		mustTable(t, e, counters)
		applyWS(t, e, 1, rowInsert(t, "counters", Row{int64(1), int64(1)}))
		ctx := context.Background()
		holder := e.Begin()
		if _, err := holder.GetForUpdate(ctx, "counters", int64(1)); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			w := e.Begin()
			_, err := w.GetForUpdate(ctx, "counters", int64(1))
			done <- err
		}()
		synctest.Wait() // the waiter is queued behind the holder
		select {
		case err := <-done:
			t.Fatalf("the waiter did not wait: %v", err)
		default:
		}
		start := time.Now()
		if _, err := e.Down(HaltKill, 1); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		select {
		case err := <-done:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("waiter got %v, want ErrClosed", err)
			}
			if d := time.Since(start); d != 0 {
				t.Fatalf("waiter ended %v after the node went down, want at once", d)
			}
		default:
			t.Fatal("the waiter is still blocked after its node went down")
		}
	})
}
