package sqlexec

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/standalone"
	"github.com/replbench/replbench/storage"
)

// testNode is a node over its own engine and a standalone provider (no replication: the
// tests here are about the schema, which DDL changes outside the protocol).
func testNode(t testing.TB, name string) *Node {
	t.Helper()
	e, err := storage.Open(storage.Options{Node: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	proto, err := protocols.Lookup("standalone")
	if err != nil {
		t.Fatal(err)
	}
	p, err := standalone.New(protocols.Config{Node: name, Members: []string{name}, Applier: e})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	e.SetReplicator(p)
	return &Node{Name: name, Engine: e, Provider: p, Protocol: proto, Params: protocols.Params{}}
}

// bridge is a SchemaApplier over Servers of one node each, as node processes are: every
// change and every error crosses JSON, as over the bus, and each Server re-executes the
// statement with ApplyLocal.
type bridge struct {
	mu   sync.Mutex
	srvs []*Server
}

type bridgeNode struct{ s *Server }

func (b bridgeNode) Name() string { return b.s.nodes[0].Name }

func (b bridgeNode) LastCommitted(context.Context) (int64, error) {
	return b.s.nodes[0].Provider.LastCommitted(), nil
}

func (b bridgeNode) ApplySchema(_ context.Context, ch SchemaChange) error {
	var got SchemaChange
	if err := roundTrip(ch, &got); err != nil {
		return err
	}
	var e *SchemaError
	if err := roundTrip(NewSchemaError(b.s.ApplyLocal(got)), &e); err != nil {
		return err
	}
	return e.Err()
}

func roundTrip(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func (br *bridge) ApplySchema(ctx context.Context, _ string, ch SchemaChange) error {
	br.mu.Lock()
	defer br.mu.Unlock()
	ns := make([]SchemaNode, len(br.srvs))
	for i, s := range br.srvs {
		ns[i] = bridgeNode{s}
	}
	return ApplyInOrder(ctx, ns, ch, 0)
}

// script is a run of statements, each on a node (0 or 1), with what each returned.
var ddlScript = []struct {
	node int
	sql  string
}{
	{0, "CREATE DATABASE d"},
	{1, "CREATE DATABASE d"},               // 1007 on the node that did not issue the first
	{1, "CREATE DATABASE IF NOT EXISTS d"}, // nothing to do
	{0, "USE d"},
	{1, "USE d"}, // the other node's catalogue knows d
	{0, "CREATE TABLE t (id INT PRIMARY KEY, v INT, KEY kv (v))"},
	{1, "CREATE TABLE t (id INT PRIMARY KEY)"}, // 1050, nothing changed
	{1, "SHOW CREATE TABLE t"},                 // n1's definition, on n2
	{0, "INSERT INTO t VALUES (1, 5), (2, 5)"}, // on n1 only (no replication here)
	{1, "INSERT INTO t VALUES (1, 5)"},
	{1, "ALTER TABLE t ADD UNIQUE KEY uv (v)"}, // n1 (first) refuses with 1062: nothing anywhere
	{1, "SHOW CREATE TABLE t"},
	{0, "SHOW CREATE TABLE t"},
	{1, "ALTER TABLE t ADD INDEX kv (v)"}, // 1061 on the issuing node
	{1, "CREATE INDEX kid ON t (id)"},
	{0, "SHOW CREATE TABLE t"},
	{1, "TRUNCATE TABLE t"},
	{0, "SELECT COUNT(*) FROM t"},
	{0, "CREATE TABLE u (a INT)"},
	{1, "SHOW TABLES"},
	{1, "DROP TABLE t, u"},
	{0, "SHOW TABLES"},
	{0, "DROP TABLE IF EXISTS t"},
	{1, "DROP DATABASE d"},
	{0, "SHOW DATABASES"},
	{0, "USE d"},
}

func runScript(t *testing.T, srv [2]*Server) []string {
	t.Helper()
	ss := [2]*Session{srv[0].NewSession(0, "root"), srv[1].NewSession(len(srv[1].nodes)-1, "root")}
	if srv[0] == srv[1] {
		ss[1] = srv[1].NewSession(1, "root")
	}
	var out []string
	for _, st := range ddlScript {
		r, err := ss[st.node].Query(context.Background(), st.sql)
		if err != nil {
			out = append(out, fmt.Sprintf("n%d %s: error %d %s", st.node+1, st.sql, errCode(err), ToSQLError(err).Message))
			continue
		}
		out = append(out, fmt.Sprintf("n%d %s: %s", st.node+1, st.sql, flat(text(r))))
	}
	return out
}

// The same DDL script gives the same answers, error numbers included, on one Server over
// two nodes (the in-process path) and on two Servers of one node each whose changes cross
// JSON through ApplyInOrder (the path of node processes): one abstraction, two transports.
func TestSchemaChangesAcrossServersMatchInProcess(t *testing.T) {
	one, err := NewServer([]*Node{testNode(t, "n1"), testNode(t, "n2")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	br := &bridge{}
	var two [2]*Server
	for i := range two {
		if two[i], err = NewServer([]*Node{testNode(t, fmt.Sprintf("n%d", i+1))}, Options{Schema: br}); err != nil {
			t.Fatal(err)
		}
	}
	br.srvs = two[:]
	want := runScript(t, [2]*Server{one, one})
	got := runScript(t, two)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d:\n  in process: %s\n  across:     %s", i+1, want[i], got[i])
		}
	}
	// What the script is about, on the in-process answers (both paths agree above).
	for i, code := range map[int]string{1: "error 1007", 6: "error 1050", 10: "error 1062", 13: "error 1061", 25: "error 1049"} {
		if !strings.Contains(want[i], code) {
			t.Errorf("step %d: %s, want %s", i+1, want[i], code)
		}
	}
	answer := func(s string) string { _, a, _ := strings.Cut(s, ": "); return a }
	if answer(want[11]) != answer(want[12]) || strings.Contains(want[11], "uv") || !strings.Contains(want[7], "KEY `kv`") {
		t.Errorf("a refused unique index changed a node: n2 %q, n1 %q", want[11], want[12])
	}
	if !strings.Contains(want[15], "KEY `kid`") || !strings.Contains(want[17], ": 0") || !strings.Contains(want[19], "t u") {
		t.Errorf("index, truncate or create did not reach the other node: %q / %q / %q", want[15], want[17], want[19])
	}
	// The catalogues agree at the end: d is gone from both node processes' Servers.
	for _, s := range two {
		if s.hasDB("d") {
			t.Errorf("%s still lists database d after DROP DATABASE on n2", s.nodes[0].Name)
		}
	}
}

// Concurrent schema changes from two Servers are applied one at a time, in one order on
// every node: each table exists on both, and of two creations of one name exactly one
// wins everywhere.
func TestSchemaChangesSerialised(t *testing.T) {
	br := &bridge{}
	var two [2]*Server
	for i := range two {
		var err error
		if two[i], err = NewServer([]*Node{testNode(t, fmt.Sprintf("n%d", i+1))}, Options{Schema: br}); err != nil {
			t.Fatal(err)
		}
	}
	br.srvs = two[:]
	var wg sync.WaitGroup
	wins := make([]int, 2)
	for i := range two {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := two[i].NewSession(0, "root")
			defer s.Close()
			if err := s.UseDatabase(DefaultDatabase); err != nil {
				t.Error(err)
				return
			}
			for k := range 20 {
				if _, err := s.Query(context.Background(), fmt.Sprintf("CREATE TABLE own%d_%d (id INT PRIMARY KEY)", i, k)); err != nil {
					t.Errorf("n%d: %v", i+1, err)
				}
				if _, err := s.Query(context.Background(), fmt.Sprintf("CREATE TABLE both_%d (id INT PRIMARY KEY, n%d INT)", k, i)); err == nil {
					wins[i]++
				} else if errCode(err) != erTableExists {
					t.Errorf("n%d: %v, want success or 1050", i+1, err)
				}
			}
		}()
	}
	wg.Wait()
	if wins[0]+wins[1] != 20 {
		t.Errorf("%d + %d creations of 20 shared names succeeded, want 20", wins[0], wins[1])
	}
	a, b := two[0].nodes[0].Engine, two[1].nodes[0].Engine
	if len(a.Tables()) != 60 || fmt.Sprint(a.Tables()) != fmt.Sprint(b.Tables()) {
		t.Fatalf("tables differ or are missing: %d on n1, %d on n2", len(a.Tables()), len(b.Tables()))
	}
	for k := range 20 {
		sa, _ := a.Schema(fmt.Sprintf("both_%d", k))
		sb, _ := b.Schema(fmt.Sprintf("both_%d", k))
		if sa.Columns[1].Name != sb.Columns[1].Name {
			t.Errorf("both_%d: n1 has column %s, n2 %s (two orders)", k, sa.Columns[1].Name, sb.Columns[1].Name)
		}
	}
}
