package cli

import (
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func testNATS(t *testing.T) string {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("NATS not ready")
	}
	return ns.ClientURL()
}

// Bad input to `replbench node` and to the coordinator's flags: exit 2, one line naming
// the problem and what is accepted, and no run directory.
func TestNodesExternalBadInput(t *testing.T) {
	url := testNATS(t)
	out := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"node", "--run-id", "r", "--nats-url", url}, "--name \"\": not a node name (accepted: n1, n2, ...)"},
		{[]string{"node", "--name", "db2", "--run-id", "r", "--nats-url", url}, "not a node name"},
		{[]string{"node", "--name", "n2", "--run-id", "r"}, "--nats-url is required"},
		{[]string{"node", "--name", "n2", "--run-id", "a.b", "--nats-url", url}, "invalid run id"},
		{[]string{"node", "--name", "n2", "--run-id", "nobody", "--nats-url", url, "--wait", "500ms"}, "no coordinator answered for run nobody within 500ms"},
		{[]string{"run", "--nodes-external", "--protocol", "galera", "--queries", "10", "--out", out}, "--nodes-external needs --nats-url"},
		{[]string{"run", "--nodes-external", "--nats-url", url, "--data-dir", out, "--queries", "10", "--out", out}, "--data-dir conflicts with --nodes-external"},
		{[]string{"run", "--run-id", "x", "--protocol", "galera", "--queries", "10", "--out", out}, "--run-id without --nodes-external"},
		{[]string{"run", "--nodes-external", "--nats-url", url, "--protocol", "galera", "--queries", "10", "--fault", "1s:crash=n2", "--out", out}, "fault crash=n2 is not supported with --nodes-external: a node process's data is on a real filesystem"},
		{[]string{"run", "--nodes-external", "--nats-url", url, "--protocol", "galera", "--queries", "10", "--fault", "1s:pause=n2", "--out", out}, "fault pause=n2 is not supported with --nodes-external yet"},
		{[]string{"run", "--nodes-external", "--nats-url", url, "--protocol", "galera", "--workload", "bank", "--duration", "3s", "--fault", "1s:kill=n2", "--out", out}, "fault kill=n2 with workload bank is not supported with --nodes-external"},
		{[]string{"run", "--nodes-external", "--nats-url", url, "--run-id", "lonely", "--nodes-wait", "300ms", "--protocol", "galera", "--queries", "10", "--out", out}, "waited 300ms for nodes n1, n2, n3 of run lonely"},
	} {
		code, _, stderr := run(c.args...)
		if code != ExitUsage || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%s: exit %d, stderr %q: want exit 2 and one line with %q", strings.Join(c.args, " "), code, stderr, c.want)
		}
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("bad input wrote %d entries in --out", len(ents))
	}
}

// A kill of a node process that runs without a supervisor is refused once the nodes have
// registered, before anything runs: exit 2, naming the node and --supervise.
func TestNodeKillNeedsSupervisor(t *testing.T) {
	url := testNATS(t)
	var wg sync.WaitGroup
	for _, n := range []string{"n1", "n2", "n3"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run("node", "--name", n, "--nats-url", url, "--run-id", "k1", "--wait", "20s")
		}()
	}
	out := t.TempDir()
	code, _, stderr := run("run", "--nodes-external", "--nats-url", url, "--run-id", "k1", "--nodes-wait", "20s", "--protocol", "galera",
		"--duration", "3s", "--fault", "1s:kill=n2", "--fault", "2s:restart=n2", "--out", out)
	wg.Wait() // the coordinator ended the run: every node exits
	if code != ExitUsage || !strings.Contains(stderr, "fault kill=n2 needs n2") || !strings.Contains(stderr, "replbench node --supervise") || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
		t.Errorf("exit %d, stderr %q: want exit 2 and one line naming n2 and --supervise", code, stderr)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("the refused run wrote %d entries in --out", len(ents))
	}
}

// A node whose name is not a member of the coordinated run is refused at once, naming the
// members, and exits 2.
func TestNodeUnknownName(t *testing.T) {
	url := testNATS(t)
	done := make(chan int, 1)
	go func() {
		code, _, _ := run("run", "--nodes-external", "--nats-url", url, "--run-id", "r7", "--nodes-wait", "3s", "--protocol", "galera", "--queries", "10", "--out", t.TempDir())
		done <- code
	}()
	var code int
	var stderr string
	for i := 0; i < 20; i++ { // the coordinator may not be listening yet: the node waits for it
		code, _, stderr = run("node", "--name", "n7", "--nats-url", url, "--run-id", "r7", "--wait", "2s")
		if !strings.Contains(stderr, "no coordinator") {
			break
		}
	}
	if code != ExitUsage || !strings.Contains(stderr, "n7 is not a node of run r7 (accepted: n1, n2, n3)") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if c := <-done; c != ExitUsage {
		t.Errorf("the coordinator without its nodes: exit %d, want 2", c)
	}
}
