package harness

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/results"
)

// checkedRun runs one point of protocol with a checker workload through Run (the path a
// user's run takes: history, checkers, verdicts, summary) and returns the point and its
// checkers' summary.
func checkedRun(t *testing.T, protocol, workload string, opts, params map[string]string, writers string, d time.Duration, faults ...string) (results.Point, checker.Summary) {
	t.Helper()
	var fs []FaultEvent
	for _, s := range faults {
		f, err := ParseFault(s)
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	s := &Scenario{Name: "mechanism", Protocol: protocol, Workload: WorkloadSpec{Name: workload, Options: opts}, Params: params,
		Writers: ParseWriters(writers), Threads: IntList{4}, Duration: Duration(d), Faults: fs, Seed: 1}
	out, _ := runSmall(t, s, BusConfig{Kind: "memory"})
	p := out.Run.Points[0]
	var sum checker.Summary
	if err := json.Unmarshal(p.Checkers, &sum); err != nil {
		t.Fatalf("checkers block: %v (%s)", err, p.Checkers)
	}
	return p, sum
}

func describe(p results.Point, s checker.Summary) string {
	var b strings.Builder
	for _, v := range p.Verdicts {
		b.WriteString("\n  " + v.Checker + " " + string(v.Outcome) + ": " + v.Detail)
	}
	b.WriteString("\n  faults: " + strings.Join(p.Faults, "; "))
	b.WriteString("\n  notes: " + strings.Join(p.Notes, "; "))
	return b.String()
}

// Each verdict is checked on a run built to produce it (or to be free of it), against what
// the protocol's mechanism says, not against a count seen once:
//   - healthy Galera, plain SELECT then UPDATE from every node: updates are lost (Galera
//     certifies write-sets only and takes the snapshot at commit), reported as lost-update
//     or as the overwritten appends missing (lost-acknowledged), with the mechanism in the
//     explanation; stale reads with wsrep_sync_wait=0;
//   - wsrep_sync_wait=1 removes the stale reads (a read waits for everything ordered before
//     it) but not the lost updates; SELECT ... FOR UPDATE before each append means no
//     append is ever overwritten (the applier brute-force aborts the lock holder,
//     certification catches the overlap). Elle may still name a lost-update there: a
//     transaction that read a key plainly and later appended to it through the locking
//     read read one version and wrote after another (InnoDB's REPEATABLE READ, reported
//     with "internal"), which is P4 by Adya's definition although no write is lost;
//   - the register under wsrep_sync_wait=1 is linearizable;
//   - Group Replication single-primary with locking reads overwrites no append: the one
//     writer's row locks serialise every read-modify-write (conflict detection is off in
//     single-primary mode, and nothing needs it);
//   - semi-sync's source cut off past rpl_semi_sync_master_timeout falls back to async;
//     crashed and replaced by a promoted replica, the commits it acknowledged alone are
//     reported lost, each with its GTID, missing on the replicas.
func TestVerdictsFollowTheMechanism(t *testing.T) {
	if testing.Short() {
		t.Skip("runs clusters for seconds each; the random nemesis test covers -short")
	}
	plain := map[string]string{"read": "plain"}
	locking := map[string]string{"read": "for-update"}
	has := func(s checker.Summary, class string) bool { return s.Anomalies[class] > 0 }

	t.Run("galera/plain/sync_wait=0", func(t *testing.T) {
		p, s := checkedRun(t, "galera", "list-append", plain, nil, "all", 2*time.Second)
		if !has(s, "lost-update") && len(s.LostAcknowledged) == 0 {
			t.Errorf("no lost update on plain read-modify-writes from every node:%s", describe(p, s))
		}
		if !has(s, "stale-read") {
			t.Errorf("no stale read with wsrep_sync_wait=0:%s", describe(p, s))
		}
		if !slices.ContainsFunc(s.Verdicts, func(v checker.Verdict) bool { return strings.Contains(v.Explanation, "certifies write-sets only") }) {
			t.Errorf("no explanation of the mechanism:%s", describe(p, s))
		}
		for _, l := range s.LostAcknowledged {
			if l.GTID == "" && l.Seqno == 0 {
				t.Fatalf("lost write without GTID or seqno: %s", l)
			}
		}
	})
	t.Run("galera/plain/sync_wait=1", func(t *testing.T) {
		p, s := checkedRun(t, "galera", "list-append", plain, map[string]string{"wsrep_sync_wait": "1"}, "all", 2*time.Second)
		if has(s, "stale-read") {
			t.Errorf("stale read under wsrep_sync_wait=1:%s", describe(p, s))
		}
		if !has(s, "lost-update") && len(s.LostAcknowledged) == 0 {
			t.Errorf("causal reads removed the lost updates too:%s", describe(p, s))
		}
	})
	t.Run("galera/for-update", func(t *testing.T) {
		p, s := checkedRun(t, "galera", "list-append", locking, nil, "all", 2*time.Second)
		if len(s.LostAcknowledged) != 0 || s.LostAcknowledged == nil {
			t.Errorf("an append overwritten (or no lost-acknowledged verdict) with SELECT ... FOR UPDATE:%s", describe(p, s))
		}
	})
	t.Run("galera/register/sync_wait=1", func(t *testing.T) {
		p, s := checkedRun(t, "galera", "register", nil, map[string]string{"wsrep_sync_wait": "1"}, "all", 2*time.Second)
		if s.Linearizable == nil || *s.Linearizable != checker.True {
			t.Errorf("the register under causal reads is not linearizable:%s", describe(p, s))
		}
	})
	t.Run("gr/single-primary/for-update", func(t *testing.T) {
		p, s := checkedRun(t, "group-replication", "list-append", locking, nil, "all", 2*time.Second)
		if s.LostAcknowledged == nil || len(s.LostAcknowledged) != 0 {
			t.Errorf("single primary with locking reads overwrote an append:%s", describe(p, s))
		}
	})
	t.Run("semisync/fallback-then-source-crash", func(t *testing.T) {
		p, s := checkedRun(t, "semisync", "list-append", locking, map[string]string{"rpl_semi_sync_master_timeout": "200"}, "n1", 3*time.Second,
			"500ms:partition=n1|n2,n3", "1500ms:crash=n1", "1700ms:promote=n2", "2s:heal")
		if len(s.LostAcknowledged) == 0 {
			t.Fatalf("no acknowledged commit lost after the fallback to async and the source's crash:%s", describe(p, s))
		}
		for _, l := range s.LostAcknowledged {
			if l.GTID == "" || l.Node != "n1" || !slices.Contains(l.MissingOn, "n2") || !slices.Contains(l.MissingOn, "n3") {
				t.Fatalf("lost write %s: want acknowledged by n1, with a GTID, missing on n2 and n3", l)
			}
		}
	})
}
