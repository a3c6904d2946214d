package storage

import (
	"bytes"
	"context"
	"reflect"
	"testing"

	"github.com/replbench/replbench/protocols"
)

type context_ = context.Context

func TestChecksumsDetectDifferences(t *testing.T) {
	a, b := openT(t, "n1"), openT(t, "n2")
	for _, e := range []*Engine{a, b} {
		mustTable(t, e, counters)
		mustTable(t, e, accounts)
	}
	// Same content reached in different orders (and different table ids: created in a
	// different order on a third node) has the same checksum.
	c := openT(t, "n3")
	mustTable(t, c, accounts)
	mustTable(t, c, counters)
	for i, e := range []*Engine{a, b, c} {
		ids := []int{1, 2, 3}
		if i == 1 {
			ids = []int{3, 1, 2}
		}
		for _, id := range ids {
			applyWS(t, e, int64(id), rowInsert(t, "counters", Row{int64(id), int64(id * 10)}))
		}
	}
	ca, _ := a.Checksums()
	cb, _ := b.Checksums()
	cc, _ := c.Checksums()
	if !reflect.DeepEqual(ca, cb) || !reflect.DeepEqual(ca, cc) {
		t.Fatalf("equal tables, different checksums: %v %v %v", ca, cb, cc)
	}
	must(t, exec(t, b, func(tx *Txn) error { return tx.Update(bg, "counters", Row{2, 21}) }))
	cb, _ = b.Checksums()
	if cb["counters"] == ca["counters"] || cb["accounts"] != ca["accounts"] {
		t.Fatalf("checksum did not single out the changed table: %v vs %v", ca, cb)
	}
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	src := openT(t, "n1")
	mustTable(t, src, accounts)
	mustTable(t, src, counters)
	src.SetAutoIncrement(3, 1)
	must(t, exec(t, src, func(tx *Txn) error {
		for i := range 500 {
			if _, err := tx.Insert(bg, "accounts", Row{nil, nil, "name", float64(i)}); err != nil {
				return err
			}
			if _, err := tx.Insert(bg, "counters", Row{i, i}); err != nil {
				return err
			}
		}
		_, err := tx.Insert(bg, "accounts", Row{nil, "x\x00y@x", "zero", 1.5})
		return err
	}))
	var buf bytes.Buffer
	must(t, src.Snapshot(&buf))

	dst := openT(t, "n2")
	mustTable(t, dst, TableSchema{Name: "old", Columns: []Column{{Name: "a", Type: Int}}, PrimaryKey: []int{0}})
	must(t, dst.Restore(bytes.NewReader(buf.Bytes())))
	if got := dst.Tables(); !reflect.DeepEqual(got, []string{"accounts", "counters"}) {
		t.Fatalf("tables after restore %v", got)
	}
	cs, _ := src.Checksums()
	cd, _ := dst.Checksums()
	if !reflect.DeepEqual(cs, cd) {
		t.Fatalf("checksums differ after restore: %v %v", cs, cd)
	}
	s1, _ := src.Schema("accounts")
	s2, _ := dst.Schema("accounts")
	if !reflect.DeepEqual(s1, s2) {
		t.Fatalf("schema differs: %+v %+v", s1, s2)
	}
	// Secondary indexes were rebuilt, the auto-increment counter came along.
	if got := committedIDs(t, dst, "accounts", ScanOptions{Index: "by_name", Prefix: []Value{"zero"}}); len(got) != 1 {
		t.Fatalf("index after restore: %v", got)
	}
	dst.SetAutoIncrement(3, 1)
	var id int64
	must(t, exec(t, dst, func(tx *Txn) error {
		var err error
		id, err = tx.Insert(bg, "accounts", Row{nil, nil, "n", 0.0})
		return err
	}))
	if id != 1+3*501 {
		t.Fatalf("auto-increment after restore %d, want %d", id, 1+3*501)
	}
	// CopyTo is the same through a pipe.
	third := openT(t, "n3")
	must(t, src.CopyTo(third))
	c3, _ := third.Checksums()
	if !reflect.DeepEqual(cs, c3) {
		t.Fatal("CopyTo differs")
	}
	if err := third.Restore(bytes.NewReader([]byte("garbage"))); err == nil {
		t.Fatal("restored garbage")
	}
	if err := third.Restore(bytes.NewReader(buf.Bytes()[:buf.Len()-1])); err == nil {
		t.Fatal("restored a truncated snapshot")
	}
}

// A node on disk keeps its tables, rows and auto-increment position across a restart.
func TestOnDiskReopen(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(Options{Node: "n1", Dir: dir, Sync: true})
	must(t, err)
	mustTable(t, e, accounts)
	for range 3 {
		must(t, exec(t, e, func(tx *Txn) error { _, err := tx.Insert(bg, "accounts", Row{nil, nil, "a", 0.0}); return err }))
	}
	before, _ := e.Checksums()
	must(t, e.Close())
	e, err = Open(Options{Node: "n1", Dir: dir})
	must(t, err)
	defer e.Close()
	after, _ := e.Checksums()
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("checksums changed across reopen")
	}
	var id int64
	must(t, exec(t, e, func(tx *Txn) error {
		var err error
		id, err = tx.Insert(bg, "accounts", Row{nil, nil, "a", 0.0})
		return err
	}))
	if id != 4 {
		t.Fatalf("auto-increment after reopen %d, want 4", id)
	}
}

func TestOptionsFromParams(t *testing.T) {
	p, err := protocols.Resolve(Params, map[string]string{"innodb_lock_wait_timeout": "2", "replbench.apply_delay": "2ms"})
	must(t, err)
	o, err := OptionsFromParams("n3", "", p)
	must(t, err)
	if !o.Sync || o.LockWaitTimeout.Seconds() != 2 || o.ApplyDelay.Milliseconds() != 2 || o.Node != "n3" {
		t.Fatalf("options %+v", o)
	}
	p, _ = protocols.Resolve(Params, map[string]string{"innodb_flush_log_at_trx_commit": "2"})
	o, err = OptionsFromParams("n1", "/d", p)
	must(t, err)
	if o.Sync || o.LockWaitTimeout != DefaultLockWaitTimeout || o.Dir != "/d" {
		t.Fatalf("options %+v", o)
	}
	if _, err := OptionsFromParams("n1", "", protocols.Params{"innodb_lock_wait_timeout": "x"}); err == nil {
		t.Fatal("accepted a bad timeout")
	}
}
