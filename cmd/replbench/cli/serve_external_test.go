package cli

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replbench/replbench/harness"
	"github.com/replbench/replbench/harness/endpoint"
)

// envAsMain makes this test binary behave as the replbench binary (Main on its
// arguments): `replbench node --supervise` runs its node as a child by executing its own
// program again with `node ...`, which in a test is this binary.
const envAsMain = "REPLBENCH_CLI_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envAsMain) != "" {
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// waitTable waits up to wait for serve's table of three synced read-write nodes on stdout
// and returns its rows as (row, node, address) matches.
func waitTable(t *testing.T, stdout, stderr *lockedBuffer, wait time.Duration) [][]string {
	t.Helper()
	addr := regexp.MustCompile(`(?m)^(n\d)\s+(127\.0\.0\.1:\d+)\s+read-write\s+Synced$`)
	var addrs [][]string
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if addrs = addr.FindAllStringSubmatch(stdout.String(), -1); len(addrs) == 3 {
			return addrs
		}
	}
	t.Fatalf("no table of 3 synced nodes; stdout %q stderr %q", stdout.String(), stderr.String())
	return nil
}

// startSupervisedNodes starts `replbench node --supervise` for each name as a process of
// this test binary (envAsMain) and stops them by PID at the end of the test.
func startSupervisedNodes(t *testing.T, url, runID string, names ...string) {
	t.Helper()
	for _, n := range names {
		var log bytes.Buffer
		cmd := exec.Command(os.Args[0], "node", "--supervise", "--name", n, "--nats-url", url, "--run-id", runID, "--wait", "30s")
		cmd.Env = append(os.Environ(), envAsMain+"=1")
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Skipf("cannot start a node process from the test binary: %v", err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
			if t.Failed() {
				t.Logf("%s:\n%s", n, log.String())
			}
		})
	}
}

// serve --nodes-external with a fault timeline on three supervised galera node processes,
// each at its own address (--listen n1=...,n2=...,n3=...): n2's process is killed (SIGKILL)
// while n1 takes writes, restarted, rejoins from its data directory and serves again at the
// same address, where it has the rows written while it was down. At the stop serve checks
// convergence over the node processes and writes the same run directory as in-process
// serve: serve.json with the fault record (the kill, the restart and n2 serving again),
// converged, and each node's SHOW STATUS; status.txt; faults.txt.
func TestServeNodesExternalKillRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six processes and kills one (about 15 s)")
	}
	url := testNATS(t)
	startSupervisedNodes(t, url, "sk", "n1", "n2", "n3")
	out := t.TempDir()
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"serve", "--nodes-external", "--nats-url", url, "--run-id", "sk", "--nodes-wait", "30s",
			"--protocol", "galera", "--listen", "n1=127.0.0.1:0,n2=127.0.0.1:0,n3=127.0.0.1:0", "--duration", "9s", "--out", out,
			"--fault", "1s:kill=n2", "--fault", "3s:restart=n2"}, &stdout, &stderr)
	}()
	addrs := waitTable(t, &stdout, &stderr, 40*time.Second)
	db1, err := sql.Open("mysql", "root:@tcp("+addrs[0][2]+")/replbench")
	if err != nil {
		t.Fatal(err)
	}
	defer db1.Close()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "kill n2"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("n2 was never killed; stderr %q", stderr.String())
		}
	}
	if _, err := db1.Exec("INSERT INTO t1 (a) VALUES ('while-n2-down')"); err != nil {
		t.Fatalf("insert on n1 while n2 is down: %v", err)
	}
	// n2's new process serves again at the address its predecessor bound, with the row.
	var a string
	var lastErr error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		db2, err := sql.Open("mysql", "root:@tcp("+addrs[1][2]+")/replbench?wsrep_sync_wait=1&timeout=1s")
		if err != nil {
			t.Fatal(err)
		}
		lastErr = db2.QueryRow("SELECT a FROM t1 WHERE a = 'while-n2-down'").Scan(&a)
		db2.Close()
		if lastErr == nil {
			break
		}
	}
	if a != "while-n2-down" {
		t.Fatalf("n2 never served the row written while it was down at %s: %v; stderr %q", addrs[1][2], lastErr, stderr.String())
	}
	db1.Close()
	if code := <-done; code != ExitOK {
		t.Fatalf("serve exit %d, stdout %q stderr %q", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "; converged; written to ") {
		t.Errorf("stdout %q: no convergence verdict and run directory", stdout.String())
	}
	dirs, _ := filepath.Glob(filepath.Join(out, "*-serve-galera"))
	if len(dirs) != 1 {
		t.Fatalf("run directories %v, want one *-serve-galera", dirs)
	}
	var rec serveRecord
	b, err := os.ReadFile(filepath.Join(dirs[0], "serve.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	t.Logf("faults %q; converge %v %q", rec.Faults, rec.Converged, rec.ConvergeDetail)
	if !rec.Converged {
		t.Errorf("not converged: %s", rec.ConvergeDetail)
	}
	for _, want := range []string{" kill n2", " restart n2", "n2 serving again after kill"} {
		if !slices.ContainsFunc(rec.Faults, func(f string) bool { return strings.Contains(f, want) }) {
			t.Errorf("faults %q: nothing with %q", rec.Faults, want)
		}
	}
	if len(rec.Endpoints) != 3 || rec.Endpoints[1].Addr != addrs[1][2] {
		t.Errorf("endpoints %+v, want n2 at %s as announced", rec.Endpoints, addrs[1][2])
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		if rec.Status[n]["Connections"] == "" || rec.Status[n]["wsrep_cluster_size"] != "3" {
			t.Errorf("status of %s: Connections %q, wsrep_cluster_size %q (want SHOW STATUS of a 3-node cluster)", n, rec.Status[n]["Connections"], rec.Status[n]["wsrep_cluster_size"])
		}
	}
	if rec.Status["n1"]["Com_insert"] != "1" {
		t.Errorf("n1's Com_insert %q, want 1 (the one INSERT through it)", rec.Status["n1"]["Com_insert"])
	}
	for _, f := range []string{"status.txt", "faults.txt"} {
		if b, err := os.ReadFile(filepath.Join(dirs[0], f)); err != nil || len(b) == 0 {
			t.Errorf("%s: %v (%d bytes)", f, err, len(b))
		}
	}
}

// pause= and resume= on node processes, through serve --nodes-external: while n3 is
// paused a statement on its endpoint hangs (the connection stays open, nothing answers)
// and n1's commits wait for galera's total order, which n3's clogged links hold; after the
// resume both complete, the point converges, and the fault record has both events.
func TestServeNodesExternalPause(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three node processes (about 10 s)")
	}
	url := testNATS(t)
	nodeCodes := make(chan int, 3)
	for _, n := range []string{"n1", "n2", "n3"} {
		go func() {
			var o, e lockedBuffer
			nodeCodes <- Main([]string{"node", "--name", n, "--nats-url", url, "--run-id", "sp", "--wait", "20s"}, &o, &e)
		}()
	}
	out := t.TempDir()
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"serve", "--nodes-external", "--nats-url", url, "--run-id", "sp", "--nodes-wait", "20s",
			"--protocol", "galera", "--listen", "127.0.0.1:0", "--duration", "6s", "--out", out,
			"--fault", "1s:pause=n3", "--fault", "3s:resume=n3"}, &stdout, &stderr)
	}()
	addrs := waitTable(t, &stdout, &stderr, 30*time.Second)
	db3, err := sql.Open("mysql", "root:@tcp("+addrs[2][2]+")/replbench")
	if err != nil {
		t.Fatal(err)
	}
	defer db3.Close()
	if err := db3.Ping(); err != nil { // connected before the pause: the connection stays open
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "pause n3"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("n3 was never paused; stderr %q", stderr.String())
		}
	}
	pausedAt := time.Now()
	answered := make(chan error, 1)
	go func() {
		var n int
		answered <- db3.QueryRow("SELECT COUNT(*) FROM t1").Scan(&n)
	}()
	select {
	case err := <-answered:
		t.Fatalf("a paused node answered a statement (err %v)", err)
	case <-time.After(1 * time.Second):
	}
	if strings.Contains(stderr.String(), "resume n3") {
		t.Fatalf("resumed before the check could see the pause; stderr %q", stderr.String())
	}
	select {
	case err := <-answered:
		if err != nil {
			t.Fatalf("the held statement failed after the resume: %v", err)
		}
		// The resume is 2 s after the pause; it is announced after it is applied, so the
		// statement's return, not the announcement, is what is timed.
		if held := time.Since(pausedAt); held < 1500*time.Millisecond {
			t.Errorf("the held statement returned %s after the pause, before the resume 2 s after it", held)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the held statement never returned after the resume; stderr %q", stderr.String())
	}
	db3.Close()
	if code := <-done; code != ExitOK {
		t.Fatalf("serve exit %d, stdout %q stderr %q", code, stdout.String(), stderr.String())
	}
	for range 3 {
		if c := <-nodeCodes; c != ExitOK {
			t.Errorf("a node process exited %d, want 0", c)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(out, "*-serve-galera"))
	if len(dirs) != 1 {
		t.Fatalf("run directories %v", dirs)
	}
	var rec serveRecord
	b, _ := os.ReadFile(filepath.Join(dirs[0], "serve.json"))
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if !rec.Converged || len(rec.Faults) != 2 || !strings.HasSuffix(rec.Faults[0], " pause n3") || !strings.HasSuffix(rec.Faults[1], " resume n3") {
		t.Errorf("converged %v (%s), faults %q: want converged and pause n3, resume n3", rec.Converged, rec.ConvergeDetail, rec.Faults)
	}
}

// The stop of serve (in one process and on node processes alike) records a divergence:
// checksums that differ make serve.json's converged false with the detail, the closing
// line says DID NOT CONVERGE, and the exit code is 1.
func TestFinishServeNotConverged(t *testing.T) {
	f := newServeFlags()
	f.out = t.TempDir()
	ps := &harness.PointSpec{Protocol: "galera", Nodes: 2, Network: harness.NetworkSpec{Name: "lan"}, Workload: harness.WorkloadSpec{Name: "insert"}}
	infos := []endpoint.Info{{Node: "n1", Addr: "127.0.0.1:1", Role: "read-write", State: "Synced"}, {Node: "n2", Addr: "127.0.0.1:2", Role: "read-write", State: "Synced"}}
	status := [][][]string{{{"Connections", "3"}}, {{"Connections", "1"}}}
	detail := "checksums differ: t1 on n2"
	var stdout bytes.Buffer
	code, err := finishServe(&stdout, f, ps, time.Now(), time.Now(), infos, []string{"1.000s partition n1|n2"}, false, detail, status, " on the node processes of run r")
	if err != nil || code != ExitFailure {
		t.Fatalf("code %d err %v, want exit 1", code, err)
	}
	if !strings.Contains(stdout.String(), "on the node processes of run r; DID NOT CONVERGE: "+detail) {
		t.Errorf("stdout %q", stdout.String())
	}
	dirs, _ := filepath.Glob(filepath.Join(f.out, "*-serve-galera"))
	if len(dirs) != 1 {
		t.Fatalf("run directories %v", dirs)
	}
	var rec serveRecord
	b, _ := os.ReadFile(filepath.Join(dirs[0], "serve.json"))
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Converged || rec.ConvergeDetail != detail || rec.Status["n2"]["Connections"] != "1" || len(rec.Faults) != 1 {
		t.Errorf("serve.json %+v", rec)
	}
}
