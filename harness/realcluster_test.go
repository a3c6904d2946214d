package harness_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	_ "github.com/replbench/replbench/galera"
	"github.com/replbench/replbench/harness"
	"github.com/replbench/replbench/harness/target"
	"github.com/replbench/replbench/results"
	_ "github.com/replbench/replbench/workloads/hotspot"
)

func realScript(t *testing.T, args ...string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	out, err := exec.Command(filepath.Join(filepath.Dir(file), "../scripts/real-cluster.sh"), args...).CombinedOutput()
	t.Logf("real-cluster.sh %v:\n%s", args, out)
	if err != nil {
		t.Fatalf("real-cluster.sh %v: %v", args, err)
	}
}

// replbench run --target on the local Galera cluster from the script: insert and hotspot
// (one writer, all writers) at lan and with n3 (a non-writer for the one-writer points)
// 10 ms away. Every point converges (CHECKSUM TABLE), the writer's wsrep_replicated delta
// covers the commits, hotspot from all writers has certification or brute-force aborts
// that the servers' counters also show, and the delayed insert's commit takes at least
// the round trip. Needs root, the Debian packages and REPLBENCH_REAL=1;
// REPLBENCH_REAL_BASE_PORT moves the ports (default 13700) and REPLBENCH_REAL_TEST_STATE the
// state directory.
func TestRealGaleraRunTarget(t *testing.T) {
	if os.Getenv("REPLBENCH_REAL") != "1" {
		t.Skip("set REPLBENCH_REAL=1 (root, mariadb-server, galera-4, rsync) to run against a local real cluster")
	}
	base := "13700"
	if p := os.Getenv("REPLBENCH_REAL_BASE_PORT"); p != "" {
		if _, err := strconv.Atoi(p); err != nil {
			t.Fatalf("REPLBENCH_REAL_BASE_PORT=%q: %v", p, err)
		}
		base = p
	}
	state := fmt.Sprintf("/tmp/replbench-itest-run-%d", os.Getpid())
	if d := os.Getenv("REPLBENCH_REAL_TEST_STATE"); d != "" {
		state = d
	}
	realScript(t, "up", "galera", "--delay", "n3=0", "--base-port", base, "--state", state)
	defer realScript(t, "down", "--state", state)

	run := func(label, workload, writers string, threads int) results.Point {
		tf, err := target.LoadFile(filepath.Join(state, "target.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		n := len(tf.Nodes)
		d := 3 * time.Second
		retries := 3
		s := &harness.Scenario{Name: "itest", Workload: harness.WorkloadSpec{Name: workload}, Threads: harness.IntList{threads},
			Sweep: harness.Sweep{Protocols: []string{"galera"}}, Seed: 1}
		s.Apply(harness.Overrides{Nodes: &n, Duration: &d, Retries: &retries, Writers: harness.ParseWriters(writers)})
		points, err := harness.Expand(s)
		if err != nil {
			t.Fatal(err)
		}
		out, err := harness.Run(context.Background(), s, points, harness.Options{OutDir: t.TempDir(), NoProgress: true, Stdout: io.Discard, Stderr: io.Discard, Target: tf})
		if err != nil {
			t.Fatal(err)
		}
		p := out.Run.Points[0]
		t.Logf("%s: %d commits, %.0f tps, mean %.2f ms, aborts %v, %s", label, p.Committed, p.TPS, p.Latency.Mean, p.Aborts, p.ConvergenceDetail)
		if !p.Converged {
			t.Errorf("%s: not converged: %s", label, p.ConvergenceDetail)
		}
		var replicated float64
		for _, node := range p.Writers {
			v, _ := strconv.ParseFloat(p.Status[node]["wsrep_replicated"], 64)
			replicated += v
		}
		if replicated < float64(p.Committed) {
			t.Errorf("%s: writers replicated %g write-sets, the clients committed %d", label, replicated, p.Committed)
		}
		return p
	}
	for _, delayed := range []bool{false, true} {
		net := "lan"
		if delayed {
			realScript(t, "delay", "n3=10ms", "--state", state)
			net = "n3 at 10ms"
		}
		ins := run("insert "+net, "insert", "n1", 4)
		if delayed && ins.Latency.Mean < 10 {
			t.Errorf("insert with n3 at 10ms: mean commit %.2f ms, below the round trip", ins.Latency.Mean)
		}
		run("hotspot one writer "+net, "hotspot", "n1", 8)
		all := run("hotspot all writers "+net, "hotspot", "all", 8)
		var aborts int64
		for _, c := range []string{"certification", "bf_abort"} {
			aborts += all.Aborts[c]
		}
		var server float64
		for _, m := range all.Status {
			for _, name := range []string{"wsrep_local_cert_failures", "wsrep_local_bf_aborts"} {
				v, _ := strconv.ParseFloat(m[name], 64)
				server += v
			}
		}
		if aborts == 0 || server == 0 {
			t.Errorf("hotspot from all writers %s: client aborts %d, server cert+bf counters %g: want conflicts on both", net, aborts, server)
		}
	}
}
