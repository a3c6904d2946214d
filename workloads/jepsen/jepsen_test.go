package jepsen

import (
	"context"
	"testing"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/harness/checker/bank"
	"github.com/replbench/replbench/harness/checker/elle"
	"github.com/replbench/replbench/harness/checker/linear"
	"github.com/replbench/replbench/harness/checker/lost"
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
