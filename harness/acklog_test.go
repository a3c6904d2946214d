package harness

import (
	"context"
	"testing"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// Two engines; acknowledged writes go to n1 only, and one is copied to n2 by hand: the
// check names every acknowledged row n2 lacks (by key and node), passes rows both hold, and
// holds the latest write of a row (an update after an insert), not the first.
func TestAckLogNamesEveryLostWrite(t *testing.T) {
	schema := storage.TableSchema{Name: "t", Columns: []storage.Column{{Name: "id", Type: storage.Int, AutoIncrement: true}, {Name: "v", Type: storage.Int}}, PrimaryKey: []int{0}}
	var engines []*storage.Engine
	for _, n := range []string{"n1", "n2"} {
		e, err := storage.Open(storage.Options{Node: n})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		if err := e.CreateTable(schema); err != nil {
			t.Fatal(err)
		}
		engines = append(engines, e)
	}
	l := newAckLog([]storage.TableSchema{schema})
	db := l.wrap(workloads.OnEngine(engines[0]))
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		tx := db.Begin()
		if _, err := tx.Insert(ctx, "t", storage.Row{nil, int64(i)}); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tx := db.Begin()
	if err := tx.Update(ctx, "t", storage.Row{int64(1), int64(100)}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// n2 has row 1 in its final version only.
	tx2 := engines[1].Begin()
	if _, err := tx2.Insert(ctx, "t", storage.Row{int64(1), int64(100)}); err != nil {
		t.Fatal(err)
	}
	if err := tx2.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	v := l.check(ctx, []checkNode{{"n1", engines[0], true, nil}, {"n2", engines[1], true, nil}})
	if v.Valid != checker.False || len(v.Lost) != 2 {
		t.Fatalf("verdict %s; want 2 lost writes (rows 2 and 3 on n2)", v.String())
	}
	for _, lw := range v.Lost {
		if len(lw.MissingOn) != 1 || lw.MissingOn[0] != "n2" || lw.Node != "n1" {
			t.Fatalf("lost write %s; want acknowledged on n1, missing on n2", lw)
		}
	}
	if v.Checked["acknowledged commits"] != 4 || v.Checked["rows"] != 3 {
		t.Fatalf("checked %v; want 4 commits over 3 rows", v.Checked)
	}
}

// A node still down at the check is read from its surviving storage: behind a live node
// that holds everything it loses nothing (what it lacks is counted); with every node down,
// a row is lost when no surviving copy has it, and the verdict says it read survivors.
func TestAckLogDownNodes(t *testing.T) {
	schema := storage.TableSchema{Name: "t", Columns: []storage.Column{{Name: "id", Type: storage.Int}, {Name: "v", Type: storage.Int}}, PrimaryKey: []int{0}}
	ctx := context.Background()
	open := func(n string) *storage.Engine {
		e, err := storage.Open(storage.Options{Node: n})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		if err := e.CreateTable(schema); err != nil {
			t.Fatal(err)
		}
		return e
	}
	full, partial := open("n1"), open("n2")
	l := newAckLog([]storage.TableSchema{schema})
	db := l.wrap(workloads.OnEngine(full))
	for i := int64(1); i <= 2; i++ {
		tx := db.Begin()
		if _, err := tx.Insert(ctx, "t", storage.Row{i, i}); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tx := partial.Begin()
	if _, err := tx.Insert(ctx, "t", storage.Row{int64(1), int64(1)}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	v := l.check(ctx, []checkNode{{"n1", full, true, nil}, {"n2" + downSuffix, partial, false, nil}})
	if v.Valid != checker.True || v.Checked["rows a down node's surviving storage lacks (fetched on rejoin, not lost)"] != 1 {
		t.Fatalf("live n1 holds everything: %s %v", v.String(), v.Checked)
	}
	v = l.check(ctx, []checkNode{{"n2" + downSuffix, partial, false, nil}})
	if v.Valid != checker.False || len(v.Lost) != 1 || v.Lost[0].Key != "t 2" || v.Note == "" {
		t.Fatalf("every node down, row 2 on no copy: %s", v.String())
	}
	v = l.check(ctx, []checkNode{{"n1" + downSuffix, full, false, nil}, {"n2" + downSuffix, partial, false, nil}})
	if v.Valid != checker.True {
		t.Fatalf("every node down, n1's copy holds everything: %s", v.String())
	}
}

// An acknowledged row that a later acknowledged insert of the same key found absent is
// lost, even though the key holds a row at the end: a server that lost commits in a crash
// hands their auto-increment ids out again, so presence of the key proves nothing.
func TestAckLogInsertOverAnAcknowledgedRowIsALoss(t *testing.T) {
	schema := storage.TableSchema{Name: "t", Columns: []storage.Column{{Name: "id", Type: storage.Int, AutoIncrement: true}, {Name: "v", Type: storage.Int}}, PrimaryKey: []int{0}}
	e, err := storage.Open(storage.Options{Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if err := e.CreateTable(schema); err != nil {
		t.Fatal(err)
	}
	l := newAckLog([]storage.TableSchema{schema})
	db := l.wrap(workloads.OnEngine(e))
	ctx := context.Background()
	insert := func(row storage.Row) {
		t.Helper()
		tx := db.Begin()
		if _, err := tx.Insert(ctx, "t", row); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	insert(storage.Row{int64(1), int64(10)})
	insert(storage.Row{int64(2), int64(20)})
	// Row 2 vanishes as a crash would take it, outside the log (no client deleted it)...
	tx := e.Begin()
	if _, err := tx.Delete(ctx, "t", int64(2)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// ... and the restarted server gives id 2 to a new row.
	insert(storage.Row{int64(2), int64(21)})
	v := l.check(ctx, []checkNode{{"n1", e, true, nil}})
	if v.Valid != checker.False || len(v.Lost) != 1 {
		t.Fatalf("verdict %s; want the first row 2 lost", v.String())
	}
	if lw := v.Lost[0]; lw.Key != "t 2" || lw.MissingOn[0] != "n1" {
		t.Fatalf("lost write %s; want t 2 missing on n1", lw)
	}
	// A delete the log saw makes the same insert legitimate.
	l2 := newAckLog([]storage.TableSchema{schema})
	db2 := l2.wrap(workloads.OnEngine(e))
	for _, f := range []func(workloads.Tx) error{
		func(tx workloads.Tx) error {
			_, err := tx.Insert(ctx, "t", storage.Row{int64(3), int64(30)})
			return err
		},
		func(tx workloads.Tx) error { _, err := tx.Delete(ctx, "t", int64(3)); return err },
		func(tx workloads.Tx) error {
			_, err := tx.Insert(ctx, "t", storage.Row{int64(3), int64(31)})
			return err
		},
	} {
		tx := db2.Begin()
		if err := f(tx); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if v := l2.check(ctx, []checkNode{{"n1", e, true, nil}}); v.Valid != checker.True {
		t.Fatalf("insert after an acknowledged delete: %s; want pass", v.String())
	}
}
