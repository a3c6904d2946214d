package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/replbench/replbench/results"
	"github.com/replbench/replbench/workloads"
)

// This file is the workloads' own end-of-run checks (Workload.Check: insert's rows against
// its committed inserts, hotspot's counter sum, sysbench's row count and index, TPC-C's
// consistency conditions) on node processes. The clients' counters (workloads.Tallier) are
// in the processes that ran them, and each node's data is in its own process, so the check
// runs in two rounds over NATS: every node hands the coordinator its counters, the
// coordinator sums them by name, and every node runs Check on its own data (read locally,
// past the protocol's gates, as in one process) against the sum; a check passes when it
// passes on every node, as Check over every node's DB does in one process.
//
// A killed node process takes its counters with it (they are in memory and not journaled):
// after a kill the sum would undercount the work, and a check that compares data with it
// would fail for the harness's reason, not the protocol's. Such a point records no checks
// and says why in its notes (the acknowledged-write check, which journals every commit,
// still runs).

// checkRequest is the coordinator's second round: the counters summed over every node.
type checkRequest struct {
	Tallies map[string]int64 `json:"tallies,omitempty"`
}

// tallies answers the first round: this node's workload counters (nil for a workload
// without any).
func (pt *nodePoint) tallies() map[string]int64 {
	if t, ok := pt.workload.(workloads.Tallier); ok {
		return t.Tallies()
	}
	return nil
}

// check answers the second round: the workload's Check on this node's data, its counters
// replaced by the cluster's.
func (pt *nodePoint) check(rq checkRequest) (map[string]bool, error) {
	if t, ok := pt.workload.(workloads.Tallier); ok {
		t.SetTallies(rq.Tallies)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ConvergeTimeout)
	defer cancel()
	return pt.workload.Check(ctx, []workloads.DB{namedDB{workloads.OnEngineLocal(pt.engine), pt.name}})
}

// checkExternalWorkload runs the workload's end-of-run checks over the node processes and
// records them in p.Checks (a note instead when they cannot be judged).
func checkExternalWorkload(ctx context.Context, x *ExternalNodes, members []string, killed []string, p *results.Point) {
	if len(killed) > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("workload end-of-run checks not run: the process of %s was killed or stopped in the point, and its clients' counters (commits, commits in doubt) went with it", strings.Join(killed, ", ")))
		return
	}
	parts := make([]map[string]int64, len(members))
	if err := x.co.CallAll(ctx, members, "tally", nil, func(i int) any { return &parts[i] }, time.Minute); err != nil {
		p.Notes = append(p.Notes, "workload check failed to run: "+err.Error())
		return
	}
	sum := map[string]int64{}
	for _, m := range parts {
		for k, v := range m {
			sum[k] += v
		}
	}
	results := make([]map[string]bool, len(members))
	if err := x.co.CallAll(ctx, members, "check", func(int) any { return checkRequest{Tallies: sum} }, func(i int) any { return &results[i] }, ConvergeTimeout+time.Minute); err != nil {
		p.Notes = append(p.Notes, "workload check failed to run: "+err.Error())
		return
	}
	checks := map[string]bool{}
	for _, r := range results {
		for _, name := range slices.Sorted(maps.Keys(r)) {
			prev, seen := checks[name]
			checks[name] = r[name] && (prev || !seen)
		}
	}
	if len(checks) > 0 {
		p.Checks = checks
	}
}

// handleChecks answers the two rounds of checkExternalWorkload; ok is false for any other
// request.
func (pt *nodePoint) handleChecks(op string, body json.RawMessage) (reply any, ok bool, err error) {
	switch op {
	case "tally":
		return pt.tallies(), true, nil
	case "check":
		var rq checkRequest
		if err := json.Unmarshal(body, &rq); err != nil {
			return nil, true, err
		}
		r, err := pt.check(rq)
		return r, true, err
	}
	return nil, false, nil
}
