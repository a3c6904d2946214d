package elle

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/harness/history"
)

// Hand-made histories, one per anomaly class, built from the definitions in Adya's thesis
// (section 4.4 for G0, G1a-c; 4.5 for G-single, G2-item) and Elle's paper for the
// list-append forms, the process and realtime variants, lost update and stale reads.

var (
	ok   = history.OK
	fail = history.Fail
	info = history.Info
	app  = history.AppendMop
	w    = history.WriteMop
)

func rl(k string, vs ...int64) history.Mop { return history.ReadListMop(k, vs) }
func rv(k string, v int64) history.Mop     { return history.ReadValueMop(k, v) }
func rnil(k string) history.Mop            { return history.ReadNilMop(k) }

// T is one transaction: process, invocation and completion time, outcome, mops.
func T(p int, inv, done int64, out history.Outcome, mops ...history.Mop) history.Op {
	return history.Op{Process: p, Node: "n1", Invoke: inv, Complete: done, Outcome: out, Mops: mops}
}

// conc is a transaction concurrent with every other conc one: no realtime order.
func conc(p int, out history.Outcome, mops ...history.Mop) history.Op {
	return T(p, int64(p), 1000, out, mops...)
}

func hist(t *testing.T, ops ...history.Op) []history.Op {
	t.Helper()
	slices.SortStableFunc(ops, func(a, b history.Op) int { return int(a.Invoke - b.Invoke) })
	for i := range ops {
		ops[i].Index = i
	}
	if err := history.Validate(ops); err != nil {
		t.Fatal(err)
	}
	return ops
}

func checkLA(t *testing.T, h []history.Op) checker.Verdict {
	t.Helper()
	v, err := CheckListAppend(h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func checkRR(t *testing.T, h []history.Op) checker.Verdict {
	t.Helper()
	v, err := CheckRWRegister(h, RegisterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func classes(v checker.Verdict) []string {
	var out []string
	for _, a := range v.Anomalies {
		out = append(out, a.Class)
	}
	return out
}

// expect asserts exactly these classes were found, and that the model boundary is as given.
func expect(t *testing.T, v checker.Verdict, want []string, consistent []string, not []string) {
	t.Helper()
	got := classes(v)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("classes %v, want %v\n%s", got, want, v.String())
	}
	if len(want) == 0 && v.Valid != checker.True || len(want) > 0 && v.Valid != checker.False {
		t.Errorf("valid=%s with classes %v", v.Valid, got)
	}
	if consistent != nil && !slices.Equal(v.Models.ConsistentWith, consistent) {
		t.Errorf("consistent with %v, want %v", v.Models.ConsistentWith, consistent)
	}
	if not != nil && !slices.Equal(v.Models.Not, not) {
		t.Errorf("not %v, want %v", v.Models.Not, not)
	}
	for _, a := range v.Anomalies {
		if a.Count < 1 || len(a.Witnesses) == 0 || a.Witnesses[0].Text == "" || len(a.Witnesses[0].Ops) == 0 {
			t.Errorf("%s: count %d, witnesses %+v", a.Class, a.Count, a.Witnesses)
		}
	}
}

func TestListAppendG0(t *testing.T) {
	// Adya G0 (write cycles): T1 and T2 both write x and y, in opposite orders.
	h := hist(t,
		conc(1, ok, app("x", 1), app("y", 1)),
		conc(2, ok, app("x", 2), app("y", 2)),
		T(3, 2000, 2001, ok, rl("x", 1, 2), rl("y", 2, 1)),
	)
	v := checkLA(t, h)
	expect(t, v, []string{"G0"}, []string{}, []string{"read-uncommitted"})
	wt := v.Anomaly("G0").Witnesses[0]
	if !strings.HasPrefix(wt.Text, "G0: T1 -ww[x]-> T2 -ww[y]-> T1") || len(wt.Cycle) != 2 || !strings.Contains(string(wt.SVG), "<svg") {
		t.Errorf("witness:\n%s", wt.Text)
	}
}

func TestListAppendG1a(t *testing.T) {
	h := hist(t,
		conc(1, fail, app("x", 1)),
		conc(2, ok, rl("x", 1)),
	)
	expect(t, checkLA(t, h), []string{"G1a"}, []string{"read-uncommitted"}, []string{"read-committed"})
}

func TestListAppendG1b(t *testing.T) {
	h := hist(t,
		conc(1, ok, app("x", 1), app("x", 2)),
		conc(2, ok, rl("x", 1)),
	)
	expect(t, checkLA(t, h), []string{"G1b"}, []string{"read-uncommitted"}, []string{"read-committed"})
}

func TestListAppendG1c(t *testing.T) {
	// Circular information flow: each reads the other's write.
	h := hist(t,
		conc(1, ok, app("x", 1), rl("y", 1)),
		conc(2, ok, app("y", 1), rl("x", 1)),
	)
	v := checkLA(t, h)
	expect(t, v, []string{"G1c"}, []string{"read-uncommitted"}, []string{"read-committed"})
	if txt := v.Anomaly("G1c").Witnesses[0].Text; !strings.Contains(txt, "-wr[x]->") || !strings.Contains(txt, "-wr[y]->") {
		t.Error(txt)
	}
}

func TestListAppendGSingle(t *testing.T) {
	// Read skew: T1 sees y after T2 but x before it.
	h := hist(t,
		conc(1, ok, rl("x"), rl("y", 1)),
		conc(2, ok, app("x", 1), app("y", 1)),
		T(3, 2000, 2001, ok, rl("x", 1)),
	)
	v := checkLA(t, h)
	expect(t, v, []string{"G-single"}, []string{"cursor-stability"}, []string{"consistent-view", "repeatable-read"})
	if txt := v.Anomaly("G-single").Witnesses[0].Text; !strings.Contains(txt, "-rw[x]->") || !strings.Contains(txt, "-wr[y]->") || strings.Contains(txt, "$") {
		t.Error(txt)
	}
}

func TestListAppendG2Item(t *testing.T) {
	// Write skew: each reads the key the other appends to, before it did.
	h := hist(t,
		conc(1, ok, rl("x"), app("y", 1)),
		conc(2, ok, rl("y"), app("x", 1)),
		T(3, 2000, 2001, ok, rl("x", 1), rl("y", 1)),
	)
	expect(t, checkLA(t, h), []string{"G2-item"}, []string{"strong-snapshot-isolation"}, []string{"repeatable-read"})
}

func TestListAppendGNonadjacent(t *testing.T) {
	// T1 -rw[x]-> T2 -wr[y]-> T3 -rw[z]-> T4 -wr[w]-> T1: two rw edges, never adjacent.
	h := hist(t,
		conc(1, ok, rl("x"), rl("w", 1)),
		conc(2, ok, app("x", 1), app("y", 1)),
		conc(3, ok, rl("y", 1), rl("z")),
		conc(4, ok, app("z", 1), app("w", 1)),
		T(5, 2000, 2001, ok, rl("x", 1), rl("z", 1)),
	)
	v := checkLA(t, h)
	expect(t, v, []string{"G-nonadjacent"}, []string{"consistent-view"}, []string{"repeatable-read", "snapshot-isolation"})
	if c := v.Anomaly("G-nonadjacent").Witnesses[0].Cycle; len(c) != 4 {
		t.Errorf("cycle %+v", c)
	}
}

func TestListAppendLostUpdate(t *testing.T) {
	// P4: both read x = [] and append; the later read shows both appends.
	h := hist(t,
		conc(1, ok, rl("x"), app("x", 1)),
		conc(2, ok, rl("x"), app("x", 2)),
		T(3, 2000, 2001, ok, rl("x", 1, 2)),
	)
	v := checkLA(t, h)
	expect(t, v, []string{"G-single", "lost-update"}, []string{"read-committed"}, []string{"cursor-stability"})
	if ops := v.Anomaly("lost-update").Witnesses[0].Ops; !slices.Equal(ops, []int{0, 1}) {
		t.Errorf("lost-update ops %v", ops)
	}
}

func TestListAppendInternal(t *testing.T) {
	h := hist(t, conc(1, ok, app("x", 1), rl("x")))
	expect(t, checkLA(t, h), []string{"internal"}, []string{"consistent-view", "repeatable-read"}, []string{"snapshot-isolation"})
	h = hist(t, conc(1, ok, rl("x"), app("x", 1), rl("x", 1)), conc(2, ok, rl("x", 1))) // consistent
	expect(t, checkLA(t, h), nil, nil, nil)
}

// TestListAppendInternalForms checks that internal tells InnoDB REPEATABLE READ's own write
// on a newer version (an earlier read [1], another transaction's 2 committed since, its own 3
// last) from a read that lacks the transaction's own append, and from one that lost
// elements of the earlier read.
func TestListAppendInternalForms(t *testing.T) {
	for _, c := range []struct {
		name string
		tx   history.Op
		form string
	}{
		{"newer version", conc(1, ok, rl("x", 1), app("x", 3), rl("x", 1, 2, 3)), checker.InternalNewerVersion},
		{"own write missing after a read", conc(1, ok, rl("x", 1), app("x", 3), rl("x", 1, 2)), checker.InternalOwnWriteMissing},
		{"own write missing, no earlier read", conc(1, ok, app("x", 3), rl("x", 1, 2)), checker.InternalOwnWriteMissing},
		{"earlier read's element gone", conc(1, ok, rl("x", 1, 2), app("x", 3), rl("x", 2, 3)), checker.InternalOther},
		{"non-repeatable read without a write", conc(1, ok, rl("x", 1), rl("x", 1, 2)), checker.InternalOther},
	} {
		h := hist(t, T(0, 0, 10, ok, app("x", 1)), T(2, 20, 30, ok, app("x", 2)), c.tx)
		v := checkLA(t, h)
		a := v.Anomaly("internal")
		if a == nil {
			t.Errorf("%s: no internal anomaly in %s", c.name, v.String())
			continue
		}
		if a.Forms[c.form] != a.Count || len(a.Forms) != 1 {
			t.Errorf("%s: internal ×%d forms %v, want all %s", c.name, a.Count, a.Forms, c.form)
		}
	}
}

func TestListAppendDuplicateGarbageIncompatible(t *testing.T) {
	expect(t, checkLA(t, hist(t, conc(1, ok, app("x", 1)), conc(2, ok, rl("x", 1, 1)))),
		[]string{"duplicate-elements"}, []string{}, []string{"read-uncommitted"})
	expect(t, checkLA(t, hist(t, conc(1, ok, app("x", 1)), conc(2, ok, rl("x", 1, 9)))),
		[]string{"garbage-read"}, []string{"read-uncommitted"}, []string{"read-committed"})
	expect(t, checkLA(t, hist(t, conc(1, ok, app("x", 1)), conc(2, ok, app("x", 2)),
		conc(3, ok, rl("x", 1, 2)), conc(4, ok, rl("x", 2, 1)))),
		[]string{"incompatible-order"}, []string{"read-uncommitted"}, []string{"read-committed"})
}

func TestListAppendStaleRead(t *testing.T) {
	// T1's append is acknowledged at 10; T2 starts at 20 and does not see it.
	h := hist(t,
		T(1, 0, 10, ok, app("x", 1)),
		T(2, 20, 30, ok, rl("x")),
		T(3, 40, 50, ok, rl("x", 1)),
	)
	v := checkLA(t, h)
	expect(t, v, []string{"G-single-realtime", "stale-read"}, []string{"strong-session-serializable"}, []string{"strong-snapshot-isolation"})
	txt := v.Anomaly("G-single-realtime").Witnesses[0].Text
	if !strings.Contains(txt, "-rw[x]->") || !strings.Contains(txt, "-realtime->") || !strings.Contains(txt, "completed at 10ns, before T2 was invoked at 20ns") {
		t.Error(txt)
	}
	nort, err := CheckListAppend(h, Options{NoRealtime: true})
	if err != nil || nort.Valid != checker.True {
		t.Errorf("without realtime order the history is serializable: %s", nort.String())
	}
}

func TestListAppendProcessOrder(t *testing.T) {
	// One client appends, then fails to read its own write: G-single-process. Completion
	// and next invocation touch (no strict realtime order), so only the process edge orders them.
	h := hist(t,
		T(1, 0, 10, ok, app("x", 1)),
		T(1, 10, 20, ok, rl("x")),
		T(2, 30, 40, ok, rl("x", 1)),
	)
	expect(t, checkLA(t, h), []string{"G-single-process"}, []string{"serializable"}, []string{"strong-session-snapshot-isolation"})
}

func TestListAppendG0Realtime(t *testing.T) {
	// T2 completes before T1 starts, yet T1's append to x precedes T2's: G0-realtime.
	h := hist(t,
		T(2, 0, 10, ok, app("x", 2)),
		T(1, 20, 30, ok, app("x", 1)),
		T(3, 40, 50, ok, rl("x", 1, 2)),
	)
	expect(t, checkLA(t, h), []string{"G0-realtime"}, nil, []string{"strong-snapshot-isolation", "strict-serializable"}[:1])
}

func TestListAppendInfoWritesMayOrMayNotHappen(t *testing.T) {
	h := hist(t,
		conc(1, info, app("x", 1)),
		conc(2, info, app("x", 2)),
		T(3, 2000, 2001, ok, rl("x", 1)), // saw one of the unknown appends
		T(4, 3000, 3001, ok, rl("x", 1)), // and never the other: fine
	)
	expect(t, checkLA(t, h), nil, []string{"strict-serializable"}, []string{})
}

func TestListAppendRejectsMalformed(t *testing.T) {
	for _, h := range [][]history.Op{
		{conc(1, ok, app("x", 1)), conc(2, ok, app("x", 1))},
		{conc(1, ok, w("x", 1))},
		{conc(1, ok, rv("x", 1))},
	} {
		for i := range h {
			h[i].Index = i
		}
		if _, err := CheckListAppend(h, Options{}); err == nil {
			t.Errorf("accepted %v", h)
		}
	}
}

func TestVerdictJSON(t *testing.T) {
	v := checkLA(t, hist(t,
		conc(1, ok, rl("x"), app("x", 1)),
		conc(2, ok, rl("x"), app("x", 2)),
		T(3, 2000, 2001, ok, rl("x", 1, 2)),
	))
	b, err := json.Marshal(checker.Summarize(v))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"anomalies":{"G-single":1,"lost-update":1}`, `"consistent_with":["read-committed"]`,
		`"checker":"elle-list-append"`, `"valid":false`, `"rel":"rw","key":"x"`, `"lost_acknowledged":null`} {
		if !strings.Contains(s, want) {
			t.Errorf("summary JSON lacks %s:\n%s", want, s)
		}
	}
	if strings.Contains(s, "<svg") {
		t.Error("SVG leaked into JSON")
	}
}

// rw-register

func TestRegisterG1aG1bGarbage(t *testing.T) {
	expect(t, checkRR(t, hist(t, conc(1, fail, w("x", 1)), conc(2, ok, rv("x", 1)))), []string{"G1a"}, nil, []string{"read-committed"})
	expect(t, checkRR(t, hist(t, conc(1, ok, w("x", 1), w("x", 2)), conc(2, ok, rv("x", 1)))), []string{"G1b"}, nil, []string{"read-committed"})
	expect(t, checkRR(t, hist(t, conc(1, ok, rv("x", 7)))), []string{"garbage-read"}, nil, []string{"read-committed"})
}

func TestRegisterLostUpdate(t *testing.T) {
	// Both read x = 1 (written by T0) and write over it: P4, and with writes following reads
	// each overwrote the version the other read, two adjacent rw edges (G2-item).
	h := hist(t,
		T(0, 0, 1, ok, w("x", 1)),
		T(1, 10, 100, ok, rv("x", 1), w("x", 2)),
		T(2, 10, 100, ok, rv("x", 1), w("x", 3)),
	)
	expect(t, checkRR(t, h), []string{"G2-item", "lost-update"}, []string{"read-committed"}, []string{"cursor-stability"})
}

func TestRegisterGSingleFromInitialState(t *testing.T) {
	// Read skew over registers: T1 reads x = nil but y = 1, both written by T2.
	h := hist(t,
		conc(1, ok, rnil("x"), rv("y", 1)),
		conc(2, ok, w("x", 1), w("y", 1)),
	)
	expect(t, checkRR(t, h), []string{"G-single"}, nil, []string{"consistent-view", "repeatable-read"})
}

func TestRegisterInternalAndCyclicVersions(t *testing.T) {
	expect(t, checkRR(t, hist(t, conc(1, ok, w("x", 1), rnil("x")))), []string{"internal"}, nil, []string{"snapshot-isolation"})
	// T1 read 2 then wrote 1; T2 read 1 then wrote 2: the versions follow each other.
	h := hist(t,
		conc(1, ok, rv("x", 2), w("x", 1)),
		conc(2, ok, rv("x", 1), w("x", 2)),
	)
	v := checkRR(t, h)
	if v.Anomaly("cyclic-versions") == nil || !slices.Contains(v.Models.Not, "read-uncommitted") {
		t.Errorf("cyclic versions:\n%s", v.String())
	}
}

func TestRegisterClean(t *testing.T) {
	h := hist(t,
		T(1, 0, 10, ok, rnil("x"), w("x", 1)),
		T(2, 20, 30, ok, rv("x", 1), w("x", 2), rv("x", 2)),
		T(3, 40, 50, ok, rv("x", 2)),
		T(1, 60, 70, info, w("x", 3)),
		T(2, 80, 90, ok, rv("x", 3)),
	)
	expect(t, checkRR(t, h), nil, []string{"strict-serializable"}, []string{})
}

func TestRegisterStaleRead(t *testing.T) {
	h := hist(t,
		T(1, 0, 10, ok, rnil("x"), w("x", 1)),
		T(2, 20, 30, ok, rnil("x")),
	)
	expect(t, checkRR(t, h), []string{"G-single-realtime", "stale-read"}, nil, []string{"strong-snapshot-isolation"})
}
