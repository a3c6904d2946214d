package harness

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	_ "github.com/replbench/replbench/galera"
	_ "github.com/replbench/replbench/groupreplication"
	"github.com/replbench/replbench/harness/history"
	"github.com/replbench/replbench/harness/nodes"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/results"
	_ "github.com/replbench/replbench/semisync"
	_ "github.com/replbench/replbench/workloads/insert"
	_ "github.com/replbench/replbench/workloads/jepsen"
)

// The node processes of TestExternalNodesMatchInProcess are this test binary, started
// again with these variables set: it then runs TestHelperNodeProcess alone, which serves
// one node until the coordinator ends the run.
const (
	envNode  = "REPLBENCH_TEST_NODE"
	envRunID = "REPLBENCH_TEST_RUN_ID"
	envURL   = "REPLBENCH_TEST_NATS_URL"
	envDir   = "REPLBENCH_TEST_DATA_DIR"
	envSuper = "REPLBENCH_TEST_SUPERVISE"
)

// TestHelperNodeProcess is not a test: it is the body of a node process (see envNode).
func TestHelperNodeProcess(t *testing.T) {
	name := os.Getenv(envNode)
	if name == "" {
		t.Skip("the body of a node process started by TestExternalNodesMatchInProcess")
	}
	if os.Getenv(envSuper) != "" {
		superviseHelper(name)
	}
	sup, _ := strconv.Atoi(os.Getenv(EnvSupervisor))
	err := ServeNode(context.Background(), NodeOptions{Name: name, RunID: os.Getenv(envRunID), Bus: BusConfig{Kind: "nats", URL: os.Getenv(envURL)},
		Wait: 30 * time.Second, Log: os.Stderr, DataDir: os.Getenv(envDir), Supervisor: sup})
	if err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// superviseHelper is the body of a supervisor process (envSuper): it runs the node as a
// child, this test binary once more, as replbench node --supervise does.
func superviseHelper(name string) {
	nc, err := transport.ConnectNATS(transport.NATSOptions{URL: os.Getenv(envURL)}, "test supervisor "+name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "supervisor:", err)
		os.Exit(1)
	}
	sup := &nodes.Supervisor{NC: nc, RunID: os.Getenv(envRunID), Node: name, Log: os.Stderr, Idle: time.Minute, Spawn: func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperNodeProcess$")
		var env []string
		for _, e := range os.Environ() {
			if !strings.HasPrefix(e, envSuper+"=") {
				env = append(env, e)
			}
		}
		cmd.Env = append(env, fmt.Sprintf("%s=%d", EnvSupervisor, os.Getpid()))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd
	}}
	if err := sup.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "supervisor:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// startNATSCluster starts n NATS servers on free 127.0.0.1 ports, joined by cluster
// routes (every server routes to the first; the cluster gossips the rest), and returns
// their client URLs.
func startNATSCluster(t testing.TB, n int) []string {
	t.Helper()
	var urls []string
	var servers []*natsserver.Server
	var seed *url.URL
	for i := 0; i < n; i++ {
		o := &natsserver.Options{ServerName: fmt.Sprintf("nats%d", i+1), Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
			Cluster: natsserver.ClusterOpts{Name: "replbench-test", Host: "127.0.0.1", Port: -1}}
		if seed != nil {
			o.Routes = []*url.URL{seed}
		}
		srv, err := natsserver.NewServer(o)
		if err != nil {
			t.Fatal(err)
		}
		go srv.Start()
		t.Cleanup(srv.Shutdown)
		if !srv.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats server did not start")
		}
		if seed == nil {
			seed = &url.URL{Scheme: "nats", Host: srv.ClusterAddr().String()}
		}
		urls = append(urls, srv.ClientURL())
		servers = append(servers, srv)
	}
	// Wait until every server has a route to every other one.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		routed := true
		for _, srv := range servers {
			routed = routed && srv.NumRoutes() >= n-1
		}
		if routed {
			return urls
		}
	}
	t.Fatal("the NATS servers did not form a cluster")
	return nil
}

// startNodeProcesses starts one node process per name, node i connected to urls[i mod
// len], and stops them (by PID) at the end of the test.
func startNodeProcesses(t testing.TB, runID string, names, urls []string, extraEnv ...string) {
	t.Helper()
	for i, name := range names {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperNodeProcess$")
		cmd.Env = append(os.Environ(), envNode+"="+name, envRunID+"="+runID, envURL+"="+urls[i%len(urls)])
		cmd.Env = append(cmd.Env, extraEnv...)
		log, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Skipf("cannot start a node process from the test binary: %v", err)
		}
		t.Cleanup(func() {
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
			if t.Failed() {
				b, _ := os.ReadFile(log.Name())
				t.Logf("%s:\n%s", name, b)
			}
		})
	}
}

// faultedInsert is the scenario of the fault tests: insert on galera, 6 threads on every
// node, 3 s on lan, with the fault timeline faults; and its one point.
func faultedInsert(t *testing.T, name string, faults ...string) (*Scenario, []PointSpec) {
	t.Helper()
	s := &Scenario{Name: name, Protocol: "galera", Cluster: Cluster{Nodes: 3}, Workload: WorkloadSpec{Name: "insert"}, Threads: IntList{6},
		Writers: Writers{"all"}, Duration: Duration(3 * time.Second), Network: NetworkSpec{Preset: "lan"}, Seed: 1}
	for _, f := range faults {
		ev, err := ParseFault(f)
		if err != nil {
			t.Fatal(err)
		}
		s.Faults = append(s.Faults, ev)
	}
	points, err := Expand(s)
	if err != nil {
		t.Fatal(err)
	}
	return s, points
}

// connectTestNodes starts a 3-server NATS cluster and three node processes n1..n3 of run
// name<pid> on it, and returns the coordinator's handle (closed at the end of the test)
// and the bus that reaches them.
func connectTestNodes(t *testing.T, name string) (*ExternalNodes, BusConfig) {
	t.Helper()
	urls := startNATSCluster(t, 3)
	runID := fmt.Sprintf("%s%d", name, os.Getpid())
	startNodeProcesses(t, runID, []string{"n1", "n2", "n3"}, urls)
	bus := BusConfig{Kind: "nats", URL: strings.Join(urls, ",")}
	x, err := ConnectNodes(context.Background(), bus, runID, 3, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.Close)
	return x, bus
}

// externalPair is one point measured in one process and as node processes.
type externalPair struct{ in, ext results.Point }

// runExternalPairs measures insert (120 transactions, 4 threads, wan-50, 0.5 s warm-up)
// on galera, gr and semisync in one process and on three node processes (this test
// binary re-run) over an in-process 3-server NATS cluster, each protocol both ways back to
// back, so that both see the same load on a shared machine.
func runExternalPairs(tb testing.TB) []externalPair {
	urls := startNATSCluster(tb, 3)
	s := &Scenario{Name: "external", Cluster: Cluster{Nodes: 3}, Workload: WorkloadSpec{Name: "insert"}, Threads: IntList{4},
		Queries: 120, Warmup: Duration(500 * time.Millisecond), Network: NetworkSpec{Preset: "wan-50"}, Seed: 1,
		Sweep: Sweep{Protocols: []string{"galera", "group-replication", "semisync"}}}
	points, err := Expand(s)
	if err != nil {
		tb.Fatal(err)
	}
	runID := fmt.Sprintf("test%d", os.Getpid())
	startNodeProcesses(tb, runID, []string{"n1", "n2", "n3"}, urls)
	bus := BusConfig{Kind: "nats", URL: strings.Join(urls, ",")}
	x, err := ConnectNodes(context.Background(), bus, runID, 3, 30*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	defer x.Close()
	run := func(ps PointSpec, bus BusConfig, nodes *ExternalNodes) results.Point {
		out, err := Run(context.Background(), s, []PointSpec{ps}, Options{Bus: bus, Nodes: nodes, OutDir: tb.TempDir(), NoProgress: true, Stdout: io.Discard, Stderr: io.Discard})
		if err != nil {
			tb.Fatal(err)
		}
		return out.Run.Points[0]
	}
	var out []externalPair
	for _, ps := range points {
		out = append(out, externalPair{in: run(ps, BusConfig{Kind: "nats"}, nil), ext: run(ps, bus, x)})
	}
	return out
}

// perCommitCost is the time a client spends per commit (its commits are serial): the
// phase's elapsed time times the clients over the commits, in milliseconds.
func perCommitCost(p results.Point) float64 {
	return p.ElapsedS * 1000 * float64(p.Threads) / float64(p.Committed)
}

// Three node processes over a 3-server NATS cluster measure what one process measures:
// the same committed counts (a fixed number of transactions) and the same convergence
// verdicts, for galera, gr and semisync; the round trip of every link is measured through
// the emulated network, and every node reports its memory. The per-commit cost, a timing,
// is compared by BenchmarkExternalPerCommitCost: under a parallel `go test ./...` on two
// cores the processes' share of the CPU, not the design, decides it (galera measured 78.3
// ms in one process against 91.3 ms as processes there, and 79.2 against 82.3 alone).
func TestExternalNodesMatchInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS cluster and three node processes (about 20 s)")
	}
	for _, pr := range runExternalPairs(t) {
		a, b := pr.in, pr.ext
		name := a.Protocol
		if a.Committed != b.Committed || a.Committed != 120 {
			t.Errorf("%s: committed %d in one process, %d as processes (want 120)", name, a.Committed, b.Committed)
		}
		if a.Converged != b.Converged || !b.Converged {
			t.Errorf("%s: converged %v in one process (%s), %v as processes (%s)", name, a.Converged, a.ConvergenceDetail, b.Converged, b.ConvergenceDetail)
		}
		// insert's own end-of-run checks (rows against committed inserts, values intact)
		// run on every node process against the nodes' counters summed: the same checks,
		// all passing, both ways.
		if len(b.Checks) != 2 || !maps.Equal(a.Checks, b.Checks) || slices.Contains(slices.Collect(maps.Values(b.Checks)), false) {
			t.Errorf("%s: workload checks %v in one process, %v as processes (want the same two, passing)", name, a.Checks, b.Checks)
		}
		t.Logf("%s: committed %d / %d, per-commit cost %.2f / %.2f ms, measured rtt %v",
			name, a.Committed, b.Committed, perCommitCost(a), perCommitCost(b), b.Network.MeasuredRTT)
		if len(b.Network.MeasuredRTT) != 6 {
			t.Errorf("%s: measured round trips %v, want the 6 directed links", name, b.Network.MeasuredRTT)
		}
		// wan-50 holds 50 ms on everything n1 sends: every link of n1 has at least that
		// round trip, and the links between n2 and n3 far less.
		for link, v := range b.Network.MeasuredRTT {
			if strings.Contains(link, "n1") && v < 50 {
				t.Errorf("%s: link %s measured %.3f ms, below the 50 ms n1's egress holds", name, link, v)
			}
			if !strings.Contains(link, "n1") && v >= 50 {
				t.Errorf("%s: link %s measured %.3f ms, as if it crossed n1's egress", name, link, v)
			}
		}
		for _, n := range []string{"n1", "n2", "n3"} {
			if b.Status[n]["replbench_node_rss_kb"] == "" {
				t.Errorf("%s: no memory reported by %s", name, n)
			}
		}
		// The lost-acknowledged-writes check runs both ways, on every node's data, with
		// the same verdict, over every acknowledged commit: the 120 measured ones and the
		// timed warm-up's (whose number varies from run to run).
		if len(a.Verdicts) != 1 || len(b.Verdicts) != 1 || a.Verdicts[0].Outcome != b.Verdicts[0].Outcome || b.Verdicts[0].Outcome != results.VerdictPass {
			t.Errorf("%s: verdicts %+v in one process, %+v as processes (want one lost-acknowledged pass each)", name, a.Verdicts, b.Verdicts)
		} else if na, nb := ackedCommits(a), ackedCommits(b); na < 120 || nb < 120 {
			t.Errorf("%s: lost-acknowledged checked %d commits in one process (%s), %d as processes (%s); want at least the 120 measured", name, na, a.Verdicts[0].Detail, nb, b.Verdicts[0].Detail)
		}
	}
}

// A workload that records a history gets the same checkers both ways: the coordinator
// gathers every node process's history onto one clock, reads every node's final state and
// runs the checkers one process runs, with the same verdicts (list-append and register,
// one writer with locking reads on semisync), and history.jsonl in the point's directory.
func TestExternalHistoryVerdictsMatchInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS cluster and three node processes (about 10 s)")
	}
	x, bus := connectTestNodes(t, "hist")
	s := &Scenario{Name: "history", Protocol: "semisync", Cluster: Cluster{Nodes: 3}, Threads: IntList{4}, Queries: 200,
		Network: NetworkSpec{Preset: "lan"}, Seed: 1, Sweep: Sweep{Workloads: []WorkloadSpec{
			{Name: "list-append", Options: map[string]string{"read": "for-update"}},
			{Name: "register", Options: map[string]string{"read": "for-update"}}}}}
	points, err := Expand(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, ps := range points {
		var got [2]results.Point
		for i, nodes := range []*ExternalNodes{nil, x} {
			b := BusConfig{Kind: "nats"}
			if nodes != nil {
				b = bus
			}
			dir := t.TempDir()
			out, err := Run(context.Background(), s, []PointSpec{ps}, Options{Bus: b, Nodes: nodes, OutDir: dir, NoProgress: true, Stdout: io.Discard, Stderr: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			got[i] = out.Run.Points[0]
			h, err := history.ReadFile(filepath.Join(out.Dir, got[i].HistoryFile))
			if err != nil || len(h) < 200 {
				t.Errorf("%s (external %v): history %s: %d operations, %v", ps.Workload.Name, nodes != nil, got[i].HistoryFile, len(h), err)
			}
		}
		a, b := got[0], got[1]
		outcomes := func(p results.Point) map[string]string {
			m := map[string]string{}
			for _, v := range p.Verdicts {
				m[v.Checker] = v.Outcome
			}
			return m
		}
		oa, ob := outcomes(a), outcomes(b)
		t.Logf("%s: %v in one process, %v as processes", ps.Workload.Name, oa, ob)
		if len(oa) != 2 || fmt.Sprint(oa) != fmt.Sprint(ob) {
			t.Errorf("%s: verdicts %v in one process, %v as processes", ps.Workload.Name, oa, ob)
		}
		// The register on one node with locking reads is linearizable both ways; the
		// list-append shows InnoDB REPEATABLE READ's anomalies (G-single, G2-item) even on
		// one node, as many or few as the interleaving makes, so only its outcome is
		// compared.
		if ps.Workload.Name == "register" && ob["linearizable"] != results.VerdictPass {
			t.Errorf("register: %+v as processes, want linearizable", b.Verdicts)
		}
	}
}

// ackedCommits reads the acknowledged commits a point's lost-acknowledged verdict checked.
func ackedCommits(p results.Point) int {
	for _, part := range strings.Split(p.Verdicts[0].Detail, "; ") {
		if n, ok := strings.CutSuffix(part, " acknowledged commits"); ok {
			v, _ := strconv.Atoi(n)
			return v
		}
	}
	return -1
}

// A supervised node process with clients of its own is killed (SIGKILL) in the middle of
// the measured phase and restarted: the new process reopens the data directory, rejoins
// through Galera's restart path (IST from its recovered position) and runs the rest of the
// phase; the point converges, no acknowledged write is lost, and the notes say what the
// killed process's last statistics report counted and what it left in doubt.
func TestExternalSupervisedKillRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS cluster and six processes (about 15 s)")
	}
	urls := startNATSCluster(t, 3)
	runID := fmt.Sprintf("kill%d", os.Getpid())
	startNodeProcesses(t, runID, []string{"n1", "n2", "n3"}, urls, envSuper+"=1", envDir+"="+t.TempDir())
	s, points := faultedInsert(t, "kill", "1s:kill=n2", "2s:restart=n2")
	bus := BusConfig{Kind: "nats", URL: strings.Join(urls, ",")}
	x, err := ConnectNodes(context.Background(), bus, runID, 3, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if err := x.CheckSupervised(points, s.Seed); err != nil {
		t.Fatal(err)
	}
	out, err := Run(context.Background(), s, points, Options{Bus: bus, Nodes: x, OutDir: t.TempDir(), NoProgress: true, Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	p := out.Run.Points[0]
	t.Logf("committed %d, aborts %v, faults %v, notes %v", p.Committed, p.Aborts, p.Faults, p.Notes)
	if !p.Converged {
		t.Errorf("not converged: %s", p.ConvergenceDetail)
	}
	if len(p.Verdicts) != 1 || p.Verdicts[0].Outcome != results.VerdictPass {
		t.Errorf("verdicts %+v, want lost-acknowledged pass", p.Verdicts)
	}
	if !slices.ContainsFunc(p.Faults, func(f string) bool { return strings.Contains(f, "n2 serving again after kill") }) {
		t.Errorf("faults %v: n2 never served again", p.Faults)
	}
	if p.Checks != nil || !slices.ContainsFunc(p.Notes, func(n string) bool {
		return strings.Contains(n, "end-of-run checks not run: the process of n2 was killed")
	}) {
		t.Errorf("checks %v, notes %v: want no workload checks after a kill, and a note saying why", p.Checks, p.Notes)
	}
	if !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, "n2's process") && strings.Contains(n, "went down") }) {
		t.Errorf("notes %v: nothing on the killed process's statistics", p.Notes)
	}
	if p.Committed == 0 || p.ByType["insert"].Committed != p.Committed {
		t.Errorf("committed %d (by type %v)", p.Committed, p.ByType)
	}
	// The per-second series is binned from the nodes' reports: a sample a second, and
	// every commit the point counts is in one of them (the killed process's up to its
	// last report, as in the point's total).
	if p.Series == nil || len(p.Series.Samples) < 3 {
		t.Fatalf("series %+v, want a sample a second", p.Series)
	}
	var sum int64
	for _, sm := range p.Series.Samples {
		sum += sm.Committed
	}
	t.Logf("series: %d samples, %d commits (point: %d)", len(p.Series.Samples), sum, p.Committed)
	if sum != p.Committed {
		t.Errorf("the series counts %d commits, the point %d", sum, p.Committed)
	}
}

// BenchmarkExternalPerCommitCost compares the per-commit cost of the points of
// TestExternalNodesMatchInProcess in one process and as node processes on wan-50, and
// fails when they differ by more than 10 %. Run it alone (under flock /tmp/bench.lock on a
// shared machine) with -benchtime=1x.
func BenchmarkExternalPerCommitCost(b *testing.B) {
	for range b.N {
		for _, pr := range runExternalPairs(b) {
			ca, cb := perCommitCost(pr.in), perCommitCost(pr.ext)
			name := pr.in.Protocol
			b.ReportMetric(ca, name+"-in-ms/commit")
			b.ReportMetric(cb, name+"-ext-ms/commit")
			if r := cb / ca; r < 0.9 || r > 1.1 {
				b.Errorf("%s: per-commit cost %.2f ms in one process, %.2f ms as processes (ratio %.3f, want within 10%%)", name, ca, cb, r)
			}
		}
	}
}

// BenchmarkScale9x256Processes is the multi-process half of issue 14's scale figure,
// beside BenchmarkScale9x256: the same point (9 nodes, 256 clients over all of them, insert
// on lan, 3 s, galera and multi-primary group-replication) with every node in its own
// process (this test binary re-run as a node) over a 3-server NATS cluster on 127.0.0.1.
// It reports commits/s, p99, and the resident memory of each node process after the
// point (mean and largest, VmRSS), and fails if the point did not converge. Run it with
// -benchtime=1x.
func BenchmarkScale9x256Processes(b *testing.B) {
	urls := startNATSCluster(b, 3)
	names := memberNames(9)
	runID := fmt.Sprintf("bench%d", os.Getpid())
	startNodeProcesses(b, runID, names, urls)
	bus := BusConfig{Kind: "nats", URL: strings.Join(urls, ",")}
	x, err := ConnectNodes(context.Background(), bus, runID, 9, time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	for _, proto := range []string{"galera", "group-replication"} {
		b.Run(proto, func(b *testing.B) {
			s := &Scenario{Name: "scale", Protocol: proto, Cluster: Cluster{Nodes: 9}, Workload: WorkloadSpec{Name: "insert"},
				Threads: IntList{256}, Writers: Writers{"all"}, Duration: Duration(3 * time.Second), Seed: 1}
			if proto == "group-replication" {
				s.Params = map[string]string{"group_replication_single_primary_mode": "OFF"}
			}
			pts, err := Expand(s)
			if err != nil {
				b.Fatal(err)
			}
			for range b.N {
				out, err := Run(context.Background(), s, pts, Options{Bus: bus, Nodes: x, OutDir: filepath.Join(b.TempDir(), "runs"),
					NoProgress: true, Stdout: io.Discard, Stderr: io.Discard})
				if err != nil {
					b.Fatal(err)
				}
				p := out.Run.Points[0]
				if !p.Converged {
					b.Fatalf("9 node processes x 256 clients did not converge: %s", p.ConvergenceDetail)
				}
				var sum, top float64
				for _, n := range names {
					kb, err := strconv.ParseFloat(p.Status[n]["replbench_node_rss_kb"], 64)
					if err != nil {
						b.Fatalf("%s reported no memory", n)
					}
					sum += kb / 1024
					top = max(top, kb/1024)
				}
				b.ReportMetric(p.TPS, "commits/s")
				b.ReportMetric(p.Latency.P99, "p99-ms")
				b.ReportMetric(sum/float64(len(names)), "rss-MiB/node")
				b.ReportMetric(top, "max-rss-MiB")
			}
		})
	}
}

// pause= and resume= of a node process in the measured phase, as in one process: the
// paused node's clients block at its gate and every emulator holds its links, so n2's
// clients commit nothing between the pause and the resume; the point converges, the
// workload's own checks (over every node's counters summed) pass, and the fault record has
// both events.
func TestExternalPauseResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS cluster and three node processes (about 8 s)")
	}
	x, bus := connectTestNodes(t, "pause")
	s, points := faultedInsert(t, "pause", "1s:pause=n2", "2s:resume=n2")
	if err := CheckExternal(points, s.Seed); err != nil {
		t.Fatal(err)
	}
	out, err := Run(context.Background(), s, points, Options{Bus: bus, Nodes: x, OutDir: t.TempDir(), NoProgress: true, Stdout: io.Discard, Stderr: io.Discard, ReportInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p := out.Run.Points[0]
	t.Logf("committed %d, max %.1f ms, faults %v, checks %v", p.Committed, p.Latency.Max, p.Faults, p.Checks)
	if !p.Converged {
		t.Errorf("not converged: %s", p.ConvergenceDetail)
	}
	if len(p.Faults) != 2 || !strings.HasSuffix(p.Faults[0], " pause n2") || !strings.HasSuffix(p.Faults[1], " resume n2") {
		t.Errorf("faults %q, want pause n2 then resume n2", p.Faults)
	}
	if len(p.Checks) != 2 || slices.Contains(slices.Collect(maps.Values(p.Checks)), false) {
		t.Errorf("checks %v, want insert's two checks passing", p.Checks)
	}
	// Galera's total order needs every member: with n2 paused nobody commits, so a
	// transaction begun just before the pause waits for the resume, a second later (in
	// one process the same run's max is 1006 ms).
	if p.Latency.Max < 900 {
		t.Errorf("max latency %.1f ms: no transaction was held through the 1 s pause", p.Latency.Max)
	}
}

// list-append with writers on every node process: every appended value is unique over the
// whole history, as in one process (where one workload object numbers them for every
// client). Elle reads a value appended twice as a duplicate, an anomaly of the harness.
func TestExternalHistoryValuesUnique(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS cluster and three node processes (about 6 s)")
	}
	x, bus := connectTestNodes(t, "uniq")
	s := &Scenario{Name: "uniq", Protocol: "galera", Cluster: Cluster{Nodes: 3}, Threads: IntList{6}, Writers: Writers{"all"}, Queries: 300,
		Network: NetworkSpec{Preset: "lan"}, Seed: 1, Workload: WorkloadSpec{Name: "list-append"}}
	points, err := Expand(s)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Run(context.Background(), s, points, Options{Bus: bus, Nodes: x, OutDir: t.TempDir(), NoProgress: true, Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	p := out.Run.Points[0]
	h, err := history.ReadFile(filepath.Join(out.Dir, p.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]string{}
	appends := 0
	for _, o := range h {
		for _, m := range o.Mops {
			if m.F != history.Append {
				continue
			}
			appends++
			if prev, dup := seen[m.Value]; dup {
				t.Fatalf("value %d appended by %s and by %s (%d appends so far)", m.Value, prev, o.String(), appends)
			}
			seen[m.Value] = o.String()
		}
	}
	t.Logf("%d appends, all values unique; verdicts %+v", appends, p.Verdicts)
	if appends < 100 {
		t.Errorf("%d appends, want a history with writes on every node", appends)
	}
}
