package sqlexec

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/replbench/replbench/workloads"
	"github.com/replbench/replbench/workloads/sysbench"
)

// benchServer is one standalone node with sysbench's sbtest1 of n rows.
func benchServer(b testing.TB, n int) *Server {
	b.Helper()
	srv, err := NewServer([]*Node{testNode(b, "n1")}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	s := srv.NewSession(0, "root")
	ctx := context.Background()
	for _, q := range []string{"CREATE DATABASE sbtest", "USE sbtest",
		"CREATE TABLE sbtest1(id INTEGER NOT NULL AUTO_INCREMENT, k INTEGER DEFAULT '0' NOT NULL, c CHAR(120) DEFAULT '' NOT NULL, pad CHAR(60) DEFAULT '' NOT NULL, PRIMARY KEY (id))"} {
		if _, err := s.Query(ctx, q); err != nil {
			b.Fatal(q, err)
		}
	}
	// Rows of sysbench's size and entropy, in INSERTs of up to 512 KiB as sysbench's
	// prepare sends them (Pebble then keeps them in sstables, read through the block cache).
	rng := workloads.NewRand(1, 1)
	var q strings.Builder
	for i := range n {
		if q.Len() == 0 {
			q.WriteString("INSERT INTO sbtest1 (k, c, pad) VALUES ")
		} else {
			q.WriteString(",")
		}
		q.WriteString("(" + strconv.Itoa(rng.IntN(n)+1) + ",'" + workloads.Template(rng, sysbench.CTemplate) + "','" + workloads.Template(rng, sysbench.PadTemplate) + "')")
		if q.Len() >= 512<<10 || i == n-1 {
			if _, err := s.Query(ctx, q.String()); err != nil {
				b.Fatal(err)
			}
			q.Reset()
		}
	}
	if _, err := s.Query(ctx, "CREATE INDEX k_1 ON sbtest1(k)"); err != nil {
		b.Fatal(err)
	}
	s.Close()
	return srv
}

// BenchmarkPointSelectPrepared is sysbench oltp_point_select's statement through the SQL
// layer alone (no wire protocol): what the front end adds per query on top of the engine.
func BenchmarkPointSelectPrepared(b *testing.B) {
	srv := benchServer(b, 10000)
	s := srv.NewSession(0, "root")
	s.db = "sbtest"
	p, err := s.Prepare("SELECT c FROM sbtest1 WHERE id=?")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	binds := []Value{int64(0)}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		binds[0] = int64(i%10000 + 1)
		r, err := s.Execute(ctx, p, binds)
		if err != nil || len(r.Rows) != 1 {
			b.Fatal(err, r)
		}
	}
}

// BenchmarkPointSelectText is the same query over the text protocol: new literal each time,
// so each execution parses, normalises and finds the plan by its normalised text.
func BenchmarkPointSelectText(b *testing.B) {
	srv := benchServer(b, 10000)
	s := srv.NewSession(0, "root")
	s.db = "sbtest"
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r, err := s.Query(ctx, "SELECT c FROM sbtest1 WHERE id="+strconv.Itoa(i%10000+1))
		if err != nil || len(r.Rows) != 1 {
			b.Fatal(err, r)
		}
	}
}

// BenchmarkPlanPointSelect is the planner alone: parsing and planning sysbench's point
// select, what a COM_STMT_PREPARE or a text query of a new shape costs (an execute of a
// prepared statement pays none of it).
func BenchmarkPlanPointSelect(b *testing.B) {
	srv := benchServer(b, 10)
	s := srv.NewSession(0, "root")
	s.db = "sbtest"
	const q = "SELECT c FROM sbtest1 WHERE id=?"
	b.ReportAllocs()
	for b.Loop() {
		stmt, _, err := srv.parser.Parse2(q)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.plan(stmt, srv.schemaV.Load()); err != nil {
			b.Fatal(err)
		}
	}
}
