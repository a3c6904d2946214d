package cli

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/replbench/replbench/harness/target"
)

// lockedBuffer is a bytes.Buffer safe for a writer and a reader in two goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestServeBadInput(t *testing.T) {
	out := t.TempDir()
	for _, args := range [][]string{
		{"--protocol", "nosuch"},
		{"--protocol", "galera,group-replication"},
		{"--threads", "1,8"},
		{"--listen", "127.0.0.1:notaport"},
		{"--max-allowed-packet", "10"},
		{"--user", ""},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(append([]string{"serve", "--out", out, "--bus", "memory"}, args...), &stdout, &stderr)
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if code != ExitUsage || len(lines) != 1 || !strings.HasPrefix(lines[0], "replbench serve: ") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line", args, code, stderr.String())
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("bad input wrote %d entries under --out", len(entries))
	}
}

// TestServeEndToEnd serves a 3-node Galera cluster on free ports for a few seconds, writes
// through n1 and reads the row back on n3 with go-sql-driver/mysql, then checks the table
// and the run directory serve writes when it stops.
func TestServeEndToEnd(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"serve", "--protocol", "galera", "--bus", "memory", "--listen", "127.0.0.1:0",
			"--duration", "4s", "--fault", "3s:partition=n1,n2|n3", "--converge-timeout", "2s", "--out", out,
			"--target-file", filepath.Join(out, "target.yaml")}, &stdout, &stderr)
	}()
	addrs := waitTable(t, &stdout, &stderr, 30*time.Second)
	// The target file names the same endpoints, as run --target reads it.
	tf, err := target.LoadFile(filepath.Join(out, "target.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if tf.Kind != "galera" || len(tf.Nodes) != 3 || tf.Nodes[2].Name != "n3" || tf.Nodes[0].Role != "member" ||
		fmt.Sprintf("%s:%d", tf.Nodes[2].Host, tf.Nodes[2].Port) != addrs[2][2] {
		t.Errorf("target file %+v does not name the endpoints %v", tf, addrs)
	}
	db1, err := sql.Open("mysql", "root:@tcp("+addrs[0][2]+")/")
	if err != nil {
		t.Fatal(err)
	}
	defer db1.Close()
	for _, q := range []string{"CREATE DATABASE s", "CREATE TABLE s.t (id INT PRIMARY KEY, v INT)", "INSERT INTO s.t VALUES (1, 10)"} {
		if _, err := db1.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db3, err := sql.Open("mysql", "root:@tcp("+addrs[2][2]+")/s?wsrep_sync_wait=1")
	if err != nil {
		t.Fatal(err)
	}
	defer db3.Close()
	var v int
	if err := db3.QueryRow("SELECT v FROM t WHERE id = 1").Scan(&v); err != nil || v != 10 {
		t.Fatalf("read on n3: v=%d err=%v, want 10", v, err)
	}
	db1.Close()
	db3.Close()
	code := <-done
	// The partition is still in force at the end, but everything was written before it, so
	// the nodes agree; whatever the verdict, the exit code must say the same as the record.
	dirs, _ := filepath.Glob(filepath.Join(out, "*-serve-galera"))
	if len(dirs) != 1 {
		t.Fatalf("run directories %v (exit %d, stderr %q)", dirs, code, stderr.String())
	}
	js, err := os.ReadFile(filepath.Join(dirs[0], "serve.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec serveRecord
	if err := json.Unmarshal(js, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Nodes != 3 || len(rec.Endpoints) != 3 || len(rec.Status) != 3 {
		t.Errorf("record: %d nodes, %d endpoints, status of %d nodes; want 3 each", rec.Nodes, len(rec.Endpoints), len(rec.Status))
	}
	if len(rec.Faults) != 1 || !strings.Contains(rec.Faults[0], "partition n1,n2|n3") {
		t.Errorf("fault timeline %q, want the partition", rec.Faults)
	}
	if got := rec.Status["n1"]["Com_insert"]; got != "1" {
		t.Errorf("n1 Com_insert = %q, want 1", got)
	}
	if (code == ExitOK) != rec.Converged {
		t.Errorf("exit %d but converged=%v (%s)", code, rec.Converged, rec.ConvergeDetail)
	}
	if !strings.Contains(stdout.String(), "written to "+dirs[0]) {
		t.Errorf("stdout does not name the run directory: %q", stdout.String())
	}
}
