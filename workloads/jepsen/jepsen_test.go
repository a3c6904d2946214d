package jepsen

import (
	"context"
	"testing"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/harness/checker/bank"
	"github.com/replbench/replbench/harness/checker/elle"
	"github.com/replbench/replbench/harness/checker/linear"
	"github.com/replbench/replbench/harness/checker/lost"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/workloads"
	"github.com/replbench/replbench/workloads/internal/wltest"
)

var env = workloads.Env{Nodes: 1, Writers: []string{"n1"}, Threads: 1, Seed: 5}

// One client on one engine is a serial history: every checker the workload names must find
// it clean, with both read forms, and the final state must hold every acknowledged write.
func TestSerialHistoriesAreClean(t *testing.T) {
	for _, tc := range []struct{ name, read string }{
		{ListAppend, ReadPlain}, {ListAppend, ReadForUpdate}, {RWRegister, ReadPlain},
		{Register, ReadForUpdate}, {Bank, ReadForUpdate}, {Bank, ReadPlain},
	} {
		t.Run(tc.name+"-"+tc.read, func(t *testing.T) {
			w, err := New(tc.name, map[string]string{"read": tc.read}, env)
			if err != nil {
				t.Fatal(err)
			}
			n := wltest.Backends(t)[0].Open(t, "n1")
			wltest.Load(t, w, n)
			wltest.Run(t, w, n, 1, 400, 1)
			h := w.History()
			if len(h) != 400 {
				t.Fatalf("history has %d operations, want 400", len(h))
			}
			st, err := w.State(context.Background(), n)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range w.Checkers() {
				var v checker.Verdict
				switch name {
				case checker.LostName:
					v, err = lost.Check(h, []checker.NodeState{st}, lost.Options{})
				case checker.ListAppendName:
					v, err = elle.CheckListAppend(h, elle.Options{})
				case checker.RWRegisterName:
					v, err = elle.CheckRWRegister(h, elle.RegisterOptions{})
				case checker.LinearizableName:
					v, err = linear.Check(h, linear.Options{})
				case checker.BankName:
					keys, total := w.Accounts()
					v, err = bank.Check(h, []checker.NodeState{st}, bank.Options{Accounts: keys, Total: total})
				}
				if err != nil {
					t.Fatal(err)
				}
				if v.Valid != checker.True {
					t.Fatalf("%s on a serial history: %s", name, v.String())
				}
			}
		})
	}
}

func TestBadOption(t *testing.T) {
	if _, err := New(ListAppend, map[string]string{"read": "sometimes"}, env); err == nil {
		t.Fatal("read=sometimes accepted")
	}
}

// TestOneNodeIsolation runs concurrent clients on one engine. With read=locking every read
// locks its row until the transaction ends (strict two-phase locking), so the history must
// be serializable: any anomaly is a bug of the storage's locking or of the history. With
// read=for-update, reads that write nothing stay consistent reads, and Elle may find only
// what InnoDB's REPEATABLE READ allows (Jepsen, MySQL 8.0.34): G-single, G-nonadjacent,
// G2-item (also their process and realtime variants), lost-update and internal, the latter
// only in the form of the transaction's own append on a newer version.
func TestOneNodeIsolation(t *testing.T) {
	rr := map[string]bool{"lost-update": true}
	for _, c := range []string{"G-single", "G-nonadjacent", "G2-item"} {
		rr[c], rr[c+"-process"], rr[c+"-realtime"] = true, true, true
	}
	for _, tc := range []struct {
		name, read string
		allowed    map[string]bool
	}{
		{ListAppend, ReadLocking, nil}, {RWRegister, ReadLocking, nil},
		{ListAppend, ReadForUpdate, rr}, {RWRegister, ReadForUpdate, rr},
	} {
		t.Run(tc.name+"-"+tc.read, func(t *testing.T) {
			w, err := New(tc.name, map[string]string{"read": tc.read, "keys": "4"}, workloads.Env{Nodes: 1, Writers: []string{"n1"}, Threads: 4, Seed: 5})
			if err != nil {
				t.Fatal(err)
			}
			n := wltest.Backends(t)[0].Open(t, "n1")
			wltest.Load(t, w, n)
			wltest.Run(t, w, n, 4, 300, 1, protocols.CauseDeadlock, protocols.CauseLockWaitTimeout)
			var v checker.Verdict
			if tc.name == ListAppend {
				v, err = elle.CheckListAppend(w.History(), elle.Options{})
			} else {
				v, err = elle.CheckRWRegister(w.History(), elle.RegisterOptions{})
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range v.Anomalies {
				internalRR := tc.allowed != nil && a.Class == "internal" && tc.name == ListAppend && a.Forms[checker.InternalNewerVersion] == a.Count
				if !tc.allowed[a.Class] && !internalRR {
					t.Errorf("read=%s on one node: %s ×%d (forms %v) is not what REPEATABLE READ with these reads allows:\n%s", tc.read, a.Class, a.Count, a.Forms, v.String())
				}
			}
		})
	}
}
