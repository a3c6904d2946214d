package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/harness/history"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/results"
	_ "github.com/replbench/replbench/workloads/jepsen"
)

// End to end, every protocol with each checker workload and one client on n1 (a serial
// history, reads on the node that wrote): every verdict passes, the point's JSON carries the
// checkers' summary under its stable names, and the run directory holds the history.
func TestCheckerWorkloadsSerialPass(t *testing.T) {
	for _, proto := range protocols.Names() {
		for _, wl := range []string{"list-append", "rw-register", "register", "bank"} {
			t.Run(proto+"/"+wl, func(t *testing.T) {
				s := &Scenario{Name: "e2e", Protocol: proto, Workload: WorkloadSpec{Name: wl}, Threads: IntList{1}, Queries: 80, Seed: 3}
				out, _ := runSmall(t, s, BusConfig{Kind: "memory"})
				p := out.Run.Points[0]
				if len(p.Verdicts) == 0 {
					t.Fatal("no verdicts")
				}
				for _, v := range p.Verdicts {
					if v.Outcome != results.VerdictPass {
						t.Errorf("%s: %s %s %v", v.Checker, v.Outcome, v.Detail, v.Evidence)
					}
				}
				var sum map[string]any
				if err := json.Unmarshal(p.Checkers, &sum); err != nil {
					t.Fatalf("checkers block: %v (%s)", err, p.Checkers)
				}
				if sum["ok"] != true {
					t.Errorf("checkers ok = %v", sum["ok"])
				}
				if wl != "bank" {
					if l, ok := sum["lost_acknowledged"].([]any); !ok || len(l) != 0 {
						t.Errorf("lost_acknowledged = %v, want []", sum["lost_acknowledged"])
					}
				}
				if wl == "register" && sum["linearizable"] != true {
					t.Errorf("linearizable = %v", sum["linearizable"])
				}
				h, err := history.ReadFile(filepath.Join(out.Dir, p.HistoryFile))
				if err != nil || len(h) != 80 {
					t.Errorf("history: %d ops, %v", len(h), err)
				}
				// Every acknowledged write carries the commit's id, so a lost one can be
				// named by it (the wrappers between client and engine must let it through).
				for _, o := range h {
					writes := slices.ContainsFunc(o.Mops, func(m history.Mop) bool { return m.F != history.Read })
					if o.Outcome == history.OK && writes && o.GTID == "" && o.Seqno == 0 {
						t.Fatalf("acknowledged write without GTID or seqno: %s", o.String())
					}
				}
				if wl == "register" {
					if _, err := os.Stat(filepath.Join(out.Dir, "linearizability.html")); err != nil {
						t.Errorf("no porcupine visualisation: %v", err)
					}
				}
			})
		}
	}
}

// Every other workload gets the lost-acknowledged check per row and commit.
func TestInsertCarriesLostAcknowledged(t *testing.T) {
	s := &Scenario{Name: "e2e", Protocol: "galera", Workload: WorkloadSpec{Name: "insert"}, Threads: IntList{2}, Queries: 60, Seed: 3}
	out, _ := runSmall(t, s, BusConfig{Kind: "memory"})
	p := out.Run.Points[0]
	if len(p.Verdicts) != 1 || p.Verdicts[0].Checker != "lost-acknowledged" || p.Verdicts[0].Outcome != results.VerdictPass {
		t.Fatalf("verdicts %+v; want one passing lost-acknowledged", p.Verdicts)
	}
}

// A register point's linearizable verdict names porcupine's visualisation once, relative
// to the run directory: the checker names it relative to the point's directory, and the
// harness must replace that name, not add a second one (it was listed twice).
func TestLinearizableFileNamedOnce(t *testing.T) {
	for _, threads := range []IntList{{2}, {1, 2}} {
		s := &Scenario{Name: "e2e", Protocol: "semisync", Workload: WorkloadSpec{Name: "register"}, Threads: threads, Queries: 60, Seed: 3}
		out, _ := runSmall(t, s, BusConfig{Kind: "memory"})
		for i, p := range out.Run.Points {
			var sum checker.Summary
			if err := json.Unmarshal(p.Checkers, &sum); err != nil {
				t.Fatal(err)
			}
			want := "linearizability.html"
			if len(threads) > 1 {
				want = filepath.Join(fmt.Sprintf("p%d", i+1), want)
			}
			for _, v := range sum.Verdicts {
				if v.Checker == checker.LinearizableName && !slices.Equal(v.Files, []string{want}) {
					t.Errorf("%d points, point %d: files %q, want [%s]", len(threads), i+1, v.Files, want)
				}
			}
			if _, err := os.Stat(filepath.Join(out.Dir, want)); err != nil {
				t.Errorf("point %d: %v", i+1, err)
			}
		}
	}
}
