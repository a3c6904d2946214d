package registry

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

type def struct{ v int }

func TestLookupByNameAndAlias(t *testing.T) {
	r := New[def]("things", "thing")
	r.Add("b", []string{"bee"}, &def{2})
	r.Add("a", nil, &def{1})
	for _, tc := range []struct {
		name string
		want int
	}{{"a", 1}, {"b", 2}, {"bee", 2}} {
		d, err := r.Lookup(tc.name)
		if err != nil || d.v != tc.want {
			t.Errorf("Lookup(%q) = %v, %v; want %d", tc.name, d, err, tc.want)
		}
	}
	if got := r.Names(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Names() = %v, want [a b] (sorted, no aliases)", got)
	}
}

func TestLookupUnknownListsAccepted(t *testing.T) {
	r := New[def]("things", "thing")
	r.Add("z", nil, &def{})
	r.Add("y", []string{"why"}, &def{})
	_, err := r.Lookup("x")
	want := `unknown thing "x" (accepted: y, z)`
	if err == nil || err.Error() != want {
		t.Fatalf("Lookup(x) error = %v, want %q", err, want)
	}
}

func TestDuplicatePanics(t *testing.T) {
	for _, tc := range []struct {
		name    string
		aliases []string
		want    string
	}{
		{"a", nil, "things: duplicate registration of a"},             // name over name
		{"c", []string{"a"}, "things: duplicate registration of a"},   // alias over name
		{"al", nil, "things: duplicate registration of al"},           // name over alias
		{"d", []string{"al"}, "things: duplicate registration of al"}, // alias over alias
	} {
		r := New[def]("things", "thing")
		r.Add("a", []string{"al"}, &def{})
		func() {
			defer func() {
				if got := fmt.Sprint(recover()); got != tc.want {
					t.Errorf("Add(%q, %v) panic = %q, want %q", tc.name, tc.aliases, got, tc.want)
				}
			}()
			r.Add(tc.name, tc.aliases, &def{})
		}()
		if _, err := r.Lookup(tc.name); tc.name != "a" && tc.name != "al" && err == nil {
			t.Errorf("a refused Add(%q) left an entry behind", tc.name)
		}
	}
}

func TestConcurrentAddAndLookup(t *testing.T) {
	r := New[def]("things", "thing")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			r.Add(fmt.Sprint("n", i), nil, &def{i})
			_, _ = r.Lookup("n0")
			_ = r.Names()
		})
	}
	wg.Wait()
	if n := len(r.Names()); n != 8 {
		t.Fatalf("len(Names()) = %d after 8 concurrent Adds, want 8", n)
	}
}
