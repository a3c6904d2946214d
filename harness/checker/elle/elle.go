// Package elle checks transactional histories the way Elle does (Kingsbury and Alvaro,
// "Elle: Inferring Isolation Anomalies from Experimental Observations", VLDB 2020): it infers
// the order in which each key's versions were installed from what clients read, builds the
// transaction dependency graph of Adya's thesis (write-write, write-read and read-write
// edges, plus process and real-time edges), searches it for cycles, and names each cycle's
// anomaly class and the consistency models it rules out.
//
// List-append is the workload that makes this sound without assumptions: every append adds a
// unique value, so a read of a list reveals the full order of every version before it, and
// any two reads must be prefixes of one another. Registers reveal much less: a read shows
// one version, and an order between versions is known only where a transaction read a
// version and then wrote the key (the "writes follow reads" inference, RegisterOptions.WFR).
//
// Besides cycles, the checker reports anomalies visible in single reads: G1a (a read of a
// value written by a transaction that failed), G1b (a read of a value its writer later
// overwrote in the same transaction), internal (a transaction that does not see its own
// writes), garbage reads, duplicate elements, incompatible orders, lost updates (two
// committed transactions that read the same version of a key and both wrote it: P4) and
// stale reads (a read that missed a write acknowledged before the read began).
//
// Cycle searches are bounded (Options.Budget); a search cut short is named in the verdict's
// note, since then the absence of a class is not proof.
package elle

import (
	"fmt"
	"slices"
	"strings"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/harness/history"
)

// Options bound a check.
type Options struct {
	// MaxWitnesses is how many witnesses to keep per anomaly class (default 3).
	MaxWitnesses int
	// Budget is how many search states each of the fifteen cycle searches may visit before it
	// gives up (default 4,000,000, about a second of search on a large dense component).
	Budget int
	// NoRealtime drops real-time edges and stale-read detection, for histories whose clients
	// did not share one clock (the default assumes they did, as every client of a replbench
	// run does).
	NoRealtime bool
}

func (o Options) withDefaults() Options {
	if o.MaxWitnesses <= 0 {
		o.MaxWitnesses = 3
	}
	if o.Budget <= 0 {
		o.Budget = 4_000_000
	}
	return o
}

// analysis is what a workload's inference leaves for the shared part of the check: the
// dependency graph, the anomalies seen directly, and how to explain an edge.
type analysis struct {
	name    string
	h       []history.Op
	opts    Options
	g       *graph
	keys    []string
	keyID   map[string]int32
	direct  map[string]*found
	checked map[string]int
	// explain says why data relation rel holds from op a to op b on key k.
	explain func(a, b int, rel Rel, k int32) string
}

type found struct {
	count int
	ws    []checker.Witness
	forms map[string]int // instances by form, where the check tells forms apart
}

func newAnalysis(name string, h []history.Op, opts Options) *analysis {
	return &analysis{name: name, h: h, opts: opts.withDefaults(), g: newGraph(),
		keyID: map[string]int32{}, direct: map[string]*found{}, checked: map[string]int{}}
}

func (a *analysis) key(k string) int32 {
	id, ok := a.keyID[k]
	if !ok {
		id = int32(len(a.keys))
		a.keys = append(a.keys, k)
		a.keyID[k] = id
	}
	return id
}

// flag records one directly observed anomaly of class among ops, explained by text.
func (a *analysis) flag(class, text string, ops ...int) {
	a.flagForm(class, "", text, ops...)
}

// flagForm is flag for a class whose instances come in forms that mean different things
// (checker.Anomaly.Forms); form "" counts the instance under no form.
func (a *analysis) flagForm(class, form, text string, ops ...int) {
	f := a.direct[class]
	if f == nil {
		f = &found{}
		a.direct[class] = f
	}
	f.count++
	if form != "" {
		if f.forms == nil {
			f.forms = map[string]int{}
		}
		f.forms[form]++
	}
	if len(f.ws) < a.opts.MaxWitnesses {
		var b strings.Builder
		b.WriteString(text)
		b.WriteByte('\n')
		for _, i := range ops {
			b.WriteString("  " + a.h[i].String() + "\n")
		}
		f.ws = append(f.ws, checker.Witness{Text: b.String(), Ops: ops})
	}
}

// verdict adds process and realtime edges, searches for cycles and assembles the verdict.
func (a *analysis) verdict() checker.Verdict {
	a.g.addProcessEdges(a.h)
	if !a.opts.NoRealtime {
		a.g.addRealtimeEdges(a.h)
	}
	a.g.freeze()
	s := newSearcher(a.g, a.opts.Budget, a.opts.MaxWitnesses)
	s.run()

	v := checker.Verdict{Checker: a.name, Valid: checker.True, Checked: a.checked}
	v.Checked["transactions"] = len(a.g.op)
	v.Checked["keys"] = len(a.keys)
	var classes []string
	for cls, f := range a.direct {
		v.Add(cls, f.count, f.ws, a.opts.MaxWitnesses)
		if len(f.forms) > 0 {
			v.Anomaly(cls).Forms = f.forms
		}
		classes = append(classes, cls)
	}
	for cls, cs := range s.found {
		ws := make([]checker.Witness, len(cs))
		for i, c := range cs {
			ws[i] = a.witness(c)
		}
		v.Add(cls, s.count[cls], ws, a.opts.MaxWitnesses)
		classes = append(classes, cls)
	}
	consistent, not, alsoNot := boundary(classes)
	v.Models = &checker.Models{ConsistentWith: consistent, Not: not, AlsoNot: alsoNot}
	if len(s.cut) > 0 {
		slices.Sort(s.cut)
		v.Note = fmt.Sprintf("cycle searches cut short by the budget (%d states): %s; those classes may be present although not reported",
			a.opts.Budget, strings.Join(slices.Compact(s.cut), ", "))
	}
	if a.opts.NoRealtime {
		v.Note = strings.TrimPrefix(v.Note+"; real-time order not used (no stale-read or -realtime classes)", "; ")
	}
	return v
}

// witness renders a cycle as text and as a picture, starting from its earliest operation.
func (a *analysis) witness(c cycle) checker.Witness {
	n := len(c.steps)
	first := 0
	for i, st := range c.steps {
		if a.g.op[a.g.edges[st.edge].from] < a.g.op[a.g.edges[c.steps[first].edge].from] {
			first = i
		}
	}
	c.steps = append(slices.Clone(c.steps[first:]), c.steps[:first]...)
	ops := make([]int, n)
	label := map[int]string{}
	for i, st := range c.steps {
		ops[i] = a.g.op[a.g.edges[st.edge].from]
		label[ops[i]] = fmt.Sprintf("T%d", i+1)
	}
	w := checker.Witness{Ops: ops}
	var b strings.Builder
	b.WriteString(c.class + ": ")
	for i, st := range c.steps {
		e := &a.g.edges[st.edge]
		to := a.g.op[e.to]
		if i == 0 {
			b.WriteString(label[ops[0]])
		}
		rel := a.relLabel(e, st.rel)
		fmt.Fprintf(&b, " -%s-> %s", rel, label[to])
		w.Cycle = append(w.Cycle, checker.Step{From: ops[i], To: to, Rel: st.rel.String(), Key: a.keyName(e.key(st.rel))})
	}
	b.WriteByte('\n')
	for _, i := range ops {
		fmt.Fprintf(&b, "  %s = %s\n", label[i], a.h[i].String())
	}
	for _, st := range c.steps {
		e := &a.g.edges[st.edge]
		from, to := a.g.op[e.from], a.g.op[e.to]
		fmt.Fprintf(&b, "  %s -%s-> %s: %s\n", label[from], a.relLabel(e, st.rel), label[to],
			a.reason(from, to, st.rel, e.key(st.rel), label))
	}
	w.Text = b.String()
	w.SVG = drawCycle(c.class, w.Cycle, label, a.h)
	return w
}

func (a *analysis) keyName(k int32) string {
	if k < 0 {
		return ""
	}
	return a.keys[k]
}

func (a *analysis) relLabel(e *edge, r Rel) string {
	if k := e.key(r); k >= 0 {
		return fmt.Sprintf("%s[%s]", r, a.keys[k])
	}
	return r.String()
}

// reason explains one edge of a witness, in terms of the operations' labels.
func (a *analysis) reason(from, to int, r Rel, k int32, label map[int]string) string {
	f, t := &a.h[from], &a.h[to]
	switch r {
	case Process:
		return fmt.Sprintf("both ran on process %d, %s first", f.Process, label[from])
	case Realtime:
		return fmt.Sprintf("%s completed at %s, before %s was invoked at %s",
			label[from], history.FormatNs(f.Complete), label[to], history.FormatNs(t.Invoke))
	}
	s := a.explain(from, to, r, k)
	return strings.NewReplacer("$A", label[from], "$B", label[to]).Replace(s)
}
