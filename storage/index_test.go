package storage

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/replbench/replbench/protocols"
)

func scanIDs(t *testing.T, tx *Txn, table string, opt ScanOptions) []int64 {
	t.Helper()
	var ids []int64
	must(t, tx.Scan(bg, table, opt, func(r Row) bool { ids = append(ids, r[0].(int64)); return true }))
	return ids
}

func committedIDs(t *testing.T, e *Engine, table string, opt ScanOptions) []int64 {
	tx := e.Begin()
	defer tx.Commit(bg)
	return scanIDs(t, tx, table, opt)
}

// indexEntries lists the raw index entries of accounts.by_name, to check that no stale
// entry survives an update or delete.
func indexEntries(t *testing.T, e *Engine, ixName string) int {
	tb, _ := e.table("accounts")
	ix, _ := tb.index(ixName)
	it, err := e.db.NewIter(nil)
	must(t, err)
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if bytes.HasPrefix(it.Key(), ix.prefix) {
			n++
		}
	}
	return n
}

func TestSecondaryIndexMaintenance(t *testing.T) {
	e := openT(t, "n1")
	mustTable(t, e, accounts)
	must(t, exec(t, e, func(tx *Txn) error {
		for i, n := range []string{"dora", "ann", "carl", "bob", "ann"} {
			if _, err := tx.Insert(bg, "accounts", Row{nil, nil, n, float64(i)}); err != nil {
				return err
			}
		}
		return nil
	}))
	// ids: 1 dora, 2 ann, 3 carl, 4 bob, 5 ann
	if got := committedIDs(t, e, "accounts", ScanOptions{Index: "by_name"}); !reflect.DeepEqual(got, []int64{2, 5, 4, 3, 1}) {
		t.Fatalf("index order %v", got)
	}
	if got := committedIDs(t, e, "accounts", ScanOptions{Index: "by_name", Prefix: []Value{"ann"}}); !reflect.DeepEqual(got, []int64{2, 5}) {
		t.Fatalf("prefix ann %v", got)
	}
	if got := committedIDs(t, e, "accounts", ScanOptions{Index: "by_name", From: []Value{"b"}, To: []Value{"d"}}); !reflect.DeepEqual(got, []int64{4, 3}) {
		t.Fatalf("range b..d %v", got)
	}
	if got := committedIDs(t, e, "accounts", ScanOptions{Index: "by_name", Reverse: true, Limit: 2}); !reflect.DeepEqual(got, []int64{1, 3}) {
		t.Fatalf("reverse limit 2 %v", got)
	}
	if got := committedIDs(t, e, "accounts", ScanOptions{From: []Value{2}, To: []Value{int32(4)}}); !reflect.DeepEqual(got, []int64{2, 3}) {
		t.Fatalf("pk range %v", got)
	}
	// Update moves the entry, delete removes it.
	must(t, exec(t, e, func(tx *Txn) error {
		if err := tx.Update(bg, "accounts", Row{1, nil, "abe", 0.0}); err != nil {
			return err
		}
		_, err := tx.Delete(bg, "accounts", 5)
		return err
	}))
	if got := committedIDs(t, e, "accounts", ScanOptions{Index: "by_name"}); !reflect.DeepEqual(got, []int64{1, 2, 4, 3}) {
		t.Fatalf("after update/delete %v", got)
	}
	if n := indexEntries(t, e, "by_name"); n != 4 {
		t.Fatalf("%d index entries for 4 rows", n)
	}
	// Own uncommitted writes are merged into scans, in index order.
	tx := e.Begin()
	must(t, tx.Update(bg, "accounts", Row{3, nil, "aaron", 0.0}))
	_, err := tx.Insert(bg, "accounts", Row{nil, nil, "zed", 0.0})
	must(t, err)
	_, err = tx.Delete(bg, "accounts", 4)
	must(t, err)
	if got := scanIDs(t, tx, "accounts", ScanOptions{Index: "by_name"}); !reflect.DeepEqual(got, []int64{3, 1, 2, 6}) {
		t.Fatalf("scan with own writes %v", got)
	}
	if got := scanIDs(t, tx, "accounts", ScanOptions{Index: "by_name", Reverse: true}); !reflect.DeepEqual(got, []int64{6, 2, 1, 3}) {
		t.Fatalf("reverse scan with own writes %v", got)
	}
	if got := scanIDs(t, tx, "accounts", ScanOptions{}); !reflect.DeepEqual(got, []int64{1, 2, 3, 6}) {
		t.Fatalf("pk scan with own writes %v", got)
	}
	tx.Rollback()
	if _, err := committedIDsErr(e, "accounts", ScanOptions{Index: "nope"}); err == nil {
		t.Fatal("scan of a missing index succeeded")
	}
}

func committedIDsErr(e *Engine, table string, opt ScanOptions) (int, error) {
	tx := e.Begin()
	defer tx.Rollback()
	n := 0
	err := tx.Scan(bg, table, opt, func(Row) bool { n++; return true })
	return n, err
}

// Applied remote write-sets maintain the secondary indexes from the local before-images.
func TestIndexesThroughAppliedWriteSets(t *testing.T) {
	src, dst := openT(t, "n1"), openT(t, "n2")
	mustTable(t, src, accounts)
	mustTable(t, dst, accounts)
	var wss []*protocols.WriteSet
	seq := int64(0)
	src.SetReplicator(&fakeRepl{replicate: func(_ context_, ws *protocols.WriteSet) (protocols.Commit, error) {
		seq++
		ws.Seqno = seq
		wss = append(wss, ws)
		return &fakeCommit{seqno: seq}, nil
	}})
	must(t, exec(t, src, func(tx *Txn) error {
		for _, n := range []string{"b", "a", "c"} {
			if _, err := tx.Insert(bg, "accounts", Row{nil, n + "@x", n, 0.0}); err != nil {
				return err
			}
		}
		return nil
	}))
	must(t, exec(t, src, func(tx *Txn) error { return tx.Update(bg, "accounts", Row{1, "b2@x", "zz", 1.0}) }))
	must(t, exec(t, src, func(tx *Txn) error { _, err := tx.Delete(bg, "accounts", 2); return err }))
	for _, ws := range wss {
		a, err := dst.PrepareApply(bg, ws)
		must(t, err)
		must(t, a.Commit())
	}
	for _, ix := range []string{"", "by_name", "email"} {
		a := committedIDs(t, src, "accounts", ScanOptions{Index: ix})
		b := committedIDs(t, dst, "accounts", ScanOptions{Index: ix})
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("index %q: source %v, replica %v", ix, a, b)
		}
	}
	if got := committedIDs(t, dst, "accounts", ScanOptions{Index: "by_name"}); !reflect.DeepEqual(got, []int64{3, 1}) {
		t.Fatalf("replica index %v", got)
	}
	if indexEntries(t, dst, "by_name") != 2 || indexEntries(t, dst, "email") != 2 {
		t.Fatal("stale index entries on the replica")
	}
	// The replica's unique index now refuses the remote value.
	err := exec(t, dst, func(tx *Txn) error { _, err := tx.Insert(bg, "accounts", Row{nil, "b2@x", "q", 0.0}); return err })
	wantCode(t, err, protocols.ErDupEntry, protocols.CauseDuplicateKey)
	cs, err := src.Checksums()
	must(t, err)
	cd, err := dst.Checksums()
	must(t, err)
	if !reflect.DeepEqual(cs, cd) {
		t.Fatalf("checksums differ after applying the same write-sets: %v vs %v", cs, cd)
	}
	if dst.Stats().Applied != uint64(len(wss)) {
		t.Fatalf("applied %d", dst.Stats().Applied)
	}
}
