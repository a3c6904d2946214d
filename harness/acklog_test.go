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
	v := l.check(ctx, []string{"n1", "n2"}, engines)
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
