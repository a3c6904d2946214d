package storage

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestBFRules drives the brute-force decision (lockManager.resolveBF) step by step, with no
// goroutines: testdata/bf_rules lists, keyed to the rules of galera.md 1.5, what an applier
// with seqno S does to the holder of a row lock it needs.
//
//	holder kind=local|applier state=executing|replicating|ordered|committing [seqno=N] [waiting]
//	applier seqno=S      queue a BF applier on the held lock and apply the rules
//	local                queue a local transaction (it never preempts)
//	ordered seqno=N      the holder is ordered now (after replicating)
//
// Each command prints the lock's holder and queue and the holder's fate.
func TestBFRules(t *testing.T) {
	datadriven.RunTest(t, "testdata/bf_rules", func(t *testing.T, d *datadriven.TestData) string {
		return bfStep(t, d)
	})
}

type bfMachine struct {
	lm      *lockManager
	l       *lockEntry
	holder  *owner
	other   *lockEntry // a second lock the holder waits on when "waiting"
	names   map[*owner]string
	n       int
	cancels int
}

var bfState bfMachine

func bfStep(t *testing.T, d *datadriven.TestData) string {
	s := &bfState
	arg := func(k string) string {
		for _, a := range d.CmdArgs {
			if a.Key == k {
				if len(a.Vals) == 0 {
					return "true"
				}
				return a.Vals[0]
			}
		}
		return ""
	}
	var seq int64
	if v := arg("seqno"); v != "" {
		fmt.Sscan(v, &seq)
	}
	switch d.Cmd {
	case "holder":
		s.lm = &lockManager{}
		s.lm.init(&statCounters{})
		s.names = map[*owner]string{}
		s.n, s.cancels, s.other = 0, 0, nil
		h := &owner{}
		h.init(arg("kind") == "applier", seq)
		h.state = map[string]ownerState{"executing": stExecuting, "replicating": stReplicating, "ordered": stOrdered, "committing": stCommitting}[arg("state")]
		if h.state == stReplicating {
			h.cancel = func(error) { s.cancels++ }
		}
		s.names[h] = "holder"
		s.holder = h
		s.l = &lockEntry{key: "row", holder: h}
		s.lm.locks["row"] = s.l
		h.held = append(h.held, s.l)
		if arg("waiting") != "" {
			other := &owner{}
			other.init(false, 0)
			s.names[other] = "other"
			s.other = &lockEntry{key: "other", holder: other}
			s.lm.locks["other"] = s.other
			s.lm.enqueue(s.other, h)
		}
	case "applier", "local":
		o := &owner{}
		o.init(d.Cmd == "applier", seq)
		s.n++
		s.names[o] = fmt.Sprintf("%s%d", d.Cmd, s.n)
		if d.Cmd == "applier" {
			s.names[o] = fmt.Sprintf("applier(%d)", seq)
		}
		s.lm.enqueue(s.l, o)
		if o.bf {
			s.lm.resolveBF(s.l)
		}
	case "ordered":
		s.lm.ordered(s.holder, seq)
	case "release":
		s.lm.release(s.holder)
	default:
		d.Fatalf(t, "unknown command %s", d.Cmd)
	}
	return s.describe()
}

func (s *bfMachine) describe() string {
	var b strings.Builder
	name := func(o *owner) string {
		if o == nil {
			return "none"
		}
		return s.names[o]
	}
	fmt.Fprintf(&b, "lock: holder=%s queue=[", name(s.l.holder))
	for i, w := range s.l.waiters {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(name(w))
	}
	b.WriteString("]\n")
	h := s.holder
	var fate []string
	if h.aborted.Load() {
		fate = append(fate, "bf-aborted")
	}
	if s.cancels > 0 {
		fate = append(fate, fmt.Sprintf("replicate-cancelled(%d)", s.cancels))
	}
	if h.mustReplay {
		fate = append(fate, "must-replay")
	}
	if len(h.held) == 0 {
		fate = append(fate, "holds-nothing")
	}
	if s.other != nil && h.waitingOn == nil && len(s.other.waiters) == 0 {
		fate = append(fate, "left-its-lock-wait")
	}
	if len(fate) == 0 {
		fate = append(fate, "untouched")
	}
	fmt.Fprintf(&b, "holder: %s\n", strings.Join(fate, " "))
	return b.String()
}

// replbench.apply_delay is spent in every remote write-set's commit, holding its locks.
func TestApplyDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := Open(Options{Node: "n3", ApplyDelay: 2 * time.Millisecond})
		must(t, err)
		defer e.Close()
		mustTable(t, e, counters)
		start := time.Now()
		for i := range 10 {
			applyWS(t, e, int64(i+1), rowInsert(t, "counters", Row{int64(i), int64(0)}))
		}
		if d := time.Since(start); d != 20*time.Millisecond {
			t.Fatalf("10 applies took %v, want 10 x 2ms", d)
		}
		// Local commits do not pay it.
		start = time.Now()
		must(t, exec(t, e, func(tx *Txn) error { return tx.Update(bg, "counters", Row{1, 1}) }))
		if d := time.Since(start); d != 0 {
			t.Fatalf("local commit took %v", d)
		}
	})
}
