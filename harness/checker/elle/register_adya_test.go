package elle

import (
	"strings"
	"testing"
)

// The rw-register forms of Adya's classes that TestRegister* above do not build: a write
// cycle (G0), circular information flow (G1c) and write skew without a lost update
// (G2-item). Registers carry no version order of their own: each ww edge here comes from a
// transaction that read a version and then overwrote it (writes follow reads), and each rw
// edge from a read of the initial state, which precedes every written version.

func TestRegisterG0(t *testing.T) {
	// T1 writes x=1 and, having read y=2, y=1; T2, having read x=1, writes x=2 and y=2: x's
	// versions are 1 < 2 (T1 -ww[x]-> T2) and y's 2 < 1 (T2 -ww[y]-> T1), a cycle of writes.
	h := hist(t,
		conc(1, ok, w("x", 1), rv("y", 2), w("y", 1)),
		conc(2, ok, rv("x", 1), w("x", 2), w("y", 2)),
	)
	v := checkRR(t, h)
	a := v.Anomaly("G0")
	if a == nil {
		t.Fatalf("no G0:\n%s", v.String())
	}
	if txt := a.Witnesses[0].Text; !strings.Contains(txt, "-ww[x]->") || !strings.Contains(txt, "-ww[y]->") || strings.Contains(txt, "-wr[") {
		t.Errorf("G0 witness is not a cycle of ww edges:\n%s", txt)
	}
	for _, m := range v.Models.ConsistentWith {
		t.Errorf("a write cycle is consistent with %s", m)
	}
}

func TestRegisterG1c(t *testing.T) {
	// Each reads the other's write (T2 -wr[y]-> T1 -wr[x]-> T2): no order puts both reads
	// after the writes they saw.
	h := hist(t,
		conc(1, ok, w("x", 1), rv("y", 1)),
		conc(2, ok, w("y", 1), rv("x", 1)),
	)
	v := checkRR(t, h)
	expect(t, v, []string{"G1c"}, nil, []string{"read-committed"})
	if txt := v.Anomaly("G1c").Witnesses[0].Text; !strings.Contains(txt, "-wr[x]->") || !strings.Contains(txt, "-wr[y]->") {
		t.Error(txt)
	}
}

func TestRegisterG2ItemWriteSkew(t *testing.T) {
	// Write skew: each reads the initial state of the key the other writes. Two adjacent rw
	// edges, no lost update (no key is read and written by both).
	h := hist(t,
		conc(1, ok, rnil("x"), w("y", 1)),
		conc(2, ok, rnil("y"), w("x", 1)),
	)
	v := checkRR(t, h)
	expect(t, v, []string{"G2-item"}, nil, []string{"repeatable-read"})
	if txt := v.Anomaly("G2-item").Witnesses[0].Text; !strings.Contains(txt, "-rw[x]->") || !strings.Contains(txt, "-rw[y]->") {
		t.Error(txt)
	}
}
