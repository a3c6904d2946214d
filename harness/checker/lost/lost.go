// Package lost checks that every write acknowledged to a client is on every live node at the
// end of a run, and names each one that is not, with its GTID or seqno and the nodes that
// lack it. It is the check behind "no acknowledged transaction is lost": a count of rows
// cannot make it, since one lost acknowledged insert and one unknown insert that did land
// cancel out.
//
// What is checked, per kind of write:
//   - append and add (list-append, set-add, inserts with unique ids): an ok write must be in
//     the key's list or set on every live node; a failed one (the client was told it rolled
//     back) must be on none (aborted-write-present); an info one may be present or not.
//   - w and cas (registers): overwrites leave no trace, so only the last write can be
//     checked: when one ok write to a key follows every other write to it in real time (each
//     other write is ok and completed before it was invoked), every live node must hold its
//     value; otherwise a node must at least hold some value once a write was acknowledged. A
//     node holding a value no write could have produced is reported too. Keys that transfers
//     touch (bank accounts) are left to the bank checker.
//
// Nodes are read directly (checker.NodeState), not through the protocol, so a node that is
// behind or refuses reads is still checked. The caller passes the live nodes, and, in
// Options.Down, the surviving storage of the nodes still down at the end (what a restart
// of each would recover). The rule:
//   - with a live node, a write is lost when a live node lacks it. A down node's storage
//     is not held to it (the node fetches what it lacks from the group when it rejoins):
//     how many acknowledged writes it lacks is reported in Checked, never as lost;
//   - with every node down, a write is lost when no node's surviving storage holds it
//     (nothing is left to bring it back); one some copy holds is not lost, since the group
//     can be bootstrapped from that copy.
//
// Reading the down nodes' storage is the choice that keeps the check meaningful after a
// coordinated crash the protocol could not recover from: the verdict then says what
// survived rather than "unknown".
package lost

import (
	"fmt"
	"slices"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/harness/history"
)

// Options bound a check.
type Options struct {
	// MaxWitnesses is how many instances of each class to describe (default 10; the Lost list
	// of the verdict always carries every lost write).
	MaxWitnesses int
	// Down is the surviving storage of each node still down at the end of the run (what a
	// restart would recover), judged as the package comment says.
	Down []checker.NodeState
}

// downKey is the Checked entry counting what the down nodes' storage lacks.
const downKey = "acknowledged writes a down node's surviving storage lacks (fetched on rejoin, not lost)"

// Check compares h with the final state of the live nodes.
func Check(h []history.Op, nodes []checker.NodeState, opts Options) (checker.Verdict, error) {
	if opts.MaxWitnesses <= 0 {
		opts.MaxWitnesses = 10
	}
	v := checker.Verdict{Checker: checker.LostName, Valid: checker.True, Checked: map[string]int{"nodes": len(nodes)}}
	anyCopy := false
	switch {
	case len(nodes) == 0 && len(opts.Down) == 0:
		v.Valid = checker.Unknown
		v.Note = "no node to check: none is live and no surviving storage was passed"
		return v, nil
	case len(nodes) == 0:
		// Every node is down: judge what survived, a write being lost when no copy has it.
		nodes, anyCopy = opts.Down, true
		v.Checked["down nodes read from their surviving storage"] = len(nodes)
		delete(v.Checked, "nodes")
		v.Note = "every node was down at the check: read from each node's surviving storage (what a restart recovers); a write is lost when no copy holds it"
	case len(opts.Down) > 0:
		dv, err := Check(h, opts.Down, Options{MaxWitnesses: 1})
		if err != nil {
			return v, err
		}
		v.Checked["down nodes read from their surviving storage"] = len(opts.Down)
		v.Checked[downKey] = len(dv.Lost)
	}
	c := &check{h: h, nodes: nodes, anyCopy: anyCopy, sets: make([]map[string]map[int64]bool, len(nodes)), max: opts.MaxWitnesses, v: &v}
	for i := range c.sets {
		c.sets[i] = map[string]map[int64]bool{}
	}
	if err := c.collections(); err != nil {
		return v, err
	}
	if err := c.registers(); err != nil {
		return v, err
	}
	v.Lost = c.lost
	v.Add("lost-acknowledged", len(c.lost), c.lostWs, opts.MaxWitnesses)
	v.Add("aborted-write-present", c.aborted.count, c.aborted.ws, opts.MaxWitnesses)
	v.Add("unexpected-value", c.garbage.count, c.garbage.ws, opts.MaxWitnesses)
	return v, nil
}

type tally struct {
	count int
	ws    []checker.Witness
}

type check struct {
	h     []history.Op
	nodes []checker.NodeState
	// anyCopy: the nodes are the surviving storage of a cluster entirely down, and a write
	// is lost only when every one of them lacks it.
	anyCopy bool
	sets    []map[string]map[int64]bool // per node, key -> elements present
	max     int
	v       *checker.Verdict
	lost    []checker.LostWrite
	lostWs  []checker.Witness

	aborted, garbage tally
}

func (t *tally) add(max int, text string, ops ...int) {
	t.count++
	if len(t.ws) < max {
		t.ws = append(t.ws, checker.Witness{Text: text, Ops: ops})
	}
}

func (c *check) elements(n int, key string) (map[int64]bool, error) {
	if s, ok := c.sets[n][key]; ok {
		return s, nil
	}
	l, err := c.nodes[n].Elements(key)
	if err != nil {
		return nil, fmt.Errorf("lost: reading %s on %s: %w", key, c.nodes[n].Node(), err)
	}
	s := make(map[int64]bool, len(l))
	for _, x := range l {
		s[x] = true
	}
	c.sets[n][key] = s
	return s, nil
}

func (c *check) reportLost(i int, m history.Mop, missing []string) {
	o := &c.h[i]
	l := checker.LostWrite{Op: i, Process: o.Process, Node: o.Node, Mop: m.String(), Key: m.Key, Value: m.Value,
		GTID: o.GTID, Seqno: o.Seqno, AckedNs: o.Complete, MissingOn: missing}
	c.lost = append(c.lost, l)
	if len(c.lostWs) < c.max {
		c.lostWs = append(c.lostWs, checker.Witness{Text: l.String() + "\n  " + o.String() + "\n", Ops: []int{i}})
	}
}

// collections checks appends and adds.
func (c *check) collections() error {
	acked := 0
	for i := range c.h {
		o := &c.h[i]
		if o.Outcome == history.Info {
			continue
		}
		for _, m := range o.Mops {
			if m.F != history.Append && m.F != history.Add {
				continue
			}
			var missing, present []string
			for n := range c.nodes {
				s, err := c.elements(n, m.Key)
				if err != nil {
					return err
				}
				if s[m.Value] {
					present = append(present, c.nodes[n].Node())
				} else {
					missing = append(missing, c.nodes[n].Node())
				}
			}
			if o.Outcome == history.OK {
				acked++
				if c.lostOn(missing) {
					c.reportLost(i, m, missing)
				}
			} else if len(present) > 0 {
				c.aborted.add(c.max, fmt.Sprintf("op %d's %s was reported rolled back (%q) but is on %v\n  %s\n",
					i, m.String(), o.Error, present, o.String()), i)
			}
		}
	}
	c.v.Checked["acknowledged appends"] = acked
	return nil
}

// registers checks the last write of each register key.
func (c *check) registers() error {
	byKey := map[string][]int{} // key -> ops that write it (w or cas), in history order
	var keys []string
	transferred := map[string]bool{} // bank accounts: transfers change them, the bank checker's job
	for i := range c.h {
		for _, m := range c.h[i].Mops {
			if m.F == history.Transfer {
				transferred[m.Key], transferred[m.To] = true, true
			}
		}
	}
	for i := range c.h {
		for _, m := range c.h[i].Mops {
			if transferred[m.Key] {
				continue
			}
			if m.F == history.Write || m.F == history.CAS {
				if len(byKey[m.Key]) == 0 {
					keys = append(keys, m.Key)
				}
				if !slices.Contains(byKey[m.Key], i) {
					byKey[m.Key] = append(byKey[m.Key], i)
				}
			}
		}
	}
	checked := 0
	for _, k := range keys {
		ops := byKey[k]
		possible := map[int64]bool{} // values a non-failed write may have left
		failedOnly := map[int64]int{}
		for _, i := range ops {
			for _, m := range c.h[i].Mops {
				if m.Key != k || m.F != history.Write && m.F != history.CAS {
					continue
				}
				if c.h[i].Outcome == history.Fail {
					failedOnly[m.Value] = i
				} else {
					possible[m.Value] = true
				}
			}
		}
		// The value every node must hold, if real time fixes it; else only that some value
		// is there when a write to the key was acknowledged.
		last, anyOK := c.lastWrite(k, ops)
		if last >= 0 {
			checked++
		}
		var missing []string
		for n := range c.nodes {
			got, ok, err := c.nodes[n].Value(k)
			if err != nil {
				return fmt.Errorf("lost: reading %s on %s: %w", k, c.nodes[n].Node(), err)
			}
			node := c.nodes[n].Node()
			switch {
			case last >= 0 && (!ok || got != c.finalMop(last, k).Value):
				missing = append(missing, node)
			case last < 0 && !ok && anyOK >= 0:
				missing = append(missing, node)
			}
			if ok && !possible[got] {
				if i, f := failedOnly[got]; f {
					c.aborted.add(c.max, fmt.Sprintf("%s holds %s = %d, written only by op %d, which was reported rolled back\n  %s\n", node, k, got, i, c.h[i].String()), i)
				} else {
					c.garbage.add(c.max, fmt.Sprintf("%s holds %s = %d, which no operation wrote\n", node, k, got))
				}
			}
		}
		if c.lostOn(missing) {
			i := last
			if i < 0 {
				i = anyOK // the key is gone although this write was acknowledged
			}
			c.reportLost(i, c.finalMop(i, k), missing)
		}
	}
	if checked > 0 || len(keys) > 0 {
		c.v.Checked["registers with a known last write"] = checked
	}
	return nil
}

// lostOn reports whether a write the nodes in missing lack is lost: when any live node
// lacks it, or, with every node down, when every surviving copy does.
func (c *check) lostOn(missing []string) bool {
	if c.anyCopy {
		return len(missing) == len(c.nodes)
	}
	return len(missing) > 0
}

// lastWrite returns the op whose write to k must be the final value, or -1: an ok op that
// every other non-failed write to k precedes in real time. anyOK is the last-invoked ok
// write, -1 if none.
func (c *check) lastWrite(k string, ops []int) (last, anyOK int) {
	cand := -1
	for _, i := range ops {
		if c.h[i].Outcome == history.OK && (cand < 0 || c.h[i].Invoke > c.h[cand].Invoke) {
			cand = i
		}
	}
	if cand < 0 {
		return -1, -1
	}
	for _, i := range ops {
		if i == cand || c.h[i].Outcome == history.Fail {
			continue
		}
		if c.h[i].Outcome == history.Info || c.h[i].Complete >= c.h[cand].Invoke {
			return -1, cand // may have landed after the candidate
		}
	}
	return cand, cand
}

func (c *check) finalMop(i int, k string) history.Mop {
	var last history.Mop
	for _, m := range c.h[i].Mops {
		if m.Key == k && (m.F == history.Write || m.F == history.CAS) {
			last = m
		}
	}
	return last
}
