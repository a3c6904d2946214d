package linear

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/quick"
	"time"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/harness/checker/internal/gen"
	"github.com/replbench/replbench/harness/history"
)

func op(p int, inv, done int64, out history.Outcome, m history.Mop) history.Op {
	return history.Op{Process: p, Node: "n1", Invoke: inv, Complete: done, Outcome: out, Mops: []history.Mop{m}}
}

func hist(ops ...history.Op) []history.Op {
	for i := range ops {
		ops[i].Index = i
	}
	return ops
}

func run(t *testing.T, h []history.Op) checker.Verdict {
	t.Helper()
	if err := history.Validate(h); err != nil {
		t.Fatal(err)
	}
	v, err := Check(h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestLinearizable(t *testing.T) {
	h := hist(
		op(0, 0, 10, history.OK, history.WriteMop("x", 1)),
		op(1, 5, 20, history.OK, history.ReadNilMop("x")), // concurrent with the write: may precede it
		op(2, 30, 40, history.OK, history.CASMop("x", 1, 2)),
		op(0, 50, 60, history.Info, history.WriteMop("x", 3)), // unknown, never observed
		op(1, 70, 80, history.OK, history.ReadValueMop("x", 2)),
		op(2, 90, 95, history.Fail, history.CASMop("x", 7, 8)), // did not happen
	)
	v := run(t, h)
	if v.Valid != checker.True || len(v.Anomalies) > 0 {
		t.Fatalf("%s", v.String())
	}
}

func TestStaleReadIsNotLinearizable(t *testing.T) {
	h := hist(
		op(0, 0, 10, history.OK, history.WriteMop("x", 1)),
		op(2, 1, 5, history.OK, history.WriteMop("y", 1)),
		op(1, 20, 30, history.OK, history.ReadNilMop("x")),
	)
	v := run(t, h)
	a := v.Anomaly("nonlinearizable")
	if v.Valid != checker.False || a == nil || a.Count != 1 || !strings.HasPrefix(a.Witnesses[0].Text, "key x:") ||
		len(a.Witnesses[0].Ops) == 0 {
		t.Fatalf("%s", v.String())
	}
	b := checker.Summarize(v)
	if b.Linearizable == nil || *b.Linearizable != checker.False {
		t.Fatalf("summary linearizable %v", b.Linearizable)
	}
}

func TestUnknownWriteMayLandLate(t *testing.T) {
	// The info write was invoked at 0 and is seen at 100, long after the client gave up.
	h := hist(
		op(0, 0, 10, history.Info, history.WriteMop("x", 1)),
		op(1, 20, 30, history.OK, history.ReadNilMop("x")),
		op(1, 100, 110, history.OK, history.ReadValueMop("x", 1)),
	)
	if v := run(t, h); v.Valid != checker.True {
		t.Fatalf("%s", v.String())
	}
	// An ok cas that swapped from a value the register never held is not linearizable.
	h = hist(
		op(0, 0, 10, history.OK, history.WriteMop("x", 1)),
		op(1, 20, 30, history.OK, history.CASMop("x", 5, 6)),
	)
	if v := run(t, h); v.Valid != checker.False {
		t.Fatalf("%s", v.String())
	}
}

func TestPropertyAtomicStoreIsLinearizable(t *testing.T) {
	f := func(seed uint64, clients, keys uint8) bool {
		h, _ := gen.Generate(gen.Config{Workload: gen.Register, Seed: seed, Clients: 2 + int(clients%6), Ops: 200,
			Keys: 1 + int(keys%3), PFail: 0.05, PInfo: 0.1})
		v := run(t, h)
		if v.Valid != checker.True {
			t.Logf("seed %d: %s", seed, v.String())
		}
		return v.Valid == checker.True
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 50}); err != nil {
		t.Error(err)
	}
	// Reads from a lagging snapshot are not.
	h, _ := gen.Generate(gen.Config{Workload: gen.Register, Seed: 1, Clients: 4, Ops: 300, Keys: 1, Snapshot: true, Lag: 3000})
	if v := run(t, h); v.Valid != checker.False {
		t.Errorf("lagging reads judged %s", v.Valid)
	}
}

func TestTimeoutIsUnknownAndVisualisation(t *testing.T) {
	h, _ := gen.Generate(gen.Config{Workload: gen.Register, Seed: 5, Clients: 30, Ops: 4000, Keys: 1, PInfo: 0.3})
	v, err := Check(h, Options{Timeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if v.Valid != checker.Unknown || !strings.Contains(v.Note, "did not finish") {
		t.Fatalf("tiny time bound: %s", v.String())
	}
	dir := t.TempDir()
	h, _ = gen.Generate(gen.Config{Workload: gen.Register, Seed: 5, Clients: 3, Ops: 50, Keys: 2})
	v, err = Check(h, Options{Dir: dir})
	if err != nil || v.Valid != checker.True || len(v.Files) != 1 {
		t.Fatalf("%v %s", err, v.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil || !strings.Contains(string(b), "<html") {
		t.Fatalf("visualisation: %v", err)
	}
	if _, err := Check(h, Options{Dir: filepath.Join(dir, "missing")}); err == nil {
		t.Error("unwritable dir accepted")
	}
}

func TestRejectsTransactions(t *testing.T) {
	h := []history.Op{{Index: 0, Outcome: history.OK, Mops: []history.Mop{history.WriteMop("x", 1), history.WriteMop("y", 1)}}}
	if _, err := Check(h, Options{}); err == nil || !strings.Contains(err.Error(), "one per operation") {
		t.Fatal(err)
	}
}
