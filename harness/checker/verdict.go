// Package checker holds what every history checker returns: a Verdict with stable names, a
// count and a few witnesses per anomaly class, and the Summary a results point embeds. The
// checkers themselves live in subpackages, one job each: lost (acknowledged writes missing
// from a live node), elle (dependency-graph cycles and the consistency models they rule
// out), linear (linearizability of registers, with porcupine) and bank (totals and negative
// balances).
//
// Checkers read histories (harness/history), never protocols, so a history recorded on the
// model and one recorded on a real cluster are judged by the same code, and the verdict says
// only what a client could have observed. The explanation of *why* an anomaly happens (for
// example, that Galera certifies write-sets only, so two read-modify-writes on different
// nodes lose an update) is the model's knowledge, not the checker's: the caller fills
// Verdict.Explanation.
package checker

import (
	"fmt"
	"github.com/replbench/replbench/harness/history"
	"slices"
	"strings"
)

// Valid is a three-valued verdict. JSON: true, false, or "unknown" (the check did not finish
// in its time bound, or could not run). The zero value is Unknown, so a verdict nobody filled
// in never reads as a pass.
type Valid int8

const (
	Unknown Valid = iota
	True
	False
)

// Of returns True for ok, False otherwise.
func Of(ok bool) Valid {
	if ok {
		return True
	}
	return False
}

func (v Valid) String() string {
	switch v {
	case True:
		return "true"
	case False:
		return "false"
	}
	return "unknown"
}

// MarshalJSON encodes true, false or "unknown".
func (v Valid) MarshalJSON() ([]byte, error) {
	if v == Unknown {
		return []byte(`"unknown"`), nil
	}
	return []byte(v.String()), nil
}

// UnmarshalJSON accepts true, false and "unknown".
func (v *Valid) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true":
		*v = True
	case "false":
		*v = False
	case `"unknown"`:
		*v = Unknown
	default:
		return fmt.Errorf("checker: valid is %s; accepted: true, false, \"unknown\"", b)
	}
	return nil
}

// Verdict is one checker's judgement of one history.
type Verdict struct {
	// Checker is the stable name of the checker: "lost-acknowledged", "elle-list-append",
	// "elle-rw-register", "linearizable", "bank".
	Checker string `json:"checker"`
	// Valid is False when any anomaly was found, Unknown when the check could not finish.
	Valid Valid `json:"valid"`
	// Anomalies has one entry per class found, sorted by class name.
	Anomalies []Anomaly `json:"anomalies,omitempty"`
	// Lost lists acknowledged writes missing from a live node (lost-acknowledged only).
	Lost []LostWrite `json:"lost,omitempty"`
	// Models is what the history rules out and what it is still consistent with (elle only).
	Models *Models `json:"models,omitempty"`
	// Checked says what was examined: operations, keys, nodes.
	Checked map[string]int `json:"checked,omitempty"`
	// Note says what limited the check: a time bound reached, a search cut short, ops skipped.
	Note string `json:"note,omitempty"`
	// Explanation is the mechanism behind the anomalies, filled by the caller that knows the
	// protocol (the checker only knows what clients saw).
	Explanation string `json:"explanation,omitempty"`
	// Expected is set on a failed verdict when every anomaly it found is one the protocol's
	// documented guarantees allow under the point's settings and faults (Explanation says
	// which mechanism and where the claim comes from): the checker did its job and the
	// protocol did what it promises. Unexpected lists the classes (with their forms) that
	// no such guarantee allows: a bug in the protocol's model, the harness or the checker
	// until triaged. The caller that knows the protocol fills both; a verdict nobody
	// judged has neither and reads as unexpected.
	Expected   bool     `json:"expected,omitempty"`
	Unexpected []string `json:"unexpected,omitempty"`
	// Files are visualisations written for this verdict, relative to the run directory.
	Files []string `json:"files,omitempty"`
}

// Anomaly is one class of anomaly in a verdict.
type Anomaly struct {
	// Class is the stable name: G0, G1a, G1b, G1c, G-single, G-nonadjacent, G2-item (each
	// also with -process and -realtime), lost-update, stale-read, internal, garbage-read,
	// duplicate-elements, incompatible-order, cyclic-versions, lost-acknowledged,
	// aborted-write-present, nonlinearizable, wrong-total, negative-balance, ...
	Class string `json:"class"`
	// Count is how many instances were found; for cycles, how many independent cycles (one
	// per strongly connected component searched), a lower bound on the anomalies present.
	Count int `json:"count"`
	// Witnesses are up to the checker's limit of concrete instances.
	Witnesses []Witness `json:"witnesses,omitempty"`
	// Forms counts the instances by form where one class covers cases that mean different
	// things, so a caller can tell an isolation level's documented behaviour from a bug
	// without reading every witness (the witnesses are only the first few). Only
	// elle-list-append's internal has forms: InternalNewerVersion, InternalOwnWriteMissing,
	// InternalOther. Absent for every other class.
	Forms map[string]int `json:"forms,omitempty"`
}

// Forms of the internal anomaly (Anomaly.Forms). A transaction's read after its own append
// can show its append on a newer version of the list than its earlier read saw:
// InternalNewerVersion, the earlier read, then elements other transactions committed
// since, then the transaction's own appends. That is what InnoDB's REPEATABLE READ does
// (a write reads the latest committed version, and a later read sees the row as written;
// Jepsen, MySQL 8.0.34), allowed there and forbidden under snapshot isolation. A read that
// lacks one of the transaction's own appends is InternalOwnWriteMissing, which no
// isolation level allows; any other mismatch (elements of the earlier read gone) is
// InternalOther.
const (
	InternalNewerVersion    = "newer-version"
	InternalOwnWriteMissing = "own-write-missing"
	InternalOther           = "other"
)

// Witness is one instance of an anomaly, concrete enough for a person to check by hand.
type Witness struct {
	// Text is the instance as printed: for a cycle, "T1 -ww[x]-> T2 -rw[y]-> T1" and one line
	// per transaction, then the reason for each edge.
	Text string `json:"text"`
	// Ops are the history indexes of the operations involved.
	Ops []int `json:"ops"`
	// Cycle is the witness cycle's edges, for cycle anomalies.
	Cycle []Step `json:"cycle,omitempty"`
	// Picture is the SVG's file name once WritePictures has written it.
	Picture string `json:"picture,omitempty"`
	// SVG is a small drawing of the cycle; written to a file by WritePictures, not to JSON.
	SVG []byte `json:"-"`
}

// Step is one edge of a witness cycle: From's operation precedes To's because of Rel on Key.
type Step struct {
	From int    `json:"from"` // history index
	To   int    `json:"to"`   // history index
	Rel  string `json:"rel"`  // ww, wr, rw, process, realtime
	Key  string `json:"key,omitempty"`
}

// LostWrite is an acknowledged write that a live node does not have at the end of the run.
type LostWrite struct {
	Op        int      `json:"op"`      // history index of the acknowledged operation
	Process   int      `json:"process"` // its client
	Node      string   `json:"node"`    // the node that acknowledged it
	Mop       string   `json:"mop"`     // the write, as "append x 3"
	Key       string   `json:"key"`
	Value     int64    `json:"value"`
	GTID      string   `json:"gtid,omitempty"`
	Seqno     int64    `json:"seqno,omitempty"`
	AckedNs   int64    `json:"acked_ns"`   // when the client was told it committed
	MissingOn []string `json:"missing_on"` // live nodes without it
}

func (l LostWrite) String() string {
	s := fmt.Sprintf("op %d (p%d on %s, acknowledged at %s) %s", l.Op, l.Process, l.Node, history.FormatNs(l.AckedNs), l.Mop)
	if l.Op < 0 { // from the per-row ack log of a workload without a history
		s = fmt.Sprintf("commit acknowledged on %s: %s", l.Node, l.Mop)
	}
	if l.GTID != "" {
		s += " gtid=" + l.GTID
	} else if l.Seqno != 0 {
		s += fmt.Sprintf(" seqno=%d", l.Seqno)
	}
	return s + " missing on " + strings.Join(l.MissingOn, ",")
}

// Models is the consistency-model boundary of a history.
type Models struct {
	// ConsistentWith are the strongest models no anomaly found rules out.
	ConsistentWith []string `json:"consistent_with"`
	// Not are the weakest models the anomalies rule out; AlsoNot the stronger ones.
	Not     []string `json:"not,omitempty"`
	AlsoNot []string `json:"also_not,omitempty"`
}

// Add appends a class with its count and witnesses (at most max of them) and marks the
// verdict invalid. A class with no instance is not added.
func (v *Verdict) Add(class string, count int, ws []Witness, max int) {
	if count == 0 {
		return
	}
	if len(ws) > max {
		ws = ws[:max]
	}
	for i := range v.Anomalies {
		if v.Anomalies[i].Class == class {
			a := &v.Anomalies[i]
			a.Count += count
			if room := max - len(a.Witnesses); room > 0 {
				a.Witnesses = append(a.Witnesses, ws[:min(room, len(ws))]...)
			}
			v.Valid = False
			return
		}
	}
	v.Anomalies = append(v.Anomalies, Anomaly{Class: class, Count: count, Witnesses: ws})
	slices.SortFunc(v.Anomalies, func(a, b Anomaly) int { return strings.Compare(a.Class, b.Class) })
	v.Valid = False
}

// Anomaly returns the entry of class, or nil.
func (v *Verdict) Anomaly(class string) *Anomaly {
	for i := range v.Anomalies {
		if v.Anomalies[i].Class == class {
			return &v.Anomalies[i]
		}
	}
	return nil
}

// String is the verdict as a console block: one line of outcome, then each anomaly with its
// first witness.
func (v *Verdict) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: valid=%s", v.Checker, v.Valid)
	if len(v.Checked) > 0 {
		keys := make([]string, 0, len(v.Checked))
		for k := range v.Checked {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteString(" (")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%d %s", v.Checked[k], k)
		}
		b.WriteString(")")
	}
	b.WriteByte('\n')
	if v.Models != nil {
		fmt.Fprintf(&b, "  consistent with: %s", orNone(v.Models.ConsistentWith))
		if len(v.Models.Not) > 0 {
			fmt.Fprintf(&b, "; not: %s", strings.Join(v.Models.Not, ", "))
		}
		b.WriteByte('\n')
	}
	for _, a := range v.Anomalies {
		fmt.Fprintf(&b, "  %s × %d\n", a.Class, a.Count)
		if len(a.Witnesses) > 0 {
			for _, line := range strings.Split(strings.TrimRight(a.Witnesses[0].Text, "\n"), "\n") {
				b.WriteString("    " + line + "\n")
			}
		}
	}
	for _, l := range v.Lost {
		b.WriteString("  lost: " + l.String() + "\n")
	}
	if v.Note != "" {
		b.WriteString("  note: " + v.Note + "\n")
	}
	if v.Explanation != "" {
		b.WriteString("  why: " + v.Explanation + "\n")
	}
	return b.String()
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none of the models checked"
	}
	return strings.Join(s, ", ")
}

// Summary is what a results point embeds: the verdicts under stable names.
type Summary struct {
	// OK is true only when every verdict is True.
	OK bool `json:"ok"`
	// Linearizable is the linearizability verdict, absent when the register workload did not
	// run: true, false, or "unknown" when the check hit its time bound.
	Linearizable *Valid `json:"linearizable,omitempty"`
	// LostAcknowledged lists every acknowledged write missing from a live node: null when the
	// check did not run, [] when it ran and found none.
	LostAcknowledged []LostWrite `json:"lost_acknowledged"`
	// Anomalies is the count of each anomaly class found, over all verdicts.
	Anomalies map[string]int `json:"anomalies"`
	// ConsistentWith and Not are the elle verdict's model boundary, when elle ran.
	ConsistentWith []string `json:"consistent_with,omitempty"`
	Not            []string `json:"not,omitempty"`
	// Expected is true when some verdict failed and every failed one is Expected: the run
	// found only what the protocol documents. Unexpected gathers the failed verdicts'
	// unexpected classes, "checker: class" each (a failed verdict nobody judged counts
	// whole).
	Expected   bool     `json:"expected,omitempty"`
	Unexpected []string `json:"unexpected,omitempty"`
	// Verdicts are the full verdicts, witnesses included.
	Verdicts []Verdict `json:"verdicts"`
}

// Summarize folds verdicts into the Summary a results point carries.
func Summarize(vs ...Verdict) Summary {
	s := Summary{OK: len(vs) > 0, Anomalies: map[string]int{}, Verdicts: vs}
	failed, expected := 0, 0
	for i := range vs {
		v := &vs[i]
		if v.Valid != True {
			s.OK = false
		}
		if v.Valid == False {
			failed++
			switch {
			case v.Expected:
				expected++
			case len(v.Unexpected) == 0:
				s.Unexpected = append(s.Unexpected, v.Checker+": all")
			}
			for _, u := range v.Unexpected {
				s.Unexpected = append(s.Unexpected, v.Checker+": "+u)
			}
		}
		for _, a := range v.Anomalies {
			s.Anomalies[a.Class] += a.Count
		}
		switch {
		case v.Checker == LinearizableName:
			val := v.Valid
			s.Linearizable = &val
		case v.Checker == LostName:
			if s.LostAcknowledged == nil {
				s.LostAcknowledged = []LostWrite{}
			}
			s.LostAcknowledged = append(s.LostAcknowledged, v.Lost...)
		case v.Models != nil:
			s.ConsistentWith = v.Models.ConsistentWith
			s.Not = v.Models.Not
		}
	}
	s.Expected = failed > 0 && failed == expected
	return s
}

// Stable checker names, used as keys by Summarize and in results JSON.
const (
	LostName         = "lost-acknowledged"
	LinearizableName = "linearizable"
	BankName         = "bank"
	ListAppendName   = "elle-list-append"
	RWRegisterName   = "elle-rw-register"
)
