package harness

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/harness/history"
	"github.com/replbench/replbench/workloads"
)

// This file gathers the operation histories of node processes, for the history checkers
// (verdicts.go): each node's clients record into that node's own recorder, whose times
// run from when the node created its workload; the coordinator shifts every node's times
// onto the earliest of those origins (wall clock, so on several machines the merged
// history is as exact as their clocks agree), merges the operations in invocation order
// and reads every node's final state for the keys the history names, then runs the same
// checkers as in one process.
//
// A node process killed in a phase takes its recorder with it, so node faults on a
// workload with a history are refused for node processes (CheckExternal).

// historyPage is one page of a node's history: its operations and the wall-clock time
// its recorder counts from.
type historyPage struct {
	Origin int64        `json:"origin"` // UnixNano
	Ops    []history.Op `json:"ops"`
	Next   int          `json:"next"` // -1 at the end
}

// stateRequest asks a node for its final state under keys.
type stateRequest struct {
	Keys []string `json:"keys"`
}

// historyPageOps bounds the operations of one page, under NATS's 1 MiB message.
const historyPageOps = 2000

// historyPage returns the operations of this node's history from from (op "history").
// The history is taken once, on the first page, so every page is of the same history.
func (pt *nodePoint) historyPage(from int) (historyPage, error) {
	hw, ok := pt.workload.(workloads.Historian)
	if !ok {
		return historyPage{}, fmt.Errorf("workload %s records no history", pt.workload.Name())
	}
	if from == 0 || pt.hist == nil {
		pt.hist = hw.History()
	}
	from = min(max(from, 0), len(pt.hist))
	to := min(from+historyPageOps, len(pt.hist))
	next := to
	if to == len(pt.hist) {
		next = -1
	}
	return historyPage{Origin: pt.origin.UnixNano(), Ops: pt.hist[from:to], Next: next}, nil
}

// state reads this node's final state under keys, from its engine directly (op "state").
func (pt *nodePoint) state(keys []string) (*checker.MapState, error) {
	hw, ok := pt.workload.(workloads.Historian)
	if !ok {
		return nil, fmt.Errorf("workload %s records no history", pt.workload.Name())
	}
	ctx, cancel := context.WithTimeout(context.Background(), ConvergeTimeout)
	defer cancel()
	s, err := hw.State(ctx, namedDB{workloads.OnEngineLocal(pt.engine), pt.name})
	if err != nil {
		return nil, err
	}
	out := &checker.MapState{Name: pt.name, Lists: map[string][]int64{}, Regs: map[string]int64{}}
	for _, k := range keys {
		l, err := s.Elements(k)
		if err != nil {
			return nil, err
		}
		if len(l) > 0 {
			out.Lists[k] = l
		}
		v, ok, err := s.Value(k)
		if err != nil {
			return nil, err
		}
		if ok {
			out.Regs[k] = v
		}
	}
	return out, nil
}

// gatherHistory takes every member's history, merges it onto one clock and reads every
// member's final state.
func gatherHistory(ctx context.Context, x *ExternalNodes, members []string, w workloads.Workload) ([]history.Op, []checker.NodeState, error) {
	type part struct {
		origin int64
		ops    []history.Op
	}
	parts := make([]part, len(members))
	for i, m := range members {
		for from := 0; from >= 0; {
			var pg historyPage
			if err := x.co.Call(ctx, m, "history", from, &pg, time.Minute); err != nil {
				return nil, nil, err
			}
			parts[i].origin = pg.Origin
			parts[i].ops = append(parts[i].ops, pg.Ops...)
			from = pg.Next
		}
	}
	origin := int64(0)
	for i, pt := range parts {
		if i == 0 || pt.origin < origin {
			origin = pt.origin
		}
	}
	var h []history.Op
	keys := map[string]bool{}
	for _, pt := range parts {
		shift := pt.origin - origin
		for _, o := range pt.ops {
			o.Invoke += shift
			o.Complete += shift
			h = append(h, o)
			for _, m := range o.Mops {
				keys[m.Key] = true
				if m.To != "" {
					keys[m.To] = true
				}
			}
		}
	}
	history.Order(h)
	if b, ok := w.(workloads.Banker); ok {
		accounts, _ := b.Accounts()
		for _, k := range accounts {
			keys[k] = true
		}
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	states := make([]*checker.MapState, len(members))
	if err := x.co.CallAll(ctx, members, "state", func(int) any { return stateRequest{Keys: names} }, func(i int) any { return &states[i] }, time.Minute); err != nil {
		return nil, nil, err
	}
	live := make([]checker.NodeState, len(states))
	for i, s := range states {
		if s == nil {
			return nil, nil, fmt.Errorf("%s returned no state", members[i])
		}
		live[i] = s
	}
	return h, live, nil
}
