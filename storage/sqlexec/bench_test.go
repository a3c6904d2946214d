package sqlexec

import (
	"context"
	"strconv"
	"testing"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/standalone"
	"github.com/replbench/replbench/storage"
)

// benchServer is one standalone node with sysbench's sbtest1 of n rows.
func benchServer(b testing.TB, n int) *Server {
	b.Helper()
	e, err := storage.Open(storage.Options{Node: "n1"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	proto, err := protocols.Lookup("standalone")
	if err != nil {
		b.Fatal(err)
	}
	p, err := standalone.New(protocols.Config{Node: "n1", Members: []string{"n1"}, Applier: e})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	e.SetReplicator(p)
	srv, err := NewServer([]*Node{{Name: "n1", Engine: e, Provider: p, Protocol: proto, Params: protocols.Params{}}}, Options{})
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
	for i := 0; i < n; i++ {
		if _, err := s.Query(ctx, "INSERT INTO sbtest1 (k, c, pad) VALUES ("+strconv.Itoa(i)+", 'c-"+strconv.Itoa(i)+"', 'pad')"); err != nil {
			b.Fatal(err)
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
