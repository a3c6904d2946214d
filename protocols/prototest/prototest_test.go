package prototest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols"
)

// fakeProvider is a Provider whose position a test moves by hand.
type fakeProvider struct {
	protocols.Provider // the methods these helpers do not call
	pos                atomic.Int64
	startErr           error
	started            chan struct{} // closed by Start; nil: Start returns at once
	waitFor            []*fakeProvider
}

func (f *fakeProvider) Start(ctx context.Context) error {
	if f.started != nil {
		close(f.started)
	}
	for _, o := range f.waitFor { // a Start that needs its peers running, as a group does
		select {
		case <-o.started:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return f.startErr
}
func (f *fakeProvider) LastCommitted() int64 { return f.pos.Load() }
func (f *fakeProvider) Status() []protocols.StatusVar {
	return []protocols.StatusVar{{Name: "pos", Value: "x"}}
}

type sums map[string]uint64

func (s sums) Checksums() (map[string]uint64, error) { return s, nil }

func TestNodes(t *testing.T) {
	if got := Nodes(3); !slices.Equal(got, []string{"n1", "n2", "n3"}) {
		t.Fatalf("Nodes(3) = %v", got)
	}
}

// StartAll starts members together: two members whose Start waits for the other both
// start, which one-by-one starting could not do; and every member's error is reported.
func TestStartAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &fakeProvider{started: make(chan struct{})}
		b := &fakeProvider{started: make(chan struct{})}
		a.waitFor, b.waitFor = []*fakeProvider{b}, []*fakeProvider{a}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := StartAll(ctx, []*fakeProvider{a, b}); err != nil {
			t.Fatalf("StartAll of peers waiting for each other: %v", err)
		}
	})
	e1, e2 := errors.New("first"), errors.New("second")
	err := StartAll(context.Background(), []*fakeProvider{{startErr: e1}, {}, {startErr: e2}})
	if !errors.Is(err, e1) || !errors.Is(err, e2) {
		t.Fatalf("StartAll error = %v, want both members' errors", err)
	}
}

// WaitSamePosition returns as soon as the members agree (in virtual time, the poll after
// the last one catches up), and after limit with every member's position when they do not.
func TestWaitSamePosition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ps := []*fakeProvider{{}, {}, {}}
		ps[0].pos.Store(5)
		ps[1].pos.Store(5)
		go func() {
			time.Sleep(25 * time.Millisecond)
			ps[2].pos.Store(5)
		}()
		start := time.Now()
		if err := WaitSamePosition(time.Second, 10*time.Millisecond, nil, ps); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 30*time.Millisecond {
			t.Errorf("returned after %v, want 30ms (the first poll after n3 caught up at 25ms)", d)
		}
		ready := false
		err := WaitSamePosition(100*time.Millisecond, 10*time.Millisecond, func() bool { return ready }, ps)
		if err == nil || !strings.Contains(err.Error(), "member 3: last committed 5") {
			t.Errorf("not ready: error = %v, want a timeout listing each member", err)
		}
		ps[1].pos.Store(4)
		err = WaitSamePosition(100*time.Millisecond, 10*time.Millisecond, nil, ps)
		if err == nil || !strings.Contains(err.Error(), "member 2: last committed 4") {
			t.Errorf("behind: error = %v, want a timeout naming member 2 at 4", err)
		}
	})
}

func TestSameChecksums(t *testing.T) {
	nodes := []string{"n1", "n2", "n3"}
	for _, tc := range []struct {
		name string
		dbs  []sums
		want string // "" for agreement, else a substring of the error
	}{
		{"equal", []sums{{"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 1, "b": 2}}, ""},
		{"one table differs", []sums{{"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 1, "b": 3}}, "table b differs: n3 has checksum 3, n1 has 2"},
		{"extra table", []sums{{"a": 1}, {"a": 1, "z": 9}, {"a": 1}}, "table z differs: n2 has checksum 9, n1 has 0"},
		{"missing table", []sums{{"a": 1, "b": 2}, {"a": 1}, {"a": 1, "b": 2}}, "table b differs: n2 has checksum 0, n1 has 2"},
	} {
		err := SameChecksums(nodes, tc.dbs)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: SameChecksums = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestStatus(t *testing.T) {
	p := &fakeProvider{}
	if v, ok := Status(p, "pos"); !ok || v != "x" {
		t.Errorf("Status(pos) = %q, %v", v, ok)
	}
	if _, ok := Status(p, "nope"); ok {
		t.Errorf("Status(nope) reported a variable the provider does not have")
	}
}

// CheckParams accepts a table whose outcomes match, and reports every case that does not,
// each named by its setting: an accepted setting the table says is refused, a refusal
// whose text differs, and a refusal of a setting the table says is accepted.
func TestCheckParams(t *testing.T) {
	defs := []protocols.Param{{Name: "threads", Default: "1", Min: new(1.0), Max: new(8.0)}}
	resolve := func(u map[string]string) (protocols.Params, error) { return protocols.Resolve(defs, u) }
	if err := CheckParams(resolve, ParamCase{}, Param("threads", "8", ""), Param("threads", "0", "accepted: 1 to 8")); err != nil {
		t.Fatalf("matching table: %v", err)
	}
	err := CheckParams(resolve,
		Param("threads", "4", "out of range"),
		Param("threads", "9", "accepted: 0 to 8"),
		Param("threads", "0", ""),
		Param("threads", "2", ""))
	if err == nil {
		t.Fatal("mismatching table: no error")
	}
	msg := err.Error()
	for _, want := range []string{"threads=4: error <nil>", "threads=9: error", `want one containing "accepted: 0 to 8"`, "threads=0: unexpected error"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "threads=2") {
		t.Errorf("error %q names the accepted case threads=2", msg)
	}
}

// Converge reports the position wait's failure before it looks at data, and the checksum
// mismatch once positions agree.
func TestConverge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := &fakeProvider{}, &fakeProvider{}
		a.pos.Store(2)
		nodes := []string{"n1", "n2"}
		err := Converge(time.Second, 10*time.Millisecond, nil, []*fakeProvider{a, b}, nodes, []sums{{"t": 1}, {"t": 2}})
		if err == nil || !strings.Contains(err.Error(), "did not reach one position") {
			t.Fatalf("positions apart: Converge = %v", err)
		}
		b.pos.Store(2)
		err = Converge(time.Second, 10*time.Millisecond, nil, []*fakeProvider{a, b}, nodes, []sums{{"t": 1}, {"t": 2}})
		if err == nil || !strings.Contains(err.Error(), "table t differs") {
			t.Fatalf("data apart: Converge = %v", err)
		}
		if err := Converge(time.Second, 10*time.Millisecond, nil, []*fakeProvider{a, b}, nodes, []sums{{"t": 1}, {"t": 1}}); err != nil {
			t.Fatalf("converged: Converge = %v", err)
		}
	})
}

type closer struct {
	closed *int
	err    error
}

func (c closer) Close() error { *c.closed++; return c.err }

// CloseAll closes every member even after one fails, and reports every failure.
func TestCloseAll(t *testing.T) {
	n := 0
	e1, e3 := errors.New("first"), errors.New("third")
	err := CloseAll([]closer{{&n, e1}, {&n, nil}, {&n, e3}})
	if n != 3 || !errors.Is(err, e1) || !errors.Is(err, e3) {
		t.Fatalf("CloseAll closed %d of 3, error %v; want 3 and both errors", n, err)
	}
}
