package sqldb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// realNode opens the server named by REPLBENCH_SQL_ADDR (host:port; user and password rb,
// database replbench, as scripts/real-cluster.sh makes them; REPLBENCH_SQL_KIND, default
// standalone), or skips.
func realNode(t *testing.T, tables ...storage.TableSchema) *Node {
	t.Helper()
	addr := os.Getenv("REPLBENCH_SQL_ADDR")
	if addr == "" {
		t.Skip("set REPLBENCH_SQL_ADDR=127.0.0.1:PORT (a server from scripts/real-cluster.sh) to run against a real server")
	}
	host, ps, _ := strings.Cut(addr, ":")
	port, _ := strconv.Atoi(ps)
	kind := os.Getenv("REPLBENCH_SQL_KIND")
	if kind == "" {
		kind = KindStandalone
	}
	n, err := Open(Config{Name: "n1", Host: host, Port: port, User: "rb", Password: "rb", Database: "replbench", Kind: kind, Tables: tables})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ctx := context.Background()
	if err := n.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.CreateTables(ctx, true); err != nil {
		t.Fatal(err)
	}
	return n
}

func engineWith(t *testing.T, tables ...storage.TableSchema) workloads.DB {
	e, err := storage.Open(storage.Options{Node: "n1", LockWaitTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	for _, s := range tables {
		if err := e.CreateTable(s); err != nil {
			t.Fatal(err)
		}
	}
	return workloads.OnEngine(e)
}

// The same operations on the engine and on a real server give the same results: rows,
// absent rows, scan order and bounds, errors by cause.
func TestRealMatchesEngine(t *testing.T) {
	n := realNode(t, orders, items)
	ctx := context.Background()
	c, err := n.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := engineWith(t, orders, items)
	load := func(db workloads.DB) {
		tx := db.Begin()
		for w := int64(1); w <= 3; w++ {
			for d := int64(1); d <= 3; d++ {
				for o := int64(1); o <= 40; o++ {
					if _, err := tx.Insert(ctx, "orders", storage.Row{w, d, o, (o * 7) % 11, nil, float64(o) / 4}); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	load(e)
	loader, err := n.Loader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	load(loader)
	loader.Close()

	for _, opt := range []storage.ScanOptions{
		{},
		{From: []storage.Value{int64(2)}, To: []storage.Value{int64(3)}},
		{From: []storage.Value{int64(1), int64(2), int64(5)}, To: []storage.Value{int64(1), int64(2), int64(9)}},
		{Prefix: []storage.Value{int64(3), int64(1)}},
		{Prefix: []storage.Value{int64(3)}, From: []storage.Value{int64(3), int64(2)}},
		{Index: "by_cust", Prefix: []storage.Value{int64(2), int64(2), int64(3)}},
		{Index: "by_cust", From: []storage.Value{int64(2), int64(2), int64(9)}},
		{Reverse: true, Limit: 7, To: []storage.Value{int64(2), int64(3)}},
		{Reverse: true, From: []storage.Value{int64(3)}},
		{Limit: 100, From: []storage.Value{int64(1), int64(3)}},
	} {
		want, got := scanAll(t, e, opt, 0), scanAll(t, c, opt, 0)
		if want != got {
			t.Errorf("scan %+v:\nengine %s\nserver %s", opt, want, got)
		}
		if want, got := scanAll(t, e, opt, 5), scanAll(t, c, opt, 5); want != got {
			t.Errorf("scan %+v stopped after 5:\nengine %s\nserver %s", opt, want, got)
		}
	}

	for _, db := range []workloads.DB{e, c} {
		name := fmt.Sprintf("%T", db)
		tx := db.Begin()
		r, err := tx.GetForUpdate(ctx, "orders", int64(1), int64(1), int64(1))
		if err != nil || r == nil || r[5] != 0.25 {
			t.Fatalf("%s: GetForUpdate: %v %v", name, r, err)
		}
		r[4] = "first"
		if err := tx.Update(ctx, "orders", r); err != nil {
			t.Fatalf("%s: update: %v", name, err)
		}
		if err := tx.Update(ctx, "orders", storage.Row{int64(9), int64(9), int64(9), int64(0), nil, 0.0}); !errors.Is(err, storage.ErrRowNotFound) {
			t.Fatalf("%s: update of a missing row: %v, want ErrRowNotFound", name, err)
		}
		if ok, err := tx.Delete(ctx, "orders", int64(1), int64(1), int64(2)); !ok || err != nil {
			t.Fatalf("%s: delete: %v %v", name, ok, err)
		}
		if ok, err := tx.Delete(ctx, "orders", int64(1), int64(1), int64(2)); ok || err != nil {
			t.Fatalf("%s: second delete: %v %v, want false", name, ok, err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		tx = db.Begin()
		r, _ = tx.Get(ctx, "orders", int64(1), int64(1), int64(1))
		gone, _ := tx.Get(ctx, "orders", int64(1), int64(1), int64(2))
		tx.Rollback()
		if r == nil || r[4] != "first" || gone != nil {
			t.Fatalf("%s: after commit: %v %v", name, r, gone)
		}
		// Duplicate keys: primary and unique.
		tx = db.Begin()
		tx.SetAutocommit(true)
		_, err = tx.Insert(ctx, "orders", storage.Row{int64(1), int64(1), int64(1), int64(0), nil, 0.0})
		if protocols.Classify(err) != protocols.CauseDuplicateKey {
			t.Fatalf("%s: duplicate primary key: %v", name, err)
		}
		tx.Rollback()
		tx = db.Begin()
		tx.SetAutocommit(true)
		_, err = tx.Insert(ctx, "orders", storage.Row{int64(7), int64(7), int64(7), int64(0), "first", 0.0})
		if protocols.Classify(err) != protocols.CauseDuplicateKey {
			t.Fatalf("%s: duplicate unique key: %v", name, err)
		}
		tx.Rollback()
		// Auto-increment ids come back, distinct and readable.
		seen := map[int64]bool{}
		for i := range 5 {
			tx := db.Begin()
			tx.SetAutocommit(true)
			id, err := tx.Insert(ctx, "items", storage.Row{nil, fmt.Sprint("v", i)})
			if err == nil {
				err = tx.Commit(ctx)
			}
			if err != nil || id <= 0 || seen[id] {
				t.Fatalf("%s: auto-increment insert %d: id %d %v", name, i, id, err)
			}
			seen[id] = true
			tx = db.Begin()
			r, err := tx.Get(ctx, "items", id)
			tx.Rollback()
			if err != nil || r == nil || r[1] != fmt.Sprint("v", i) {
				t.Fatalf("%s: reading item %d: %v %v", name, id, r, err)
			}
		}
	}
}

func scanAll(t *testing.T, db workloads.DB, opt storage.ScanOptions, stop int) string {
	t.Helper()
	tx := db.Begin()
	defer tx.Rollback()
	var b strings.Builder
	n := 0
	err := tx.Scan(context.Background(), "orders", opt, func(r storage.Row) bool {
		fmt.Fprintf(&b, "%v,%v,%v ", r[0], r[1], r[2])
		n++
		return stop == 0 || n < stop
	})
	if err != nil {
		t.Fatalf("%T scan %+v: %v", db, opt, err)
	}
	return fmt.Sprintf("%d rows: %s", n, b.String())
}

// A row locked by one client makes another's locking read wait and time out with 1205.
func TestRealLockWaitTimeout(t *testing.T) {
	n := realNode(t, items)
	ctx := context.Background()
	a, _ := n.Client(ctx)
	b, _ := n.Client(ctx)
	defer a.Close()
	defer b.Close()
	tx := a.Begin()
	tx.SetAutocommit(true)
	id, err := tx.Insert(ctx, "items", storage.Row{nil, "x"})
	if err == nil {
		err = tx.Commit(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.conn.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout=1"); err != nil {
		t.Fatal(err)
	}
	ta := a.Begin()
	if _, err := ta.GetForUpdate(ctx, "items", id); err != nil {
		t.Fatal(err)
	}
	tb := b.Begin()
	_, err = tb.GetForUpdate(ctx, "items", id)
	tb.Rollback()
	ta.Rollback()
	if protocols.Classify(err) != protocols.CauseLockWaitTimeout || !protocols.Retryable(err) {
		t.Fatalf("waiting for a held lock: %v, want 1205 lock_wait_timeout", err)
	}
}
