package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/replbench/replbench/protocols"
)

func run(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Main(args, &o, &e)
	return code, o.String(), e.String()
}

// Bad input: exit 2, one line on stderr naming the problem and the accepted values, and
// nothing written — no --json file, no run directory.
func TestRunBadInput(t *testing.T) {
	dir := t.TempDir()
	yamlBad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(yamlBad, []byte("name: x\nworkload: {name: insert}\nqueries: 5\nthreds: 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	yamlNeither := filepath.Join(dir, "neither.yaml")
	if err := os.WriteFile(yamlNeither, []byte("name: x\nprotocol: standalone\nworkload: {name: insert}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown protocol", []string{"--protocol", "nosuch"}, `unknown protocol "nosuch" (accepted: `},
		{"unknown workload", []string{"--workload", "nosuch", "--queries", "5"}, `unknown workload "nosuch" (accepted: `},
		{"unknown preset", []string{"--network", "mars", "--queries", "5"}, `unknown network preset "mars" (accepted: lan`},
		{"unknown parameter", []string{"--protocol", "standalone", "--param", "wsrep_bogus=1", "--queries", "5"}, `unknown parameter "wsrep_bogus"`},
		{"bad parameter value", []string{"--protocol", "standalone", "--param", "innodb_lock_wait_timeout=soon", "--queries", "5"}, `innodb_lock_wait_timeout`},
		{"unknown node in delay", []string{"--protocol", "semisync", "--delay", "n7=5ms", "--queries", "5"}, "unknown node n7 (accepted: n1, n2, n3)"},
		{"unknown node in link", []string{"--protocol", "semisync", "--link", "n1-n9=5ms", "--queries", "5"}, "unknown node n9"},
		{"writer beyond nodes", []string{"--protocol", "semisync", "--nodes", "3", "--writers", "n1,n4", "--queries", "5"}, `unknown writer node "n4"`},
		{"param node beyond nodes", []string{"--protocol", "semisync", "--param", "n4:innodb_lock_wait_timeout=1", "--queries", "5"}, `unknown node "n4"`},
		{"negative duration", []string{"--duration", "-5s"}, "negative duration"},
		{"unparsable duration", []string{"--duration", "ten"}, `invalid duration "ten"`},
		{"unparsable delay", []string{"--delay", "n2=fast", "--queries", "5"}, "--delay"},
		{"zero duration", []string{"--queries", "5", "--duration", "0s"}, "--duration: invalid run length 0s"},
		{"zero queries", []string{"--queries", "0"}, "--queries: invalid count 0"},
		{"threads 0", []string{"--threads", "0", "--queries", "5"}, "invalid thread count 0"},
		{"threads junk", []string{"--threads", "1,x", "--queries", "5"}, `invalid integer "x"`},
		{"both queries and duration", []string{"--protocol", "standalone", "--queries", "5", "--duration", "1s"}, "both queries"},
		{"neither in a file", []string{yamlNeither}, "neither queries nor duration"},
		{"malformed scenario", []string{yamlBad}, `bad.yaml:4: unknown field "threds"`},
		{"unknown scenario", []string{"no-such-scenario"}, `unknown scenario "no-such-scenario"`},
		{"two scenarios", []string{"wan-concurrency", "wan-concurrency-nonwriter"}, "more than one scenario"},
		{"unknown flag", []string{"--frobnicate"}, "flag provided but not defined: -frobnicate"},
		{"bad bus", []string{"--bus", "carrier-pigeon"}, `unknown bus "carrier-pigeon" (accepted: nats, memory)`},
		{"fault unknown node", []string{"--protocol", "galera", "--duration", "5s", "--fault", "1s:partition=n1,n2|n4"}, "--fault: fault 1s:partition=n1,n2|n4: unknown node n4 (accepted: n1, n2, n3)"},
		{"fault bad time", []string{"--protocol", "galera", "--duration", "5s", "--fault", "soon:heal"}, `--fault: fault "soon:heal": bad time`},
		{"fault after the run", []string{"--protocol", "galera", "--duration", "5s", "--fault", "6s:heal"}, "bad time 6s: the measured phase lasts 5s"},
		{"fault unknown event", []string{"--protocol", "galera", "--duration", "5s", "--fault", "1s:meteor"}, `unknown fault event "meteor"`},
		{"pause of a crashed node", []string{"--protocol", "galera", "--duration", "5s", "--fault", "1s:crash=n1", "--fault", "2s:pause=n1"}, "fault 2s:pause=n1: n1 is down since 1s:crash=n1: there is no process to freeze"},
		{"bad nemesis option", []string{"--protocol", "galera", "--duration", "5s", "--fault", "1s:random=overlap"}, "random=7,compound"},
		{"standalone on 3 nodes", []string{"--protocol", "standalone", "--nodes", "3", "--queries", "5"}, "runs on 1 nodes, not 3"},
		{"bad loss", []string{"--loss", "2", "--queries", "5"}, "--loss"},
		{"bad jitter", []string{"--jitter", "wobbly", "--queries", "5"}, "--jitter"},
		{"unknown workload option", []string{"--workload-option", "colour=red", "--queries", "5"}, `unknown option "colour"`},
		{"nodes 0", []string{"--protocol", "semisync", "--nodes", "0", "--queries", "5"}, "--nodes: invalid node count 0 (accepted: 1 to 64; leave the flag out for the protocol's default)"},
		{"nodes negative", []string{"--nodes", "-2", "--queries", "5"}, "--nodes: invalid node count -2"},
		{"param out of range", []string{"--protocol", "semisync", "--param", "rpl_semi_sync_master_wait_for_slave_count=0", "--queries", "5"}, "--param rpl_semi_sync_master_wait_for_slave_count: parameter rpl_semi_sync_master_wait_for_slave_count: 0 is out of range (accepted: 1 to 65535)"},
		{"gr param out of range", []string{"--protocol", "gr", "--param", "group_replication_gtid_assignment_block_size=0", "--queries", "5"}, "group_replication_gtid_assignment_block_size: 0 is out of range"},
		{"per-node param out of range", []string{"--protocol", "semisync", "--param", "n3:rpl_semi_sync_master_wait_for_slave_count=0", "--queries", "5"}, "--param n3:rpl_semi_sync_master_wait_for_slave_count: "},
		{"per-node cross-parameter rule", []string{"--protocol", "galera", "--param", "n2:evs.keepalive_period=3s", "--queries", "5"}, "--param n2:evs.keepalive_period (on n2): galera: evs.keepalive_period (3s) must be at most a third of evs.suspect_timeout"},
		{"cross-parameter rule", []string{"--protocol", "galera", "--param", "evs.user_send_window=9999", "--queries", "5"}, "evs.user_send_window (9999) must not exceed evs.send_window"},
		{"negative refused backoff", []string{"--refused-backoff", "-1ms", "--queries", "5"}, "negative duration"},
		{"unknown flavour", []string{"--protocol", "semisync", "--flavor", "nosuch", "--queries", "5"}, "--param replbench.flavor"},
		{"json is a directory", []string{"--queries", "5", "--json", dir}, "is a directory"},
		{"json in proc", []string{"--queries", "5", "--json", "/proc/x.json"}, "cannot write /proc/x.json"},
		{"data dir in proc", []string{"--queries", "5", "--data-dir", "/proc/self"}, "--data-dir: cannot write /proc/self"},
		{"unreachable nats", []string{"--queries", "5", "--bus", "nats", "--nats-url", "nats://127.0.0.1:1"}, "--nats-url: cannot connect to nats://127.0.0.1:1"},
		{"repeats above the limit", []string{"--queries", "5", "--repeats", "1000"}, "--repeats: invalid repeat count 1000 (accepted: 1 to 100)"},
		{"warm-up above the limit", []string{"--queries", "5", "--warmup", "1000h"}, "--warmup: warm-up 1000h0m0s is above the limit"},
		{"delay overflow", []string{"--queries", "5", "--protocol", "semisync", "--link", "n1-n2=9223372036854775807ns"}, "is above the limit (accepted: 0 to 1m0s one way)"},
		{"huge sweep without --yes", []string{"--protocol", "semisync", "--time", "1h", "--threads", "1,2,4"}, "this run has 3 point(s) and would take about 3h0m2s"},
		{"bad output", []string{"--queries", "5", "--output", "xml"}, `--output: unknown output "xml" (accepted: table, plain, json)`},
		{"bad percentile", []string{"--queries", "5", "--percentile", "99,101"}, `--percentile: invalid percentile "101"`},
		{"csv to stdout", []string{"--queries", "5", "--csv", "-"}, "--csv -: standard output is not accepted"},
		{"json in missing dir", []string{"--queries", "5", "--json", filepath.Join(dir, "nope", "x.json")}, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "runs-"+strings.ReplaceAll(tc.name, " ", "-"))
			jsonPath := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
			args := append([]string{"run", "--out", out, "--bus", "memory"}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "--json") {
				args = append(args, "--json", jsonPath)
			}
			code, stdout, stderr := run(args...)
			if code != ExitUsage {
				t.Fatalf("exit %d, want 2; stderr %q", code, stderr)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
				t.Fatalf("stderr is not one line: %q", stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Fatalf("stderr %q does not contain %q", stderr, tc.want)
			}
			if stdout != "" {
				t.Fatalf("stdout %q", stdout)
			}
			for _, p := range []string{out, jsonPath} {
				if _, err := os.Stat(p); err == nil {
					t.Fatalf("%s was written", p)
				}
			}
		})
	}
}

func TestUsageAndHelp(t *testing.T) {
	if code, _, stderr := run(); code != ExitUsage || !strings.Contains(stderr, "usage:") {
		t.Fatalf("no args: %d %q", code, stderr)
	}
	if code, _, stderr := run("fly"); code != ExitUsage || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("unknown command: %d %q", code, stderr)
	}
	code, stdout, _ := run("run", "-h")
	if code != ExitOK || !strings.Contains(stdout, "--queries") && !strings.Contains(stdout, "-queries") {
		t.Fatalf("run -h: %d %q", code, stdout)
	}
}

func TestListings(t *testing.T) {
	code, stdout, _ := run("scenarios")
	if code != ExitOK || !strings.Contains(stdout, "wan-concurrency ") || !strings.Contains(stdout, "wan-concurrency-nonwriter") {
		t.Fatalf("scenarios: %d\n%s", code, stdout)
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if len(strings.Fields(line)) < 2 {
			t.Errorf("scenario line without a description: %q", line)
		}
	}
	code, stdout, _ = run("workloads")
	if code != ExitOK || !strings.Contains(stdout, "insert") || !strings.Contains(stdout, "--hot-rows") {
		t.Fatalf("workloads: %d\n%s", code, stdout)
	}
	for _, p := range protocols.Names() {
		code, stdout, _ = run("params", p)
		if code != ExitOK || !strings.Contains(stdout, "innodb_lock_wait_timeout") || !strings.Contains(stdout, "PARAMETER") {
			t.Fatalf("params %s: %d\n%s", p, code, stdout)
		}
		pr, _ := protocols.Lookup(p)
		for _, d := range pr.Params {
			if !strings.Contains(stdout, d.Name) {
				t.Errorf("params %s does not list %s", p, d.Name)
			}
		}
		if pr.Notes != "" && !strings.Contains(stdout, "Notes:") {
			t.Errorf("params %s does not print the notes", p)
		}
	}
	if code, _, stderr := run("params", "nosuch"); code != ExitUsage || !strings.Contains(stderr, "accepted") {
		t.Fatalf("params nosuch: %d %q", code, stderr)
	}
}

// An ad-hoc run through the command line, workload options given as their own flags: the
// table goes to stdout, --json and --csv are written, and every point converged.
func TestRunAdhocThroughCLI(t *testing.T) {
	dir := t.TempDir()
	jsonPath, csvPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.csv")
	code, stdout, stderr := run("run", "--protocol", "semisync", "--workload", "hotspot", "--hot-rows", "2",
		"--threads", "1,3", "--queries", "60", "--bus", "memory", "--out", filepath.Join(dir, "runs"),
		"--json", jsonPath, "--csv", csvPath, "--status", "--seed", "9")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "semisync") {
		t.Fatalf("no table on stdout:\n%s", stdout)
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schema string
		Seed   int64
		Points []struct {
			Protocol  string
			Threads   int
			Converged bool
			Options   map[string]string `json:"workload_options"`
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != "replbench/v1" || doc.Seed != 9 || len(doc.Points) != 2 {
		t.Fatalf("doc %+v", doc)
	}
	for _, p := range doc.Points {
		if !p.Converged || p.Options["hot-rows"] != "2" {
			t.Fatalf("point %+v", p)
		}
	}
	if st, err := os.Stat(csvPath); err != nil || st.Size() == 0 {
		t.Fatalf("csv: %v", err)
	}
	if !strings.Contains(stderr, "Rpl_semi_sync") && !strings.Contains(stderr, "status after") {
		t.Fatalf("--status printed nothing:\n%s", stderr)
	}
}

// End to end through the command line: every registered protocol (standalone on one node,
// the others on three) with the insert and hotspot workloads, over the in-memory bus and
// over embedded NATS, as a scenario file with sweep axes. Every point converges, commits
// all its work, and the JSON has the schema.
func TestRunEveryProtocolBothBuses(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "all.yaml")
	yaml := "name: all\ndescription: every protocol, both small workloads.\nthreads: [4]\nqueries: 80\n" +
		"sweep:\n  protocols: [" + strings.Join(protocols.Names(), ", ") + "]\n  workloads:\n    - name: insert\n    - name: hotspot\n"
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bus := range []string{"memory", "nats"} {
		t.Run(bus, func(t *testing.T) {
			jsonPath := filepath.Join(dir, bus+".json")
			code, _, stderr := run("run", file, "--bus", bus, "--out", filepath.Join(dir, "runs"), "--json", jsonPath)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			b, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Schema      string
				Environment struct{ Bus string }
				Points      []struct {
					Protocol, Workload string
					Nodes              int
					Queries, Committed int64
					Aborts             map[string]int64
					Converged          bool
				}
			}
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Schema != "replbench/v1" || len(doc.Points) != 2*len(protocols.Names()) {
				t.Fatalf("schema %q, %d points", doc.Schema, len(doc.Points))
			}
			wantBus := map[string]string{"memory": "memory", "nats": "nats-embedded"}[bus]
			if doc.Environment.Bus != wantBus {
				t.Fatalf("environment bus %q, want %q", doc.Environment.Bus, wantBus)
			}
			for _, p := range doc.Points {
				var aborts int64
				for _, n := range p.Aborts {
					aborts += n
				}
				if !p.Converged || p.Committed == 0 || p.Committed+aborts != p.Queries {
					t.Errorf("%s/%s on %d nodes: converged %v, committed %d, aborts %v of %d", p.Protocol, p.Workload, p.Nodes, p.Converged, p.Committed, p.Aborts, p.Queries)
				}
				if (p.Protocol == "standalone") != (p.Nodes == 1) {
					t.Errorf("%s on %d nodes", p.Protocol, p.Nodes)
				}
			}
		})
	}
}

// law and report are dispatched to their packages' entry points.
func TestDispatch(t *testing.T) {
	code, stdout, stderr := run("law", "--protocol", "all", "--nodes", "3", "--network", "wan-50", "--threads", "8")
	if code != ExitOK || !strings.Contains(stdout, "galera") {
		t.Fatalf("law: %d %q %q", code, stdout, stderr)
	}
	if code, _, stderr := run("report"); code != ExitUsage || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("report without a directory: %d %q", code, stderr)
	}
	dir := t.TempDir()
	if code, _, stderr := run("run", "--protocol", "standalone", "--queries", "20", "--bus", "memory", "--out", dir); code != ExitOK {
		t.Fatalf("run: %s", stderr)
	}
	runs, _ := filepath.Glob(filepath.Join(dir, "*-adhoc"))
	if len(runs) != 1 {
		t.Fatalf("run directories %v", runs)
	}
	if code, stdout, stderr := run("report", "--no-plots", runs[0]); code != ExitOK || !strings.Contains(stdout, "standalone") {
		t.Fatalf("report: %d %q %q", code, stdout, stderr)
	}
}

// --data-dir puts every node on disk, one subdirectory per node, fresh for every point; a
// directory that already holds node databases is refused before anything runs.
func TestRunDataDir(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	code, _, stderr := run("run", "--protocol", "semisync", "--queries", "40", "--threads", "1,2", "--bus", "memory",
		"--data-dir", data, "--out", filepath.Join(dir, "runs"), "--param", "innodb_flush_log_at_trx_commit=2")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if ents, _ := os.ReadDir(data); len(ents) != 0 {
		t.Fatalf("node directories left behind: %v", ents)
	}
	if err := os.MkdirAll(filepath.Join(data, "n2"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run("run", "--protocol", "semisync", "--queries", "40", "--data-dir", data, "--out", filepath.Join(dir, "runs2"))
	if code != ExitUsage || !strings.Contains(stderr, "already holds") {
		t.Fatalf("exit %d: %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "runs2")); err == nil {
		t.Fatal("refused run wrote its directory")
	}
}

// --refused-backoff reaches the clients: with 0 the clients on semi-sync replicas retry at
// once, and the note under the table says so, with the refusals per node; the point's
// writers are the nodes that had clients.
func TestRunRefusedBackoffFlag(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "r.json")
	code, stdout, stderr := run("run", "--protocol", "semisync", "--writers", "all", "--threads", "2", "--queries", "20",
		"--refused-backoff", "0", "--bus", "memory", "--out", filepath.Join(dir, "runs"), "--json", jsonPath)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "refused by the node: n2 10 read_only; the clients retried at once (--refused-backoff 0)") {
		t.Fatalf("no refusal note under the table:\n%s", stdout)
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Points []struct{ Writers []string } }
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Points) != 1 || strings.Join(doc.Points[0].Writers, ",") != "n1,n2" {
		t.Fatalf("writers %+v, want n1,n2 (2 threads over 3 writers)", doc.Points)
	}
}
