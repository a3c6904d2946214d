package storage

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/replbench/replbench/protocols"
)

var bg = context.Background()

func openT(t testing.TB, node string) *Engine {
	t.Helper()
	e, err := Open(Options{Node: node})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// accounts: id (auto-increment pk), email (unique), name, balance; index on name.
var accounts = TableSchema{
	Name: "accounts",
	Columns: []Column{
		{Name: "id", Type: Int, AutoIncrement: true},
		{Name: "email", Type: String, Nullable: true},
		{Name: "name", Type: String},
		{Name: "balance", Type: Float},
	},
	PrimaryKey: []int{0},
	Indexes:    []Index{{Name: "email", Columns: []int{1}, Unique: true}, {Name: "by_name", Columns: []int{2}}},
}

var counters = TableSchema{
	Name:       "counters",
	Columns:    []Column{{Name: "id", Type: Int}, {Name: "c", Type: Int}},
	PrimaryKey: []int{0},
}

func mustTable(t testing.TB, e *Engine, s TableSchema) {
	t.Helper()
	if err := e.CreateTable(s); err != nil {
		t.Fatal(err)
	}
}

// exec runs fn in a transaction and commits it.
func exec(t testing.TB, e *Engine, fn func(tx *Txn) error) error {
	t.Helper()
	tx := e.Begin()
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit(bg)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t testing.TB, err error, code int, cause protocols.Cause) {
	t.Helper()
	var me *protocols.Error
	if !errors.As(err, &me) || me.Code != code || me.Cause != cause {
		t.Fatalf("got error %v, want %d (%s)", err, code, cause)
	}
}

// The protocols' virtual-time tests run whole clusters inside synctest bubbles: Pebble's
// background goroutines must all end at Close.
func TestEngineInsideSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := Open(Options{Node: "n1"})
		if err != nil {
			t.Fatal(err)
		}
		mustTable(t, e, counters)
		for i := range 100 {
			must(t, exec(t, e, func(tx *Txn) error { _, err := tx.Insert(bg, "counters", Row{i, 0}); return err }))
		}
		tx := e.Begin()
		r, err := tx.Get(bg, "counters", 42)
		must(t, err)
		if r[0] != int64(42) {
			t.Fatalf("got %v", r)
		}
		must(t, tx.Commit(bg))
		must(t, e.Close())
	})
}

func TestTableNeedsPrimaryKey(t *testing.T) {
	e := openT(t, "n1")
	err := e.CreateTable(TableSchema{Name: "t", Columns: []Column{{Name: "a", Type: Int}}})
	if err == nil {
		t.Fatal("a table without a primary key was created")
	}
	if !contains(err.Error(), "primary key") {
		t.Fatalf("error does not say what is missing: %v", err)
	}
	mustTable(t, e, counters)
	if err := e.CreateTable(counters); err == nil {
		t.Fatal("created the same table twice")
	}
	if got := e.Tables(); len(got) != 1 || got[0] != "counters" {
		t.Fatalf("Tables() = %v", got)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestCRUDAndReadOwnWrites(t *testing.T) {
	e := openT(t, "n1")
	mustTable(t, e, accounts)
	tx := e.Begin()
	id, err := tx.Insert(bg, "accounts", Row{nil, "a@x", "ann", 10.0})
	must(t, err)
	if id != 1 {
		t.Fatalf("first auto-increment value %d, want 1", id)
	}
	r, err := tx.Get(bg, "accounts", id)
	must(t, err)
	if r == nil || r[2] != "ann" {
		t.Fatalf("own insert not visible: %v", r)
	}
	must(t, tx.Update(bg, "accounts", Row{id, "a@x", "ann", 20.0}))
	must(t, tx.Commit(bg))

	tx = e.Begin()
	r, err = tx.Get(bg, "accounts", int64(1))
	must(t, err)
	if r[3] != 20.0 {
		t.Fatalf("committed row %v", r)
	}
	ok, err := tx.Delete(bg, "accounts", 1)
	must(t, err)
	if !ok {
		t.Fatal("delete of an existing row returned false")
	}
	if r, _ := tx.Get(bg, "accounts", 1); r != nil {
		t.Fatalf("own delete not visible: %v", r)
	}
	ok, err = tx.Delete(bg, "accounts", 99)
	must(t, err)
	if ok {
		t.Fatal("delete of a missing row returned true")
	}
	if err := tx.Update(bg, "accounts", Row{99, "z", "z", 1.0}); !errors.Is(err, ErrRowNotFound) {
		t.Fatalf("update of a missing row: %v", err)
	}
	must(t, tx.Commit(bg))
	if s := e.Stats(); s.Commits != 2 {
		t.Fatalf("stats %+v", s)
	}
}
