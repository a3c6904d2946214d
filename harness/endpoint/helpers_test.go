package endpoint

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	_ "github.com/replbench/replbench/galera"
	_ "github.com/replbench/replbench/groupreplication"
	"github.com/replbench/replbench/harness"
	_ "github.com/replbench/replbench/protocols/standalone"
	_ "github.com/replbench/replbench/semisync"
	"github.com/replbench/replbench/storage/sqlexec"
	_ "github.com/replbench/replbench/workloads/insert"
)

// testCluster is a cluster of the harness with an endpoint per node, on the in-memory bus.
type testCluster struct {
	live *harness.Live
	srv  *sqlexec.Server
	set  *Set
}

func startTest(t testing.TB, protocol string, nodes int, params map[string]string, cfg Config) *testCluster {
	t.Helper()
	ps := &harness.PointSpec{Protocol: protocol, Nodes: nodes, Workload: harness.WorkloadSpec{Name: "insert"},
		Threads: 1, Writers: []string{"n1"}, Given: map[string]map[string]string{}}
	for i := 1; i <= nodes; i++ {
		ps.Given[fmt.Sprintf("n%d", i)] = params
	}
	if err := harness.ResolvePoint(ps); err != nil {
		t.Fatalf("%s: %v", protocol, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	live, err := harness.StartLive(ctx, ps, harness.BusConfig{Kind: "memory"}, "", 1, nil)
	if err != nil {
		t.Fatalf("start %s: %v", protocol, err)
	}
	var ns []*sqlexec.Node
	for _, n := range live.Nodes() {
		ns = append(ns, &sqlexec.Node{Name: n.Name, Engine: n.Engine, Provider: n.Provider, Protocol: n.Protocol, Params: n.Params})
	}
	srv, err := sqlexec.NewServer(ns, sqlexec.Options{MaxAllowedPacket: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	set, err := Start(srv, cfg)
	if err != nil {
		live.Close()
		t.Fatal(err)
	}
	tc := &testCluster{live, srv, set}
	t.Cleanup(func() {
		if err := set.Close(); err != nil {
			t.Error(err)
		}
		if err := live.Close(); err != nil {
			t.Error(err)
		}
	})
	return tc
}

// db opens a connection pool to node i (0-based) with extra DSN parameters.
func (tc *testCluster) db(t testing.TB, i int, extra string) *sql.DB {
	t.Helper()
	dsn := "root:@tcp(" + tc.set.Addrs()[i] + ")/"
	if extra != "" {
		dsn += "?" + extra
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t testing.TB, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, q string, args ...any) sql.Result {
	t.Helper()
	r, err := db.ExecContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return r
}

// code returns the MySQL error number of err (0 if err is not a server error).
func code(err error) int {
	if me, ok := err.(*mysql.MySQLError); ok {
		return int(me.Number)
	}
	return 0
}

func queryInts(t *testing.T, db *sql.DB, q string, args ...any) []int64 {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
