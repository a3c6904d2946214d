package cli

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/replbench/replbench/protocols"
)

// envHelperArgs makes the test binary a replbench process: TestHelperReplbench runs Main
// with these arguments (separated by \x1f) and exits with its code.
const envHelperArgs = "REPLBENCH_CLI_TEST_ARGS"

// TestHelperReplbench is not a test: it is the body of a `replbench ...` child process the
// DDL tests start (envHelperArgs), so that every node and the coordinator run in processes
// of their own and share nothing but NATS.
func TestHelperReplbench(t *testing.T) {
	args := os.Getenv(envHelperArgs)
	if args == "" {
		t.Skip("the body of a replbench child process started by TestServeNodesExternalDDL")
	}
	os.Exit(Main(strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
}

// child is a replbench process started from the test binary; out is its stdout+stderr.
type child struct {
	cmd  *exec.Cmd
	out  string
	done chan struct{}
	code int
}

func startChild(t *testing.T, name string, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperReplbench$")
	cmd.Env = append(os.Environ(), envHelperArgs+"="+strings.Join(args, "\x1f"))
	out := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a child process from the test binary: %v", err)
	}
	c := &child{cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		c.code = cmd.ProcessState.ExitCode()
		f.Close()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill() // by its PID
			<-c.done
		}
		if t.Failed() {
			t.Logf("%s (%s):\n%s", name, strings.Join(args, " "), c.log())
		}
	})
	return c
}

func (c *child) log() string { b, _ := os.ReadFile(c.out); return string(b) }

// wait waits for the process to end and returns its exit code.
func (c *child) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-c.done:
		return c.code
	case <-time.After(d):
		t.Fatalf("process %d did not end within %s", c.cmd.Process.Pid, d)
		return -1
	}
}

// servedCluster is serve --nodes-external over three node processes of protocol.
type servedCluster struct {
	serve *child
	nodes []*child
	addrs []string
	dbs   []*sql.DB
}

func startServedCluster(t *testing.T, protocol, runID string) *servedCluster {
	t.Helper()
	url := testNATS(t)
	c := &servedCluster{}
	for _, n := range []string{"n1", "n2", "n3"} {
		c.nodes = append(c.nodes, startChild(t, n, "node", "--name", n, "--nats-url", url, "--run-id", runID, "--wait", "30s"))
	}
	c.serve = startChild(t, "serve", "serve", "--nodes-external", "--nats-url", url, "--run-id", runID, "--nodes-wait", "30s",
		"--protocol", protocol, "--listen", "127.0.0.1:0", "--out", t.TempDir())
	row := regexp.MustCompile(`(?m)^(n\d)\s+(127\.0\.0\.1:\d+)\s`)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && len(c.addrs) < 3; time.Sleep(50 * time.Millisecond) {
		c.addrs = nil
		for _, m := range row.FindAllStringSubmatch(c.serve.log(), -1) {
			c.addrs = append(c.addrs, m[2])
		}
		select {
		case <-c.serve.done:
			t.Fatalf("serve exited %d before serving:\n%s", c.serve.code, c.serve.log())
		default:
		}
	}
	if len(c.addrs) != 3 {
		t.Fatalf("serve printed no table of 3 nodes:\n%s", c.serve.log())
	}
	for _, a := range c.addrs {
		db, err := sql.Open("mysql", "root:@tcp("+a+")/")
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(4)
		t.Cleanup(func() { db.Close() })
		c.dbs = append(c.dbs, db)
	}
	return c
}

// stop ends serve by its PID with SIGTERM, as Ctrl-C would, and requires serve and the
// nodes (which the coordinator ends) to exit 0.
func (c *servedCluster) stop(t *testing.T, down ...int) {
	t.Helper()
	for _, db := range c.dbs {
		db.Close()
	}
	if err := c.serve.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// With a node's process gone the stop cannot check it: serve still writes its record
	// and says which node did not answer, and exits as for a point that did not converge.
	want := ExitOK
	if len(down) > 0 {
		want = ExitFailure
	}
	if code := c.serve.wait(t, 30*time.Second); code != want {
		t.Errorf("serve exited %d, want %d:\n%s", code, want, c.serve.log())
	}
	for _, i := range down {
		if log := c.serve.log(); !strings.Contains(log, "DID NOT CONVERGE") || !strings.Contains(log, fmt.Sprintf("n%d", i+1)) {
			t.Errorf("serve's stop with n%d gone does not say it did not converge naming n%d:\n%s", i+1, i+1, log)
		}
	}
	for i, n := range c.nodes {
		if code := n.wait(t, 30*time.Second); code != ExitOK && !contains(down, i) {
			t.Errorf("n%d exited %d, want 0 (the coordinator ended the run)", i+1, code)
		}
	}
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func mustExec(t *testing.T, db *sql.DB, node int, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("n%d: %s: %v", node, q, err)
	}
}

// mysqlErr is the MySQL error number and message of err (0 for none or another error).
func mysqlErr(err error) (uint16, string) {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number, me.Message
	}
	return 0, ""
}

func showCreate(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	var name, def string
	if err := db.QueryRow("SHOW CREATE TABLE "+table).Scan(&name, &def); err != nil {
		t.Fatalf("SHOW CREATE TABLE %s: %v", table, err)
	}
	return def
}

// waitRows polls until node's table holds n rows (replication is asynchronous to the
// reader on GR and semi-sync secondaries without a sync wait).
func waitRows(t *testing.T, db *sql.DB, node int, table string, n int) {
	t.Helper()
	var got int
	var err error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err = db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&got); err == nil && got == n {
			return
		}
	}
	t.Fatalf("n%d: %s has %d rows (err %v), want %d", node, table, got, err, n)
}

// DDL through the endpoints of node processes (serve --nodes-external), for each protocol:
// a database and a table created through n1 are there on n2 and n3 at once, the rows
// inserted through n1 follow by replication, a refused change (a duplicate table, a
// unique index over duplicates) changes nothing on any node, DDL on a read-only GR
// secondary or semi-sync replica gets the in-process error, and DROP DATABASE empties the
// catalogue everywhere. On Galera every node takes DDL, concurrent DDL from two endpoints
// is applied in one order, and a node whose process is gone fails DDL at once with an
// error naming it.
func TestServeNodesExternalDDL(t *testing.T) {
	for _, protocol := range []string{"galera", "group-replication", "semisync"} {
		t.Run(protocol, func(t *testing.T) {
			c := startServedCluster(t, protocol, "ddl-"+strings.ReplaceAll(protocol, "-", ""))
			n1, n2, n3 := c.dbs[0], c.dbs[1], c.dbs[2]
			mustExec(t, n1, 1, "CREATE DATABASE app")
			mustExec(t, n1, 1, "CREATE TABLE app.t (id INT PRIMARY KEY, v INT, c VARCHAR(20))")
			mustExec(t, n1, 1, "INSERT INTO app.t VALUES (1, 10, 'a'), (2, 20, 'b')")
			for i, db := range []*sql.DB{n2, n3} {
				if def := showCreate(t, db, "app.t"); !strings.Contains(def, "`c` varchar(20)") {
					t.Errorf("n%d: app.t is %q", i+2, def)
				}
				waitRows(t, db, i+2, "app.t", 2)
			}

			// Refused on the first node: nothing changes anywhere, with the in-process error.
			_, err := n1.Exec("CREATE TABLE app.t (id INT PRIMARY KEY)")
			if code, _ := mysqlErr(err); code != 1050 {
				t.Errorf("duplicate CREATE TABLE: %v, want 1050", err)
			}
			mustExec(t, n1, 1, "INSERT INTO app.t VALUES (3, 10, 'c')")
			waitRows(t, n3, 3, "app.t", 3)
			_, err = n1.Exec("ALTER TABLE app.t ADD UNIQUE KEY uv (v)")
			if code, _ := mysqlErr(err); code != 1062 {
				t.Errorf("unique index over duplicates: %v, want 1062", err)
			}
			for i, db := range c.dbs {
				if def := showCreate(t, db, "app.t"); strings.Contains(def, "uv") || strings.Contains(def, "`id` int NOT NULL,\n  PRIMARY") {
					t.Errorf("n%d: a refused change left app.t as %q", i+1, def)
				}
			}
			mustExec(t, n1, 1, "CREATE INDEX kc ON app.t (c)")
			if def := showCreate(t, n3, "app.t"); !strings.Contains(def, "KEY `kc` (`c`)") {
				t.Errorf("n3: the new index is missing: %q", def)
			}

			if protocol == "galera" {
				// Any node takes DDL; two endpoints at once get one order.
				mustExec(t, n2, 2, "CREATE TABLE app.g (id INT PRIMARY KEY)")
				mustExec(t, n3, 3, "INSERT INTO app.g VALUES (7)")
				waitRows(t, n1, 1, "app.g", 1)
				var wg sync.WaitGroup
				wins := make([]int, 3)
				for i, db := range c.dbs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for k := range 5 {
							_, err := db.Exec(fmt.Sprintf("CREATE TABLE app.race%d (id INT PRIMARY KEY, from_n%d INT)", k, i+1))
							if err == nil {
								wins[i]++
							} else if code, _ := mysqlErr(err); code != 1050 {
								t.Errorf("n%d: concurrent CREATE TABLE: %v, want success or 1050", i+1, err)
							}
						}
					}()
				}
				wg.Wait()
				if wins[0]+wins[1]+wins[2] != 5 {
					t.Errorf("%v creations of 5 names succeeded, want 5 in all", wins)
				}
				for k := range 5 {
					want := showCreate(t, n1, fmt.Sprintf("app.race%d", k))
					for i, db := range c.dbs[1:] {
						if got := showCreate(t, db, fmt.Sprintf("app.race%d", k)); got != want {
							t.Errorf("app.race%d: n%d has %q, n1 %q", k, i+2, got, want)
						}
					}
				}
			} else {
				// A read-only secondary (GR) or replica (semi-sync): its provider's
				// BeforeWrite refuses, as in one process, and nothing changes.
				_, err := n2.Exec("CREATE TABLE app.x (id INT PRIMARY KEY)")
				want := protocols.ErrReadOnly()
				t.Logf("DDL on the read-only n2: %v", err)
				if code, msg := mysqlErr(err); int(code) != want.Code || msg != want.Msg {
					t.Errorf("DDL on n2 (read-only): %v, want %d %s", err, want.Code, want.Msg)
				}
				if _, err := n1.Exec("SELECT 1 FROM app.x"); err == nil {
					t.Errorf("the refused table app.x exists on n1")
				}
			}

			mustExec(t, n3, 3, "USE app") // a pooled connection: only checks the name
			if protocol == "galera" {
				mustExec(t, n2, 2, "DROP DATABASE app")
			} else {
				mustExec(t, n1, 1, "DROP DATABASE app")
			}
			for i, db := range c.dbs {
				if _, err := db.Exec("USE app"); err == nil {
					t.Errorf("n%d: database app is still there after DROP DATABASE", i+1)
				} else if code, _ := mysqlErr(err); code != 1049 {
					t.Errorf("n%d: USE app: %v, want 1049", i+1, err)
				}
			}

			if protocol != "galera" {
				c.stop(t)
				return
			}
			// A node whose process is gone: DDL fails at once, naming it and what to do.
			if err := c.nodes[2].cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			c.nodes[2].wait(t, 10*time.Second)
			start := time.Now()
			_, err = n1.Exec("CREATE TABLE replbench.after_kill (id INT PRIMARY KEY)")
			if err == nil || !strings.Contains(err.Error(), "n3") || !strings.Contains(err.Error(), "restart") {
				t.Errorf("DDL with n3 gone: %v, want an error naming n3 and saying to restart it", err)
			}
			t.Logf("DDL with n3's process gone, after %s: %v", time.Since(start).Round(time.Millisecond), err)
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("DDL with n3 gone took %s, want a bounded failure", d)
			}
			if _, err := n2.Exec("SELECT 1 FROM replbench.after_kill"); err == nil {
				t.Errorf("the failed CREATE TABLE after_kill exists on n2")
			}
			c.stop(t, 2)
		})
	}
}
