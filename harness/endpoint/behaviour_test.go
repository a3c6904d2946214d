package endpoint

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/replbench/replbench/harness"
)

// A write-write conflict between two Galera nodes: both transactions update the same row
// on different nodes; the one certified second gets 1213 at COMMIT (or as a brute-force
// abort), the other commits, and every node converges to the winner's value.
func TestGaleraCertificationConflict(t *testing.T) {
	tc := startTest(t, "galera", 3, nil, Config{})
	d1, d2 := tc.db(t, 0, ""), tc.db(t, 1, "")
	mustExec(t, d1, "CREATE DATABASE app")
	mustExec(t, d1, "CREATE TABLE app.acct (id INT PRIMARY KEY, bal INT NOT NULL)")
	mustExec(t, d1, "INSERT INTO app.acct VALUES (1, 100)")
	waitRow(t, d2, "SELECT bal FROM app.acct WHERE id=1", 100)

	ctx := context.Background()
	c1, _ := d1.Conn(ctx)
	c2, _ := d2.Conn(ctx)
	defer c1.Close()
	defer c2.Close()
	mustExec(t, c1, "BEGIN")
	mustExec(t, c2, "BEGIN")
	mustExec(t, c1, "UPDATE app.acct SET bal = bal + 1 WHERE id = 1")
	mustExec(t, c2, "UPDATE app.acct SET bal = bal + 2 WHERE id = 1")
	_, err1 := c1.ExecContext(ctx, "COMMIT")
	_, err2 := c2.ExecContext(ctx, "COMMIT")
	if (err1 == nil) == (err2 == nil) {
		t.Fatalf("want exactly one commit to fail with 1213, got %v and %v", err1, err2)
	}
	lost := err1
	want := int64(102)
	if lost == nil {
		lost, want = err2, 101
	}
	if code(lost) != 1213 {
		t.Fatalf("the losing commit got %v, want 1213", lost)
	}
	for i := range 3 {
		waitRow(t, tc.db(t, i, ""), "SELECT bal FROM app.acct WHERE id=1", want)
	}
	// The connection that lost stays usable.
	if _, err := c1.ExecContext(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.ExecContext(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
}

// waitRow polls q until it returns want (replicas apply asynchronously after commit).
func waitRow(t *testing.T, db *sql.DB, q string, want int64) {
	t.Helper()
	var got int64
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := db.QueryRow(q).Scan(&got); err == nil && got == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: got %d, want %d", q, got, want)
}

// An autocommit statement that loses certification is re-run by the server
// (wsrep_retry_autocommit) and the client sees success; with the retry off it sees 1213.
func TestGaleraAutocommitRetry(t *testing.T) {
	tc := startTest(t, "galera", 2, nil, Config{})
	d1, d2 := tc.db(t, 0, ""), tc.db(t, 1, "")
	mustExec(t, d1, "CREATE DATABASE app")
	mustExec(t, d1, "CREATE TABLE app.hot (id INT PRIMARY KEY, n INT NOT NULL)")
	mustExec(t, d1, "INSERT INTO app.hot VALUES (1, 0)")
	waitRow(t, d2, "SELECT n FROM app.hot WHERE id=1", 0)
	run := func(retry int) (ok, conflicts int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, db := range []*sql.DB{d1, d2} {
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := db.Conn(context.Background())
					if err != nil {
						t.Error(err)
						return
					}
					defer c.Close()
					if _, err := c.ExecContext(context.Background(), "SET SESSION wsrep_retry_autocommit = "+strconv.Itoa(retry)); err != nil {
						t.Error(err)
						return
					}
					for range 50 {
						_, err := c.ExecContext(context.Background(), "UPDATE app.hot SET n = n + 1 WHERE id = 1")
						mu.Lock()
						switch {
						case err == nil:
							ok++
						case code(err) == 1213:
							conflicts++
						default:
							t.Errorf("update: %v", err)
						}
						mu.Unlock()
					}
				}()
			}
		}
		wg.Wait()
		return ok, conflicts
	}
	okNo, confNo := run(0)
	if confNo == 0 {
		t.Fatalf("no 1213 with wsrep_retry_autocommit=0 over %d hot-row updates from two nodes; the conflict test shows nothing", okNo)
	}
	before := retries(t, d1) + retries(t, d2)
	_, confYes := run(10000)
	if confYes != 0 {
		t.Errorf("%d updates got 1213 with wsrep_retry_autocommit=10000", confYes)
	}
	if after := retries(t, d1) + retries(t, d2); after <= before {
		t.Errorf("the server re-ran no statement (Replbench_autocommit_retries %d -> %d)", before, after)
	}
}

func retries(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	var name string
	var v int64
	if err := db.QueryRow("SHOW GLOBAL STATUS LIKE 'Replbench_autocommit_retries'").Scan(&name, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// A Galera node cut off from the majority is non-primary: statements on tables get 1047,
// SHOW and SET still work, and after the heal it serves again.
func TestGaleraNonPrimary1047(t *testing.T) {
	tc := startTest(t, "galera", 3, map[string]string{"evs.suspect_timeout": "500ms", "evs.inactive_timeout": "1s", "evs.keepalive_period": "100ms"}, Config{})
	d1, d3 := tc.db(t, 0, ""), tc.db(t, 2, "")
	mustExec(t, d1, "CREATE DATABASE app")
	mustExec(t, d1, "CREATE TABLE app.t (id INT PRIMARY KEY)")
	f, err := harness.ParseFault("0s:partition=n1,n2|n3")
	if err != nil {
		t.Fatal(err)
	}
	tc.live.Fault(f)
	deadline := time.Now().Add(20 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		_, last = d3.Exec("SELECT * FROM app.t")
		if code(last) == 1047 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code(last) != 1047 {
		t.Fatalf("the minority node answered %v, want 1047", last)
	}
	var name, status string
	if err := d3.QueryRow("SHOW STATUS LIKE 'wsrep_cluster_status'").Scan(&name, &status); err != nil || status != "non-Primary" {
		t.Errorf("wsrep_cluster_status = %q, %v; want non-Primary", status, err)
	}
	mustExec(t, d1, "INSERT INTO app.t VALUES (1)") // the majority still commits
}

// Group Replication secondaries and semi-sync replicas are super_read_only: 1290.
func TestReadOnlyReplicas1290(t *testing.T) {
	for _, proto := range []string{"group-replication", "semisync"} {
		t.Run(proto, func(t *testing.T) {
			tc := startTest(t, proto, 3, nil, Config{})
			d1, d2 := tc.db(t, 0, ""), tc.db(t, 1, "")
			mustExec(t, d1, "CREATE DATABASE app")
			mustExec(t, d1, "CREATE TABLE app.t (id INT PRIMARY KEY)")
			mustExec(t, d1, "INSERT INTO app.t VALUES (1)")
			_, err := d2.Exec("INSERT INTO app.t VALUES (2)")
			if code(err) != 1290 {
				t.Fatalf("write on n2 = %v, want 1290", err)
			}
			if _, err := d2.Exec("CREATE TABLE app.u (id INT PRIMARY KEY)"); code(err) != 1290 {
				t.Fatalf("DDL on n2 = %v, want 1290", err)
			}
			waitRow(t, d2, "SELECT COUNT(*) FROM app.t", 1) // reads are served
			roles := tc.set.Endpoints()
			if roles[0].Role != "read-write" || roles[1].Role != "read-only" {
				t.Errorf("roles = %+v", roles)
			}
		})
	}
}

// Duplicate keys are 1062 and roll back only the statement: in a multi-row INSERT that
// fails on its second row, the first row is not inserted either, and the transaction's
// earlier work survives.
func TestDuplicateKey1062StatementRollback(t *testing.T) {
	tc := startTest(t, "standalone", 1, nil, Config{})
	db := tc.db(t, 0, "")
	mustExec(t, db, "CREATE DATABASE app")
	mustExec(t, db, "CREATE TABLE app.t (id INT PRIMARY KEY, u VARCHAR(10), UNIQUE KEY uu (u))")
	mustExec(t, db, "INSERT INTO app.t VALUES (1, 'a')")
	c, _ := db.Conn(context.Background())
	defer c.Close()
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "INSERT INTO app.t VALUES (2, 'b')")
	_, err := c.ExecContext(context.Background(), "INSERT INTO app.t VALUES (3, 'c'), (1, 'x')")
	if code(err) != 1062 {
		t.Fatalf("duplicate primary key = %v, want 1062", err)
	}
	_, err = c.ExecContext(context.Background(), "INSERT INTO app.t VALUES (4, 'a')")
	if code(err) != 1062 || !strings.Contains(err.Error(), "uu") {
		t.Fatalf("duplicate unique key = %v, want 1062 naming uu", err)
	}
	mustExec(t, c, "COMMIT")
	if ids := queryInts(t, db, "SELECT id FROM app.t ORDER BY id"); len(ids) != 2 || ids[1] != 2 {
		t.Fatalf("rows after commit = %v, want [1 2]", ids)
	}
	r := mustExec(t, db, "INSERT IGNORE INTO app.t VALUES (1, 'z'), (5, 'e')")
	if n, _ := r.RowsAffected(); n != 1 {
		t.Errorf("INSERT IGNORE affected %d rows, want 1", n)
	}
}

// A lock held by one connection makes another wait innodb_lock_wait_timeout, then 1205;
// the waiting connection's transaction survives (only the statement is rolled back).
func TestLockWaitTimeout1205(t *testing.T) {
	tc := startTest(t, "standalone", 1, map[string]string{"innodb_lock_wait_timeout": "1"}, Config{})
	db := tc.db(t, 0, "")
	mustExec(t, db, "CREATE DATABASE app")
	mustExec(t, db, "CREATE TABLE app.t (id INT PRIMARY KEY, v INT)")
	mustExec(t, db, "INSERT INTO app.t VALUES (1, 0), (2, 0)")
	ctx := context.Background()
	a, _ := db.Conn(ctx)
	b, _ := db.Conn(ctx)
	defer a.Close()
	defer b.Close()
	mustExec(t, a, "BEGIN")
	mustExec(t, a, "SELECT v FROM app.t WHERE id=1 FOR UPDATE")
	mustExec(t, b, "BEGIN")
	mustExec(t, b, "UPDATE app.t SET v=2 WHERE id=2")
	start := time.Now()
	_, err := b.ExecContext(ctx, "UPDATE app.t SET v=1 WHERE id=1")
	if code(err) != 1205 {
		t.Fatalf("waiting update = %v, want 1205", err)
	}
	if w := time.Since(start); w < 900*time.Millisecond {
		t.Errorf("1205 after %v, before innodb_lock_wait_timeout=1", w)
	}
	mustExec(t, a, "ROLLBACK")
	mustExec(t, b, "COMMIT")
	if v := queryInts(t, db, "SELECT v FROM app.t ORDER BY id"); v[0] != 0 || v[1] != 2 {
		t.Fatalf("values = %v, want [0 2]", v)
	}
}
