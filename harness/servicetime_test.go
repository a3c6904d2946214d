package harness

import (
	"strings"
	"testing"

	"github.com/replbench/replbench/internal/precise"
	"github.com/replbench/replbench/results"
)

// A plain galera point runs the flavour's built-in profile with the engine's flush setting;
// --cost-profile none gives no cost nodes; a per-node setting reaches only that node; an
// unknown profile is refused at resolution; the result names what ran.
func TestCostNodesFollowTheResolvedProfile(t *testing.T) {
	resolve := func(given map[string]map[string]string) *PointSpec {
		t.Helper()
		ps := &PointSpec{Protocol: "galera", Nodes: 3, Given: given}
		if err := ResolvePoint(ps); err != nil {
			t.Fatal(err)
		}
		return ps
	}
	ps := resolve(map[string]map[string]string{"n2": {"innodb_flush_log_at_trx_commit": "2"}, "n3": {"replbench.cost_profile": "none"}})
	nodes, err := costNodes(ps, precise.Virtual{})
	if err != nil {
		t.Fatal(err)
	}
	if nodes[0] == nil || nodes[0].P.Name != "galera-4-mariadb-10.11" || nodes[0].FlushAtCommit != 1 {
		t.Fatalf("n1 = %+v, want the flavour's profile at flush 1", nodes[0])
	}
	if nodes[1] == nil || nodes[1].FlushAtCommit != 2 || nodes[1].Host == nodes[0].Host {
		t.Fatalf("n2 = %+v, want flush 2 on a host of its own", nodes[1])
	}
	if nodes[2] != nil {
		t.Fatalf("n3 with profile none charges %+v", nodes[2])
	}
	var p results.Point
	noteServer(&p, ps)
	if got := strings.Join(p.Notes, "; "); got != "server: n1,n2 flavour mariadb-10.11, cost profile galera-4-mariadb-10.11; server: n3 flavour mariadb-10.11, cost profile none" {
		t.Fatalf("notes %q", got)
	}
	if err := ResolvePoint(&PointSpec{Protocol: "galera", Nodes: 3, Given: map[string]map[string]string{"n1": {"replbench.cost_profile": "nosuch"}}}); err == nil || !strings.Contains(err.Error(), `unknown cost profile "nosuch"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestMixedProfileWarnings(t *testing.T) {
	if w := mixedProfileWarnings(map[string][]string{"galera": {"none"}, "semisync": {"none"}}); w != nil {
		t.Errorf("same profile everywhere: %q", w)
	}
	w := mixedProfileWarnings(map[string][]string{"galera": {"galera-4-mariadb-10.11"}, "semisync": {"none"}, "async": {"none"}})
	if len(w) != 1 || !strings.Contains(w[0], "async, semisync: none") || !strings.Contains(w[0], "galera: galera-4-mariadb-10.11") {
		t.Errorf("mixed profiles: %q, want one warning naming each protocol's profile", w)
	}
}
