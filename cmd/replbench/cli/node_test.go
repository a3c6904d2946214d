package cli

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/replbench/replbench/harness/target"
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
		{[]string{"run", "--nodes-external", "--nats-url", url, "--protocol", "semisync", "--duration", "3s", "--fault", "1s:kill=n1", "--fault", "1.5s:promote=n2", "--out", out}, "fault promote=n2 is not supported with --nodes-external yet: a promote restarts every live node under a new source"},
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

// serve --nodes-external with three galera node processes (in this test binary, as the
// other external-node tests run them): the coordinator prints the table, writes the
// target file, and each node serves its engine through its own endpoint. A row written
// through n1's endpoint is read back through n3's (replication through the model, across
// the processes' NATS), a table created through n1 is there on n3 (the coordinator
// carries DDL to every node, bus_ddl.go), and SIGINT's stand-in, the end of --duration, closes the nodes and exits 0.
func TestServeNodesExternal(t *testing.T) {
	url := testNATS(t)
	out := t.TempDir()
	nodeCodes := make(chan int, 3)
	for _, n := range []string{"n1", "n2", "n3"} {
		go func() {
			// A node logs from its request handlers and its main loop at once: a
			// buffer safe for both.
			var o, e lockedBuffer
			nodeCodes <- Main([]string{"node", "--name", n, "--nats-url", url, "--run-id", "sx", "--wait", "20s"}, &o, &e)
		}()
	}
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"serve", "--nodes-external", "--nats-url", url, "--run-id", "sx", "--nodes-wait", "20s",
			"--protocol", "galera", "--listen", "127.0.0.1:0", "--duration", "6s", "--out", out,
			"--target-file", filepath.Join(out, "target.yaml")}, &stdout, &stderr)
	}()
	addrs := waitTable(t, &stdout, &stderr, 30*time.Second)
	tf, err := target.LoadFile(filepath.Join(out, "target.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if tf.Kind != "galera" || len(tf.Nodes) != 3 || fmt.Sprintf("%s:%d", tf.Nodes[2].Host, tf.Nodes[2].Port) != addrs[2][2] {
		t.Errorf("target file %+v does not name the endpoints %v", tf, addrs)
	}
	db1, err := sql.Open("mysql", "root:@tcp("+addrs[0][2]+")/replbench")
	if err != nil {
		t.Fatal(err)
	}
	defer db1.Close()
	if _, err := db1.Exec("CREATE TABLE t (id INT PRIMARY KEY)"); err != nil {
		t.Errorf("CREATE TABLE through one node process: %v (the coordinator carries DDL to every node)", err)
	}
	if _, err := db1.Exec("INSERT INTO t1 (a) VALUES ('hello')"); err != nil {
		t.Fatalf("insert on n1: %v", err)
	}
	db3, err := sql.Open("mysql", "root:@tcp("+addrs[2][2]+")/replbench?wsrep_sync_wait=1")
	if err != nil {
		t.Fatal(err)
	}
	defer db3.Close()
	var a string
	if err := db3.QueryRow("SELECT a FROM t1 WHERE a = 'hello'").Scan(&a); err != nil || a != "hello" {
		t.Fatalf("read on n3: a=%q err=%v, want hello", a, err)
	}
	if _, err := db3.Exec("INSERT INTO t VALUES (1)"); err != nil {
		t.Errorf("insert on n3 into the table created through n1: %v", err)
	}
	db1.Close()
	db3.Close()
	if code := <-done; code != ExitOK {
		t.Fatalf("serve exit %d, stderr %q", code, stderr.String())
	}
	for range 3 {
		if c := <-nodeCodes; c != ExitOK {
			t.Errorf("a node process exited %d, want 0 (the coordinator ended the run)", c)
		}
	}
	if !strings.Contains(stdout.String(), "served ") {
		t.Errorf("stdout %q does not say it served", stdout.String())
	}
}

// Bad input to serve --nodes-external (no --nats-url, a node flag without it, a fault node
// processes cannot carry out, a per-node --listen that misses or repeats a node) and a node
// fault in-process serve cannot carry out: one line, exit 2, nothing written.
func TestServeNodesExternalBadInput(t *testing.T) {
	url := testNATS(t)
	out := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--nodes-external", "--out", out}, "--nodes-external needs --nats-url"},
		{[]string{"serve", "--run-id", "x", "--out", out}, "--run-id without --nodes-external"},
		{[]string{"serve", "--nodes-external", "--nats-url", url, "--fault", "1s:crash=n2", "--out", out}, "fault crash=n2 is not supported with --nodes-external"},
		{[]string{"serve", "--fault", "1s:kill=n2", "--out", out}, "fault kill=n2 is not supported by serve with the nodes in one process"},
		{[]string{"serve", "--nodes-external", "--nats-url", url, "--listen", "n1=127.0.0.1:0,n2=127.0.0.1:0", "--out", out}, "names no address for n3"},
		{[]string{"serve", "--nodes-external", "--nats-url", url, "--listen", "n1=127.0.0.1:0,n1=127.0.0.1:1,n3=:0", "--out", out}, "n1 named twice"},
		{[]string{"serve", "--nodes-external", "--nats-url", url, "--listen", "n1=127.0.0.1:0,n4=127.0.0.1:0", "--out", out}, "is not NODE=HOST:PORT for a node n1..n3"},
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
