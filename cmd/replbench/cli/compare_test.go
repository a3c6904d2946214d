package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad input to compare and to run --target is one line and exit 2, with nothing written.
func TestCompareAndTargetBadInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "target.yaml")
	if err := os.WriteFile(good, []byte("kind: galera\nnodes:\n"+
		"  - {name: n1, host: 127.0.0.1, port: 1, user: rb}\n"+
		"  - {name: n2, host: 127.0.0.1, port: 2, user: rb}\n"+
		"  - {name: n3, host: 127.0.0.1, port: 3, user: rb}\n"+
		"network: {delay: {n3: 10ms}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("kind: oracle\nnodes: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "runs")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"compare", "--out", out}, "--target FILE is required"},
		{[]string{"compare", "--target", bad, "--out", out}, `kind "oracle"`},
		{[]string{"run", "--target", filepath.Join(dir, "missing.yaml"), "--out", out}, "target file"},
		{[]string{"compare", "--target", good, "--nodes", "5", "--out", out}, "has 3 nodes"},
		{[]string{"compare", "--target", "galera:rb:rb@127.0.0.1:1,127.0.0.1:2", "--nodes", "3", "--out", out}, "has 2 nodes"},
		{[]string{"compare", "--target", "galera:rb@nowhere", "--out", out}, "is not HOST:PORT"},
		{[]string{"compare", "--target", good, "--protocol", "semisync", "--out", out}, "is a galera cluster"},
		{[]string{"run", "--target", good, "--delay", "n2=5ms", "--out", out}, "a real node's delays are the proxy's"},
		{[]string{"compare", "--target", good, "--csv", filepath.Join(dir, "x.csv"), "--out", out}, "--csv is not accepted"},
	} {
		code, stdout, stderr := run(c.args...)
		if code != ExitUsage || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit 2 and one line with %q", c.args, code, stderr, stdout, c.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("bad input created %s", out)
	}
}

// The model side of a comparison describes the target's cluster: its node count, its
// protocol, and the delays its proxy holds.
func TestApplyTargetDescribesTheCluster(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "target.yaml")
	if err := os.WriteFile(p, []byte("kind: semisync\nnodes:\n"+
		"  - {name: n1, host: 127.0.0.1, port: 1, user: rb, role: source}\n"+
		"  - {name: n2, host: 127.0.0.1, port: 2, user: rb}\n"+
		"  - {name: n3, host: 127.0.0.1, port: 3, user: rb}\n"+
		"settings: {rpl_semi_sync_master_wait_point: AFTER_SYNC, version: 10.11.19-MariaDB-0+deb12u1}\n"+
		"network: {delay: {n2: 10ms, n3: 10ms}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := newRunFlags()
	f.targetPath = p
	if err := f.applyTarget(); err != nil {
		t.Fatal(err)
	}
	if *f.o.Nodes != 3 || f.o.Protocols[0] != "semisync" || f.o.Egress["n2"].String() != "10ms" || f.o.Egress["n3"].String() != "10ms" {
		t.Errorf("overrides nodes %d protocols %v egress %v", *f.o.Nodes, f.o.Protocols, f.o.Egress)
	}
	if f.o.Params["rpl_semi_sync_master_wait_point"] != "AFTER_SYNC" {
		t.Errorf("params %v: want the target's wait point", f.o.Params)
	}
	if _, set := f.o.Params["replbench.flavor"]; set != hasFlavor("semisync", "mariadb-10.11") {
		t.Errorf("params %v: the flavour is set exactly when semisync declares mariadb-10.11", f.o.Params)
	}
}
