package harness

import (
	"strings"
	"testing"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/protocols"
)

// TestJudgeExpected checks the line between an expected failure (every class found is one
// the protocol's documented guarantees allow under the point's settings and faults) and an
// unexpected one, per mechanism: InnoDB REPEATABLE READ on one node, plain read-modify-
// writes, stale reads, and acknowledged commits lost to a non-durable flush setting only
// when the crash took every copy.
func TestJudgeExpected(t *testing.T) {
	spec := func(proto string, nodes int, wl, read, flush string) *PointSpec {
		ps := &PointSpec{Protocol: proto, Nodes: nodes, Workload: WorkloadSpec{Name: wl, Options: map[string]string{}}}
		if read != "" {
			ps.Workload.Options["read"] = read
		}
		ps.Cluster = []NodeSpec{{Name: "n1", EngineParams: protocols.Params{"innodb_flush_log_at_trx_commit": flush}}}
		return ps
	}
	withParam := func(ps *PointSpec, k, v string) *PointSpec {
		ps.Given = map[string]map[string]string{}
		for _, m := range ps.Members() {
			ps.Given[m] = map[string]string{k: v}
		}
		return ps
	}
	an := func(class string, forms map[string]int) checker.Anomaly {
		n := 1
		if forms != nil {
			n = 0
			for _, c := range forms {
				n += c
			}
		}
		return checker.Anomaly{Class: class, Count: n, Forms: forms}
	}
	newer := map[string]int{checker.InternalNewerVersion: 2}
	cases := []struct {
		name       string
		ps         *PointSpec
		faults     []string
		anomalies  []checker.Anomaly
		unexpected string // "" when expected
		why        string // a phrase the explanation must hold
	}{
		{"standalone for-update: InnoDB RR", spec("standalone", 1, "list-append", "for-update", "1"), nil,
			[]checker.Anomaly{an("G-single", nil), an("G2-item-realtime", nil), an("lost-update", nil), an("internal", newer)}, "", "not snapshot isolation"},
		{"standalone for-update: own write missing", spec("standalone", 1, "list-append", "for-update", "1"), nil,
			[]checker.Anomaly{an("internal", map[string]int{checker.InternalNewerVersion: 1, checker.InternalOwnWriteMissing: 1})}, "internal", ""},
		{"standalone: a stale read on one node", spec("standalone", 1, "list-append", "for-update", "1"), nil,
			[]checker.Anomaly{an("stale-read", nil)}, "stale-read", ""},
		{"standalone: G1c never", spec("standalone", 1, "list-append", "plain", "1"), nil,
			[]checker.Anomaly{an("G1c", nil), an("lost-update", nil)}, "G1c", ""},
		{"standalone plain: overwritten appends", spec("standalone", 1, "list-append", "", "1"), nil,
			[]checker.Anomaly{an("lost-acknowledged", nil), an("incompatible-order", nil), an("G2-item", nil)}, "", "snapshot"},
		{"galera: stale reads at sync_wait=0", spec("galera", 3, "register", "", "1"), nil,
			[]checker.Anomaly{an("nonlinearizable", nil)}, "", "wsrep_sync_wait=0"},
		{"galera for-update: a lost commit at flush=1", spec("galera", 3, "list-append", "for-update", "1"), []string{"1.500s crash all", "2.000s restart all"},
			[]checker.Anomaly{an("lost-acknowledged", nil)}, "lost-acknowledged", ""},
		{"galera: flush=2, every node crashed", spec("galera", 3, "insert", "", "2"), []string{"1.500s crash all", "2.000s restart all"},
			[]checker.Anomaly{an("lost-acknowledged", nil)}, "", "everywhere at once"},
		{"galera: flush=2, one node crashed", spec("galera", 3, "insert", "", "2"), []string{"1.000s crash n1", "2.000s restart n1"},
			[]checker.Anomaly{an("lost-acknowledged", nil)}, "lost-acknowledged", ""},
		{"galera: flush=2, a kill keeps the page cache", spec("galera", 3, "insert", "", "2"), []string{"1.000s kill all"},
			[]checker.Anomaly{an("lost-acknowledged", nil)}, "lost-acknowledged", ""},
		{"async: flush=2, source crashed", spec("async", 3, "register", "", "2"), []string{"1.000s crash n1", "2.000s restart n1"},
			[]checker.Anomaly{an("lost-acknowledged", nil), an("nonlinearizable", nil)}, "", "source n1 crashed"},
		{"async: restart at flush=1 loses nothing", spec("async", 3, "register", "", "1"), []string{"1.000s crash n1", "2.000s restart n1"},
			[]checker.Anomaly{an("lost-acknowledged", nil)}, "lost-acknowledged", ""},
		{"async: failover", spec("async", 3, "register", "", "1"), []string{"1.000s crash n1", "1.200s promote n2"},
			[]checker.Anomaly{an("lost-acknowledged", nil)}, "", "failover"},
		{"semisync: fallback then failover", withParam(spec("semisync", 3, "register", "", "1"), "rpl_semi_sync_master_timeout", "200"),
			[]string{"0.500s partition n1|n2,n3", "1.200s crash n1", "1.400s promote n2", "1.600s heal"},
			[]checker.Anomaly{an("lost-acknowledged", nil)}, "", "fell back to asynchronous"},
		{"semisync: failover within the timeout", withParam(spec("semisync", 3, "register", "", "1"), "rpl_semi_sync_master_timeout", "2000"),
			[]string{"0.500s partition n1|n2,n3", "1.200s crash n1", "1.400s promote n2", "1.600s heal"},
			[]checker.Anomaly{an("lost-acknowledged", nil)}, "lost-acknowledged", ""},
		{"semisync: healed before the crash", withParam(spec("semisync", 3, "register", "", "1"), "rpl_semi_sync_master_timeout", "200"),
			[]string{"0.500s partition n1|n2,n3", "1.000s heal", "1.200s crash n1", "1.400s promote n2"},
			[]checker.Anomaly{an("lost-acknowledged", nil)}, "lost-acknowledged", ""},
		{"bank: a wrong total under locking reads", spec("galera", 3, "bank", "", "1"), nil,
			[]checker.Anomaly{an("wrong-total", nil)}, "wrong-total", ""},
	}
	for _, c := range cases {
		v := checker.Verdict{Checker: "x", Valid: checker.False, Anomalies: c.anomalies}
		judgeExpected(c.ps, c.faults, &v)
		got := strings.Join(v.Unexpected, ",")
		switch {
		case c.unexpected == "" && !v.Expected:
			t.Errorf("%s: unexpected %q, want expected", c.name, got)
		case c.unexpected != "" && (v.Expected || !strings.HasPrefix(got, c.unexpected)):
			t.Errorf("%s: expected=%v unexpected %q, want unexpected %s", c.name, v.Expected, got, c.unexpected)
		case c.why != "" && !strings.Contains(v.Explanation, c.why):
			t.Errorf("%s: explanation %q lacks %q", c.name, v.Explanation, c.why)
		}
		line := expectationText(c.ps.Protocol, &v)
		if want := map[bool]string{true: "expected for ", false: "UNEXPECTED for "}[v.Expected]; !strings.HasPrefix(line, want) {
			t.Errorf("%s: detail %q, want it to start %q", c.name, line, want)
		}
	}
	s := checker.Summarize(checker.Verdict{Checker: "a", Valid: checker.False, Expected: true, Anomalies: []checker.Anomaly{an("G2-item", nil)}},
		checker.Verdict{Checker: "b", Valid: checker.False, Anomalies: []checker.Anomaly{an("G1c", nil)}})
	if s.Expected || len(s.Unexpected) != 1 || s.Unexpected[0] != "b: all" {
		t.Errorf("summary expected=%v unexpected=%v, want false and [b: all]", s.Expected, s.Unexpected)
	}
}
