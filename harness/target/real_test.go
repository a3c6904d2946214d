package target

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
	"github.com/replbench/replbench/workloads/insert"
)

// script runs scripts/real-cluster.sh with args.
func script(t *testing.T, args ...string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command(filepath.Join(filepath.Dir(file), "../../scripts/real-cluster.sh"), args...)
	out, err := cmd.CombinedOutput()
	t.Logf("real-cluster.sh %v:\n%s", args, out)
	if err != nil {
		t.Fatalf("real-cluster.sh %v: %v", args, err)
	}
}

// pointResult is what one short insert point measured.
type pointResult struct {
	commits int64
	mean    time.Duration
	causes  map[protocols.Cause]int
}

// runInsert drives the insert workload through sqldb with clients on node for d, retrying
// retryable errors as the harness does, and returns commits and mean commit latency.
func runInsert(t *testing.T, tg *Target, w *insert.Workload, node string, clients int, d time.Duration) pointResult {
	ctx := context.Background()
	res := pointResult{causes: map[protocols.Cause]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var total time.Duration
	stop := time.Now().Add(d)
	for i := range clients {
		c, err := tg.Node(node).Client(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cl := w.NewClient(i, rand.New(rand.NewPCG(uint64(i), 1)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				t0 := time.Now()
				_, err := cl.Next(ctx, c, false)
				for r := 0; err != nil && protocols.Retryable(err) && r < 10; r++ {
					_, err = cl.Next(ctx, c, true)
				}
				mu.Lock()
				if err != nil {
					res.causes[protocols.Classify(err)]++
				} else {
					res.commits++
					total += time.Since(t0)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if res.commits > 0 {
		res.mean = total / time.Duration(res.commits)
	}
	return res
}

// The local Galera cluster from the script, insert through sqldb at lan and with n3 (a
// non-writer) 10 ms away: status deltas account for the commits, every node converges, the
// workload's own check passes, and the commit latency moves by the round trip to n3, as
// Galera's agreement needs every member. Needs root, the Debian packages and REPLBENCH_REAL=1.
func TestRealGaleraInsert(t *testing.T) {
	if os.Getenv("REPLBENCH_REAL") != "1" {
		t.Skip("set REPLBENCH_REAL=1 (root, mariadb-server, galera-4, rsync) to run against a local real cluster")
	}
	// Not t.TempDir(): the servers run as the mysql user, which must reach the state dir.
	state := fmt.Sprintf("/tmp/replbench-itest-%d", os.Getpid())
	script(t, "up", "galera", "--delay", "n3=0", "--base-port", "13600", "--state", state)
	defer script(t, "down", "--state", state)

	ctx := context.Background()
	w, err := insert.New(nil, workloads.Env{Nodes: 3, Writers: []string{"n1"}, Threads: 4})
	if err != nil {
		t.Fatal(err)
	}
	connect := func() *Target {
		f, err := LoadFile(filepath.Join(state, "target.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		tg, err := Connect(ctx, f, Options{Tables: w.Tables()})
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	tg := connect()
	defer tg.Close()
	if tg.Version() == "" {
		t.Fatal("no server version")
	}
	if err := tg.Load(ctx, func(ctx context.Context, db workloads.DB) error { return w.Load(ctx, db, nil) }, time.Minute); err != nil {
		t.Fatal(err)
	}

	point := func(label string) pointResult {
		before, err := tg.Snap(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r := runInsert(t, tg, w, "n1", 4, 3*time.Second)
		conv, err := tg.Converge(ctx, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		after, err := tg.Snap(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d commits, mean %v, errors %v, converged %v in %v", label, r.commits, r.mean, r.causes, conv.Equal, conv.Waited)
		if !conv.Equal {
			t.Errorf("%s: nodes differ: %v", label, conv.Differ)
		}
		stats := Diff(before, after)
		for _, s := range Select(stats, "wsrep_last_committed", "wsrep_replicated", "wsrep_local_cert_failures", "wsrep_flow_control_paused") {
			t.Logf("  %s %s %s before %s after %s delta %g", s.Node, s.Name, s.Kind, s.Before, s.After, s.Delta)
			// Every node committed every write-set; only n1 replicated them.
			if s.Name == "wsrep_last_committed" && s.Delta < float64(r.commits) {
				t.Errorf("%s: %s committed %g write-sets, the clients %d", label, s.Node, s.Delta, r.commits)
			}
			if s.Name == "wsrep_replicated" && s.Node == "n1" && s.Delta < float64(r.commits) {
				t.Errorf("%s: n1 replicated %g write-sets, the clients committed %d", label, s.Delta, r.commits)
			}
		}
		var dbs []workloads.DB
		for _, n := range tg.Nodes {
			c, err := n.Client(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			dbs = append(dbs, c)
		}
		checks, err := w.Check(ctx, dbs)
		if err != nil {
			t.Fatal(err)
		}
		for name, ok := range checks {
			if !ok {
				t.Errorf("%s: check %s failed", label, name)
			}
		}
		return r
	}
	lan := point("lan")
	script(t, "delay", "n3=10ms", "--state", state)
	tg.Close()
	tg = connect()
	var rtt time.Duration
	for _, r := range tg.RTT {
		if r.From == "" && r.To == "n3" {
			rtt = r.Median
		}
	}
	if rtt < 10*time.Millisecond {
		t.Fatalf("measured round trip to n3 %v, want at least the 10ms configured (rtt %+v)", rtt, tg.RTT)
	}
	far := point("n3 at 10ms")
	// Physics: a Galera commit waits for every member's ack, so n3's 10 ms egress delay is
	// under every commit at 4 clients; at lan the cluster commits well below that.
	if far.mean < 10*time.Millisecond || lan.mean >= 10*time.Millisecond {
		t.Errorf("commit latency lan %v, with n3 at 10ms %v: want lan < 10ms <= far", lan.mean, far.mean)
	}
}

// TestProbe runs the calibration probes against the target file in REPLBENCH_TARGET on its
// writer, at the concurrencies in the issue, and prints them (see docs/measurements).
func TestProbe(t *testing.T) {
	path := os.Getenv("REPLBENCH_TARGET")
	if path == "" {
		t.Skip("set REPLBENCH_TARGET=FILE (a target file) to run the calibration probes")
	}
	f, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tg, err := Connect(ctx, f, Options{Tables: []storage.TableSchema{ProbeTable}})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	node := f.Writer()
	if err := tg.PrepareProbe(ctx, node); err != nil {
		t.Fatal(err)
	}
	d := 5 * time.Second
	if s := os.Getenv("REPLBENCH_PROBE_TIME"); s != "" {
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%s %s on %s, innodb_flush_log_at_trx_commit=%s", f.Kind, tg.Version(), node, f.Settings["innodb_flush_log_at_trx_commit"])
	kinds, clients := ProbeKinds, []int{1, 4, 16}
	if s := os.Getenv("REPLBENCH_PROBE_KINDS"); s != "" {
		kinds = strings.Split(s, ",")
	}
	if s := os.Getenv("REPLBENCH_PROBE_CLIENTS"); s != "" {
		clients = nil
		for _, x := range strings.Split(s, ",") {
			c, err := strconv.Atoi(x)
			if err != nil {
				t.Fatalf("REPLBENCH_PROBE_CLIENTS=%s: %v", s, err)
			}
			clients = append(clients, c)
		}
	}
	for _, kind := range kinds {
		for _, c := range clients {
			r, err := tg.Probe(ctx, node, kind, c, d)
			if err != nil {
				t.Fatal(err)
			}
			t.Log(r)
		}
	}
}
