package endpoint

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/replbench/replbench/workloads"
	"github.com/replbench/replbench/workloads/sysbench"
)

// loadSbtest creates sbtest.sbtest1 with n rows as sysbench's prepare does: multi-row
// INSERTs of up to 512 KiB each (sysbench's bulk insert buffer), then the secondary index
// on k. The statement size matters: Pebble takes a batch that large as a flushable batch
// of its own, so the rows end up in sstables read through the block cache, as in serve.
func loadSbtest(b *testing.B, db *sql.DB, n int) {
	b.Helper()
	mustExec(b, db, "CREATE DATABASE sbtest")
	mustExec(b, db, "CREATE TABLE sbtest.sbtest1(id INTEGER NOT NULL AUTO_INCREMENT, k INTEGER DEFAULT '0' NOT NULL, c CHAR(120) DEFAULT '' NOT NULL, pad CHAR(60) DEFAULT '' NOT NULL, PRIMARY KEY (id))")
	r := workloads.NewRand(1, 1)
	const head = "INSERT INTO sbtest.sbtest1(k, c, pad) VALUES "
	var q strings.Builder
	for i := range n {
		if q.Len() == 0 {
			q.WriteString(head)
		} else {
			q.WriteString(",")
		}
		fmt.Fprintf(&q, "(%d,'%s','%s')", r.IntN(n)+1, workloads.Template(r, sysbench.CTemplate), workloads.Template(r, sysbench.PadTemplate))
		if q.Len() >= 512<<10 || i == n-1 {
			mustExec(b, db, q.String())
			q.Reset()
		}
	}
	mustExec(b, db, "CREATE INDEX k_1 ON sbtest.sbtest1(k)")
}

// BenchmarkWirePointSelect is sysbench oltp_point_select's statement through the whole
// front end: go-sql-driver over loopback TCP, the vitess endpoint, the server-side
// prepared statement, the SQL layer and the engine of a standalone node, from as many
// client goroutines as sysbench --threads=8. What it measures is the server's work per
// query plus the client's; a regression anywhere on the point path shows here.
func BenchmarkWirePointSelect(b *testing.B) {
	const rows = 10000
	tc := startTest(b, "standalone", 1, nil, Config{})
	db := tc.db(b, 0, "")
	loadSbtest(b, db, rows)
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	stmt, err := db.Prepare("SELECT c FROM sbtest.sbtest1 WHERE id=?")
	if err != nil {
		b.Fatal(err)
	}
	defer stmt.Close()
	ctx := context.Background()
	b.SetParallelism(4) // 2 cores x 4 = sysbench's 8 threads on this machine type
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 0))
		var c string
		for pb.Next() {
			if err := stmt.QueryRowContext(ctx, r.IntN(rows)+1).Scan(&c); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
