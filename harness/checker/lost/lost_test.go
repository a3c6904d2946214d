package lost

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/harness/checker/internal/gen"
	"github.com/replbench/replbench/harness/history"
)

func nodesFrom(s gen.Store, names ...string) []checker.NodeState {
	var out []checker.NodeState
	for _, n := range names {
		m := &checker.MapState{Name: n, Lists: map[string][]int64{}, Regs: map[string]int64{}}
		for k, l := range s.Lists {
			m.Lists[k] = slices.Clone(l)
		}
		for k, v := range s.Regs {
			m.Regs[k] = v
		}
		out = append(out, m)
	}
	return out
}

func TestNothingLost(t *testing.T) {
	for _, w := range []gen.Workload{gen.ListAppend, gen.RWRegister, gen.Register} {
		h, final := gen.Generate(gen.Config{Workload: w, Seed: 11, Clients: 6, Ops: 500, PFail: 0.05, PInfo: 0.05})
		v, err := Check(h, nodesFrom(final, "n1", "n2", "n3"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if v.Valid != checker.True || len(v.Lost) != 0 {
			t.Errorf("workload %d: %s", w, v.String())
		}
	}
}

// Dropping one acknowledged append from one node must name exactly that write, with its
// seqno, and the node that lacks it.
func TestDroppedAcknowledgedAppendIsReported(t *testing.T) {
	h, final := gen.Generate(gen.Config{Workload: gen.ListAppend, Seed: 4, Clients: 4, Ops: 300, PInfo: 0.1})
	nodes := nodesFrom(final, "n1", "n2", "n3")
	var victim history.Op
	var mop history.Mop
	for _, o := range h {
		if o.Outcome == history.OK && o.Mops[len(o.Mops)-1].F == history.Append {
			victim, mop = o, o.Mops[len(o.Mops)-1]
			break
		}
	}
	n2 := nodes[1].(*checker.MapState)
	n2.Lists[mop.Key] = slices.DeleteFunc(n2.Lists[mop.Key], func(x int64) bool { return x == mop.Value })
	v, err := Check(h, nodes, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Valid != checker.False || len(v.Lost) != 1 {
		t.Fatalf("%s", v.String())
	}
	l := v.Lost[0]
	if l.Op != victim.Index || l.Key != mop.Key || l.Value != mop.Value || l.Seqno != victim.Seqno || l.Seqno == 0 ||
		!slices.Equal(l.MissingOn, []string{"n2"}) {
		t.Fatalf("lost %+v, victim %s", l, victim.String())
	}
	s := checker.Summarize(v)
	b, _ := json.Marshal(s)
	if len(s.LostAcknowledged) != 1 || !strings.Contains(string(b), `"lost_acknowledged":[{"op":`) || !strings.Contains(string(b), `"missing_on":["n2"]`) {
		t.Fatalf("summary %s", b)
	}
}

func TestOutcomesOfCollections(t *testing.T) {
	h := []history.Op{
		{Index: 0, Process: 0, Node: "n1", Outcome: history.OK, Invoke: 0, Complete: 10, Mops: []history.Mop{history.AddMop("s", 1)}, GTID: "uuid:7"},
		{Index: 1, Process: 1, Node: "n1", Outcome: history.Info, Invoke: 1, Complete: 10, Mops: []history.Mop{history.AddMop("s", 2)}},
		{Index: 2, Process: 2, Node: "n2", Outcome: history.Fail, Invoke: 2, Complete: 10, Mops: []history.Mop{history.AddMop("s", 3)}, Error: "deadlock"},
	}
	n1 := &checker.MapState{Name: "n1", Lists: map[string][]int64{"s": {1, 2}}}
	n2 := &checker.MapState{Name: "n2", Lists: map[string][]int64{"s": {1}}}
	v, err := Check(h, []checker.NodeState{n1, n2}, Options{})
	if err != nil || v.Valid != checker.True {
		t.Fatalf("unknown write present on one node only is fine: %v %s", err, v.String())
	}
	n2.Lists["s"] = []int64{3} // the acknowledged 1 is gone and the rolled-back 3 is there
	v, _ = Check(h, []checker.NodeState{n1, n2}, Options{})
	if v.Anomaly("lost-acknowledged") == nil || v.Anomaly("aborted-write-present") == nil || v.Lost[0].GTID != "uuid:7" {
		t.Fatalf("%s", v.String())
	}
	if !strings.Contains(v.Lost[0].String(), "gtid=uuid:7 missing on n2") {
		t.Error(v.Lost[0].String())
	}
	v, _ = Check(h, nil, Options{})
	if v.Valid != checker.Unknown {
		t.Errorf("no nodes: %s", v.Valid)
	}
}

func TestRegisterLastWrite(t *testing.T) {
	w := func(i, p int, inv, done int64, out history.Outcome, v int64) history.Op {
		return history.Op{Index: i, Process: p, Node: "n1", Outcome: out, Invoke: inv, Complete: done, Mops: []history.Mop{history.WriteMop("x", v)}, Seqno: int64(i + 1)}
	}
	seq := []history.Op{w(0, 0, 0, 10, history.OK, 1), w(1, 0, 20, 30, history.OK, 2)}
	node := &checker.MapState{Name: "n1", Regs: map[string]int64{"x": 1}}
	v, _ := Check(seq, []checker.NodeState{node}, Options{})
	if len(v.Lost) != 1 || v.Lost[0].Value != 2 || v.Lost[0].Seqno != 2 {
		t.Fatalf("the final write was lost: %s", v.String())
	}
	concurrent := []history.Op{w(0, 0, 0, 10, history.OK, 1), w(1, 1, 5, 30, history.OK, 2)}
	if v, _ := Check(concurrent, []checker.NodeState{node}, Options{}); v.Valid != checker.True {
		t.Fatalf("concurrent writes, either may be last: %s", v.String())
	}
	delete(node.Regs, "x")
	if v, _ := Check(concurrent, []checker.NodeState{node}, Options{}); len(v.Lost) != 1 {
		t.Fatalf("key absent after acknowledged writes: %s", v.String())
	}
	node.Regs["x"] = 9
	if v, _ := Check(concurrent, []checker.NodeState{node}, Options{}); v.Anomaly("unexpected-value") == nil {
		t.Fatalf("value nobody wrote: %s", v.String())
	}
}

// A node still down at the end: with a live node, the live nodes decide and what the down
// node's storage lacks is counted, not lost; with every node down, a write is lost only
// when no node's surviving storage holds it.
func TestDownNodesSurvivingStorage(t *testing.T) {
	h := []history.Op{
		{Index: 0, Process: 0, Node: "n1", Outcome: history.OK, Invoke: 0, Complete: 10, Mops: []history.Mop{history.AddMop("s", 1)}, Seqno: 1},
		{Index: 1, Process: 0, Node: "n1", Outcome: history.OK, Invoke: 20, Complete: 30, Mops: []history.Mop{history.AddMop("s", 2)}, Seqno: 2},
	}
	live := &checker.MapState{Name: "n1", Lists: map[string][]int64{"s": {1, 2}}}
	downHas1 := &checker.MapState{Name: "n2", Lists: map[string][]int64{"s": {1}}}
	downHasNone := &checker.MapState{Name: "n3", Lists: map[string][]int64{}}

	v, err := Check(h, []checker.NodeState{live}, Options{Down: []checker.NodeState{downHas1}})
	if err != nil || v.Valid != checker.True || v.Checked[downKey] != 1 {
		t.Fatalf("a down node behind a live one loses nothing: %v %s %v", err, v.String(), v.Checked)
	}
	v, _ = Check(h, nil, Options{Down: []checker.NodeState{downHas1, downHasNone}})
	if v.Valid != checker.False || len(v.Lost) != 1 || v.Lost[0].Value != 2 || v.Lost[0].Seqno != 2 ||
		!slices.Equal(v.Lost[0].MissingOn, []string{"n2", "n3"}) {
		t.Fatalf("every node down: append 2 is on no surviving copy, append 1 on n2's: %s", v.String())
	}
	if !strings.Contains(v.Note, "surviving storage") {
		t.Errorf("the verdict does not say it read surviving storage: %q", v.Note)
	}
	v, _ = Check(h, nil, Options{Down: []checker.NodeState{&checker.MapState{Name: "n2", Lists: map[string][]int64{"s": {1, 2}}}, downHasNone}})
	if v.Valid != checker.True {
		t.Fatalf("every node down, one copy holds everything: %s", v.String())
	}
}
