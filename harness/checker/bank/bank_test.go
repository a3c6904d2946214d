package bank

import (
	"strings"
	"testing"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/harness/history"
)

func read(i int, bal ...int64) history.Op {
	var m []history.Mop
	for j, b := range bal {
		m = append(m, history.ReadValueMop([]string{"a", "b", "c"}[j], b))
	}
	return history.Op{Index: i, Process: 1, Node: "n2", Outcome: history.OK, Invoke: int64(10 * i), Complete: int64(10*i + 5), Mops: m}
}

func transfer(i int, from, to string, amt int64) history.Op {
	return history.Op{Index: i, Process: 0, Node: "n1", Outcome: history.OK, Invoke: int64(10 * i), Complete: int64(10*i + 5),
		Mops: []history.Mop{history.TransferMop(from, to, amt)}}
}

var opts = Options{Accounts: []string{"a", "b", "c"}, Total: 30}

func TestBank(t *testing.T) {
	clean := []history.Op{read(0, 10, 10, 10), transfer(1, "a", "b", 5), read(2, 5, 15, 10)}
	v, err := Check(clean, []checker.NodeState{&checker.MapState{Name: "n1", Regs: map[string]int64{"a": 5, "b": 15, "c": 10}}}, opts)
	if err != nil || v.Valid != checker.True {
		t.Fatalf("%v %s", err, v.String())
	}
	// A read that sees the debit of a transfer but not its credit; a balance gone negative.
	bad := []history.Op{read(0, 10, 10, 10), transfer(1, "a", "b", 5), read(2, 5, 10, 10), transfer(3, "c", "a", 15), read(4, 20, 15, -5), read(5, 10, 20)}
	v, err = Check(bad, []checker.NodeState{&checker.MapState{Name: "n3", Regs: map[string]int64{"a": 20, "b": 15, "c": -6}}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	wt, neg, inc := v.Anomaly("wrong-total"), v.Anomaly("negative-balance"), v.Anomaly("incomplete-read")
	if v.Valid != checker.False || wt == nil || wt.Count != 2 || neg == nil || neg.Count != 2 || inc == nil || inc.Count != 1 {
		t.Fatalf("%s", v.String())
	}
	if !strings.Contains(wt.Witnesses[0].Text, "totalling 25, not 30") {
		t.Error(wt.Witnesses[0].Text)
	}
	if _, err := Check(bad, nil, Options{Total: 30}); err == nil {
		t.Error("no accounts accepted")
	}
	if _, err := Check([]history.Op{transfer(0, "a", "z", 1)}, nil, opts); err == nil || !strings.Contains(err.Error(), "accounts are a, b, c") {
		t.Error(err)
	}
}
