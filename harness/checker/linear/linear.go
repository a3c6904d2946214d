// Package linear checks that a register history is linearizable, with porcupine
// (github.com/anishathalye/porcupine): each key is a register with read, write and
// compare-and-set, and the history is linearizable if every key's operations can be put in
// one order that respects real time (an operation that completed before another was invoked
// comes first) and in which every read returns the latest write.
//
// Outcomes are handled as porcupine expects of an unknown: a failed operation did not happen
// and is left out; an info write or cas may take effect at any time after its invocation, or
// never, so it is given a completion after the end of the history (where taking effect is
// invisible); an info read returned nothing anyone saw and is left out. The search is
// exponential in the worst case, so it runs under a time bound and says "unknown" when it
// hits it, never "linearizable".
package linear

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/harness/history"
)

// FileName is the visualisation's name in the run directory.
const FileName = "linearizability.html"

// Options bound a check.
type Options struct {
	// Timeout bounds the search (default 10s); past it the verdict is unknown.
	Timeout time.Duration
	// Dir, when set, receives porcupine's visualisation as FileName.
	Dir string
	// MaxWitnesses is how many non-linearizable keys to describe (default 3).
	MaxWitnesses int
}

type input struct {
	f    history.MopF
	key  string
	v    int64 // value written, cas new value
	from int64 // cas expected value
}

type output struct {
	known bool // false for info writes and cas: the client never learned the outcome
	isNil bool // read of a never-written register
	v     int64
}

// reg is a register's state: a comparable value, as porcupine's default equality needs.
type reg struct {
	set bool
	v   int64
}

func (r reg) String() string {
	if !r.set {
		return "nil"
	}
	return fmt.Sprint(r.v)
}

type meta struct {
	op   int
	node string
}

var model = porcupine.Model{
	Partition: func(ops []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, o := range ops {
			k := o.Input.(input).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], o)
		}
		slices.Sort(keys)
		out := make([][]porcupine.Operation, len(keys))
		for i, k := range keys {
			out[i] = byKey[k]
		}
		return out
	},
	Init: func() any { return reg{} },
	Step: func(state, in, out any) (bool, any) {
		s, i, o := state.(reg), in.(input), out.(output)
		switch i.f {
		case history.Read:
			if o.isNil {
				return !s.set, s
			}
			return s.set && s.v == o.v, s
		case history.Write:
			return true, reg{set: true, v: i.v}
		case history.CAS:
			match := s.set && s.v == i.from
			if o.known { // an ok cas swapped, so the register held from
				return match, reg{set: true, v: i.v}
			}
			if match { // an unknown cas: it swaps if it takes effect here, else it is a no-op
				return true, reg{set: true, v: i.v}
			}
			return true, s
		}
		return false, s
	},
	DescribeOperation: func(in, out any) string {
		i, o := in.(input), out.(output)
		switch i.f {
		case history.Read:
			if o.isNil {
				return fmt.Sprintf("r %s → nil", i.key)
			}
			return fmt.Sprintf("r %s → %d", i.key, o.v)
		case history.Write:
			return fmt.Sprintf("w %s %d%s", i.key, i.v, unknownMark(o))
		}
		return fmt.Sprintf("cas %s %d→%d%s", i.key, i.from, i.v, unknownMark(o))
	},
	DescribeState: func(s any) string { return s.(reg).String() },
	DescribeOperationMetadata: func(m any) string {
		if m == nil {
			return ""
		}
		x := m.(meta)
		return fmt.Sprintf("op %d on %s", x.op, x.node)
	},
}

func unknownMark(o output) string {
	if o.known {
		return ""
	}
	return " (unknown)"
}

// Check checks h, a history of single-key reads, writes and cas, one per operation. It
// returns an error, and no verdict, for a history of another form or an unwritable Dir.
func Check(h []history.Op, opts Options) (checker.Verdict, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MaxWitnesses <= 0 {
		opts.MaxWitnesses = 3
	}
	v := checker.Verdict{Checker: checker.LinearizableName, Checked: map[string]int{}}
	ops, err := operations(h)
	if err != nil {
		return v, err
	}
	keys := map[string]bool{}
	for _, o := range ops {
		keys[o.Input.(input).key] = true
	}
	v.Checked["operations"], v.Checked["keys"] = len(ops), len(keys)

	res, info := porcupine.CheckOperationsVerbose(model, ops, opts.Timeout)
	if opts.Dir != "" {
		var buf bytes.Buffer
		if err := porcupine.Visualize(model, info, &buf); err != nil {
			return v, fmt.Errorf("linear: drawing the visualisation: %w", err)
		}
		if err := checker.WriteFileAtomic(filepath.Join(opts.Dir, FileName), buf.Bytes()); err != nil {
			return v, err
		}
		v.Files = append(v.Files, FileName)
	}
	switch res {
	case porcupine.Ok:
		v.Valid = checker.True
	case porcupine.Unknown:
		v.Valid = checker.Unknown
		v.Note = fmt.Sprintf("the search did not finish within %s: linearizability unknown", opts.Timeout)
	case porcupine.Illegal:
		ws := witnesses(info, h, opts.MaxWitnesses)
		if len(ws) == 0 { // porcupine found no linearization but every key's prefix was complete
			ws = []checker.Witness{{Text: "porcupine found no linearization of the history"}}
		}
		v.Add("nonlinearizable", len(ws), ws, opts.MaxWitnesses)
	}
	return v, nil
}

// operations turns the history into porcupine's form; each operation's Metadata names its
// history index.
func operations(h []history.Op) ([]porcupine.Operation, error) {
	end := int64(0)
	for i := range h {
		end = max(end, h[i].Complete)
	}
	clients := map[int]int{}
	var ops []porcupine.Operation
	for i := range h {
		o := &h[i]
		if len(o.Mops) != 1 {
			return nil, fmt.Errorf("linear: op %d has %d micro-operations; the register workload has one per operation", i, len(o.Mops))
		}
		m := o.Mops[0]
		in := input{f: m.F, key: m.Key, v: m.Value, from: m.From}
		out := output{known: o.Outcome == history.OK}
		switch m.F {
		case history.Read:
			if o.Outcome != history.OK {
				continue // nobody saw what it read
			}
			switch m.Result {
			case history.ValueResult:
				out.v = m.Value
			case history.Nil:
				out.isNil = true
			default:
				return nil, fmt.Errorf("linear: op %d reads %s without a register value", i, m.Key)
			}
		case history.Write, history.CAS:
		default:
			return nil, fmt.Errorf("linear: op %d has %s; registers take r, w and cas", i, m.F)
		}
		if o.Outcome == history.Fail {
			continue // it did not happen
		}
		ret := o.Complete
		if o.Outcome == history.Info {
			ret = end + 1 // it may take effect at any time after its invocation, or never
		}
		c, ok := clients[o.Process]
		if !ok {
			c = len(clients)
			clients[o.Process] = c
		}
		ops = append(ops, porcupine.Operation{ClientId: c, Input: in, Call: o.Invoke, Output: out, Return: ret,
			Metadata: meta{op: i, node: o.Node}})
	}
	return ops, nil
}

// witnesses describes each key porcupine could not linearize: the longest order it found,
// and the operations it could not place after it. Partitions are the keys in sorted order
// (see model.Partition).
func witnesses(info porcupine.LinearizationInfo, h []history.Op, max int) []checker.Witness {
	total := map[string]int{}
	for i := range h {
		if counted(&h[i]) {
			total[h[i].Mops[0].Key]++
		}
	}
	keys := make([]string, 0, len(total))
	for k := range total {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var ws []checker.Witness
	for p, lins := range info.PartialLinearizationsOperations() {
		key := keys[p]
		var longest []porcupine.Operation
		for _, l := range lins {
			if len(l) > len(longest) {
				longest = l
			}
		}
		if len(longest) == total[key] {
			continue // this key linearized
		}
		placed := map[int]bool{}
		var order []string
		for _, o := range longest {
			placed[o.Metadata.(meta).op] = true
			order = append(order, model.DescribeOperation(o.Input, o.Output))
		}
		var stuck []int
		for i := range h {
			if counted(&h[i]) && h[i].Mops[0].Key == key && !placed[i] {
				stuck = append(stuck, i)
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "key %s: no order of its %d operations respects both real time and register semantics; the longest linearizable prefix places %d: %s\n",
			key, total[key], len(longest), tail(order, 8))
		b.WriteString("operations that cannot be placed after it:\n")
		for j, i := range stuck {
			if j == 5 {
				fmt.Fprintf(&b, "  ... and %d more\n", len(stuck)-5)
				break
			}
			b.WriteString("  " + h[i].String() + "\n")
		}
		ws = append(ws, checker.Witness{Text: b.String(), Ops: stuck[:min(len(stuck), 5)]})
		if len(ws) == max {
			break
		}
	}
	return ws
}

// counted reports whether the check includes o: ok operations, and info writes and cas.
func counted(o *history.Op) bool {
	return len(o.Mops) == 1 && (o.Outcome == history.OK || o.Outcome == history.Info && o.Mops[0].F != history.Read)
}

func tail(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, ", ")
	}
	return "… " + strings.Join(xs[len(xs)-n:], ", ")
}
