// Package sqlexec is the SQL layer over the storage and transaction core: it parses MySQL
// statements with vitess's sqlparser, plans each statement once (a prepared statement at
// PREPARE, a text query through a plan cache keyed by its normalised text) and executes the
// plan on a storage.Txn of one node, so a statement from a real MySQL client goes through
// the same Gate, certification and commit path as replbench's own workloads.
//
// The trade-off is coverage for speed: the statements the mysql CLI, mysqlslap, sysbench's
// oltp scripts and TPC-C drivers send (single-table SELECT with point, range, ORed-range, IN and index
// access, ORDER BY, LIMIT, DISTINCT, aggregates and GROUP BY; INSERT, UPDATE, DELETE;
// transactions; SET and SHOW of the modelled variables; CREATE/DROP of databases, tables and
// indexes) run from compiled plans, with a few microseconds of work per statement; anything
// else is refused with MySQL's 1235 naming the construct, so a client never gets a silently
// wrong answer. Joins, subqueries, views, foreign keys and stored programs are refused.
//
// Where it departs from MySQL: DDL does not travel through the replication protocol (a real
// Galera orders it as a TOI write-set, GR and semi-sync as a binlog Query event). It is
// carried as a statement (SchemaChange: its canonical text and the current database) to
// every node, which re-executes it on its own engine, after the cluster has gone quiet and
// in member order (ApplyInOrder), one change at a time over the cluster: on a quiet cluster
// this has the effect of Galera's total-order isolation, and it works the same whether the
// nodes share this process (the Server is its own SchemaApplier) or run as separate node
// processes (Options.Schema, the harness's bus relay). Why outside the protocol: the
// protocol models certify and apply row write-sets, and a schema change is not one; giving
// each model a DDL event would be four implementations of one effect. What this leaves
// out: the stall DDL causes (TOI blocks every node while it runs; a binlog DDL event holds
// up the replica's applier) and its cost, so DDL is free in this testbed's figures, and a
// write-set still in flight when the quiesce bound (Options.DDLQuiesce) passes meets the
// new schema. String comparison is
// bytewise (MySQL's default collations are case-insensitive); LOCK IN SHARE MODE takes the
// engine's exclusive row locks; the isolation level is always REPEATABLE READ; a table
// without a primary key gets InnoDB's hidden DB_ROW_ID key, which SELECT * does not show.
package sqlexec

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	querypb "vitess.io/vitess/go/vt/proto/query"
	"vitess.io/vitess/go/vt/sqlparser"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/servicetime"
	"github.com/replbench/replbench/storage"
)

// Node is one emulated server: its engine, its replication provider, and the declarations
// and values of its parameters (what SET and SHOW VARIABLES see).
type Node struct {
	Name     string
	Engine   *storage.Engine
	Provider protocols.Provider
	// Protocol declares the provider's parameters (their real names and ranges).
	Protocol *protocols.Protocol
	// Params are the node's resolved protocol and engine parameters.
	Params protocols.Params

	// Cost, when set, is the node's service-time model: every statement's CPU, as the cost
	// profile gives it for its kind and rows, is booked on the node's modelled host, as
	// `run` books its clients' statements. The client's round trip is not charged: through
	// the endpoint it is a real one.
	Cost *servicetime.Node

	ident identity // what the node reports itself as (identity.go), set by NewServer
	stats nodeStats
}

// nodeStats are the server counters SHOW STATUS adds to the provider's own.
type nodeStats struct {
	questions, connections, abortedConnects atomic.Int64
	threadsConnected, threadsRunning        atomic.Int64
	autocommitRetries                       atomic.Int64
	com                                     [comKinds]atomic.Int64
}

// comKind indexes the Com_* counters.
type comKind int

const (
	comSelect comKind = iota
	comInsert
	comUpdate
	comDelete
	comBegin
	comCommit
	comRollback
	comSet
	comShow
	comDDL
	comOther
	comKinds
)

var comNames = [comKinds]string{"Com_select", "Com_insert", "Com_update", "Com_delete", "Com_begin",
	"Com_commit", "Com_rollback", "Com_set_option", "Com_show_status", "Com_create_table", "Com_other"}

// Options configure a Server.
type Options struct {
	// MaxAllowedPacket is @@max_allowed_packet (the endpoint enforces it on the wire).
	MaxAllowedPacket int
	// DDLQuiesce bounds how long DDL waits for the cluster to apply what it has ordered
	// before it changes every node's schema; 0 gives 10 s. (With Options.Schema set, the
	// SchemaApplier has its own bound.)
	DDLQuiesce time.Duration
	// Schema carries schema changes to every node of the cluster; nil carries them to the
	// Server's own nodes (Server.ApplySchema). A Server over one node of a cluster whose
	// other nodes run in other processes (replbench serve --nodes-external) sets the
	// harness's bus implementation, which has every node process apply the statement.
	Schema SchemaApplier
}

// Server is the SQL layer of one cluster: its nodes, the catalogue of databases, and the
// plan cache. Sessions are per client connection and per node.
type Server struct {
	nodes   []*Node
	opts    Options
	parser  *sqlparser.Parser
	started time.Time

	ddlMu   sync.Mutex // serialises DDL over the cluster
	catMu   sync.RWMutex
	dbs     map[string]bool
	schemaV atomic.Uint64 // bumped by every DDL: plans of an older version are re-planned
	metas   sync.Map      // storage name -> *tableMeta of the current schema version

	plans  planCache
	connID atomic.Uint32
}

// DefaultDatabase holds the tables replbench's own workloads create (their storage names
// have no database part), so a client can read what `replbench run` loaded.
const DefaultDatabase = "replbench"

// systemDatabases are listed by SHOW DATABASES as a server lists them; they hold no tables.
var systemDatabases = []string{"information_schema", "mysql", "performance_schema", "sys"}

// NewServer builds the SQL layer over a cluster's nodes (all must be running).
func NewServer(nodes []*Node, opts Options) (*Server, error) {
	if len(nodes) == 0 {
		return nil, fmt.Errorf("sqlexec: no nodes")
	}
	if opts.MaxAllowedPacket <= 0 {
		opts.MaxAllowedPacket = 64 << 20
	}
	if opts.DDLQuiesce <= 0 {
		opts.DDLQuiesce = 10 * time.Second
	}
	// The parser's version decides which /*!NNNNN ... */ comments it executes; vitess knows
	// MySQL's numbering only, so every flavour parses as MySQL 8.0.
	p, err := sqlparser.New(sqlparser.Options{MySQLServerVersion: ParserVersion})
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		n.ident = nodeIdentity(n)
	}
	s := &Server{nodes: nodes, opts: opts, parser: p, started: time.Now(),
		dbs: map[string]bool{DefaultDatabase: true}}
	for _, n := range nodes {
		for _, t := range n.Engine.Tables() {
			if db, _, ok := strings.Cut(t, "."); ok {
				s.dbs[db] = true
			}
		}
	}
	s.plans.init(8192)
	return s, nil
}

// Nodes returns the cluster's nodes in order.
func (s *Server) Nodes() []*Node { return s.nodes }

// Parser is the SQL parser the server uses (the endpoint's vitess environment shares it).
func (s *Server) Parser() *sqlparser.Parser { return s.parser }

// ParserVersion is the MySQL version the SQL parser (and the endpoint's vitess
// environment) parse as.
const ParserVersion = "8.0.40"

// HandshakeVersion is the server version node i sends in the initial handshake: its
// flavour's server in that server's shape (identity.go), with MariaDB's "5.5.5-" prefix.
func (s *Server) HandshakeVersion(i int) string { return s.nodes[i].ident.handshake }

// MaxAllowedPacket is @@max_allowed_packet in bytes.
func (s *Server) MaxAllowedPacket() int { return s.opts.MaxAllowedPacket }

// storageName maps a SQL table to the engine's flat namespace: "db.table", except in the
// default database, whose tables are the workloads' own unqualified names.
func storageName(db, table string) string {
	if db == DefaultDatabase {
		return table
	}
	return db + "." + table
}

func splitStorageName(n string) (db, table string) {
	if db, t, ok := strings.Cut(n, "."); ok {
		return db, t
	}
	return DefaultDatabase, n
}

func (s *Server) hasDB(db string) bool {
	s.catMu.RLock()
	defer s.catMu.RUnlock()
	return s.dbs[db]
}

func (s *Server) databases() []string {
	s.catMu.RLock()
	out := append([]string(nil), systemDatabases...)
	for db := range s.dbs {
		out = append(out, db)
	}
	s.catMu.RUnlock()
	slices.Sort(out)
	return out
}

// hiddenPK is InnoDB's name for the row id it adds to a table without a primary key; MySQL
// refuses it as a user column name, so it cannot collide.
const hiddenPK = "DB_ROW_ID"

// tableMeta is a table as plans see it: the schema, the column lookup, the result fields.
type tableMeta struct {
	db, name, alias, store string
	schema                 *storage.TableSchema
	cols                   map[string]int // lower-case name -> position
	visible                []int          // positions SELECT * returns (the hidden row id excluded)
	hidden                 int            // position of DB_ROW_ID, -1 if the table has a real primary key
	fields                 []*querypb.Field
	version                uint64
}

func (t *tableMeta) col(name string) (int, bool) {
	i, ok := t.cols[strings.ToLower(name)]
	return i, ok
}

// table resolves a table of the current schema version on node n.
func (s *Server) table(n *Node, db, name string) (*tableMeta, error) {
	if db == "" {
		return nil, sqlErr(erNoDB, "3D000", "No database selected")
	}
	store := storageName(db, name)
	v := s.schemaV.Load()
	if m, ok := s.metas.Load(store); ok && m.(*tableMeta).version == v {
		return m.(*tableMeta), nil
	}
	sch, ok := n.Engine.Schema(store)
	if !ok {
		if !s.hasDB(db) {
			return nil, sqlErr(erBadDB, "42000", "Unknown database '%s'", db)
		}
		return nil, noSuchTable(db, name)
	}
	m := &tableMeta{db: db, name: name, store: store, schema: sch, cols: map[string]int{}, hidden: -1, version: v}
	for i, c := range sch.Columns {
		m.cols[strings.ToLower(c.Name)] = i
		if c.Name == hiddenPK {
			m.hidden = i
			continue
		}
		m.visible = append(m.visible, i)
	}
	m.fields = make([]*querypb.Field, len(sch.Columns))
	for i := range sch.Columns {
		m.fields[i] = columnField(m, i)
	}
	s.metas.Store(store, m)
	return m, nil
}

// ddl carries a schema change that passed its check on the session's node to every node
// of the cluster: the origin's Provider.BeforeWrite first (a GR secondary or semi-sync
// replica is read-only, a non-primary Galera node answers 1047), then the statement's
// canonical text and the current database through Options.Schema.
func (s *Server) ddl(ctx context.Context, se *Session, stmt sqlparser.Statement) error {
	if err := se.node.Provider.BeforeWrite(ctx); err != nil {
		return err
	}
	ch := SchemaChange{SQL: sqlparser.String(stmt), DB: se.db}
	if s.opts.Schema != nil {
		return s.opts.Schema.ApplySchema(ctx, se.node.Name, ch)
	}
	return s.ApplySchema(ctx, se.node.Name, ch)
}

// ApplySchema is the in-process SchemaApplier: it serialises schema changes over the
// Server's nodes, and ApplyInOrder applies ch to each node's engine; the catalogue of
// databases changes once every engine took the change.
func (s *Server) ApplySchema(ctx context.Context, _ string, ch SchemaChange) error {
	return s.change(ch, func(c *ddlChange) error {
		nodes := make([]SchemaNode, len(s.nodes))
		for i, n := range s.nodes {
			nodes[i] = localSchemaNode{s, n, c}
		}
		return ApplyInOrder(ctx, nodes, ch, s.opts.DDLQuiesce)
	})
}

// ApplyLocal makes ch on this Server's own nodes and catalogue, without quiescing or
// ordering anything: the step a node process takes when the coordinator of a
// serve --nodes-external carries a change to it (the coordinator quiesces and orders).
// Its error is the MySQL error the change is refused with on this node.
func (s *Server) ApplyLocal(ch SchemaChange) error {
	return s.change(ch, func(c *ddlChange) error {
		for _, n := range s.nodes {
			if err := c.applyOn(s, n.Engine); err != nil {
				return err
			}
		}
		return nil
	})
}

// change compiles ch and, one change at a time on this Server, has apply make it on the
// engines; the catalogue changes if every engine took it, and the schema version moves on
// either way (a change refused halfway still changed some engine).
func (s *Server) change(ch SchemaChange, apply func(c *ddlChange) error) error {
	c, err := s.compileChange(ch)
	if err != nil {
		return err
	}
	s.ddlMu.Lock()
	defer s.ddlMu.Unlock()
	defer s.schemaV.Add(1)
	if err := apply(c); err != nil {
		return err
	}
	if c.catalog != nil {
		c.catalog(s)
	}
	return nil
}

// compileChange parses a carried schema change and compiles it as the planner does.
func (s *Server) compileChange(ch SchemaChange) (*ddlChange, error) {
	stmt, err := s.parser.Parse(ch.SQL)
	if err != nil {
		return nil, syntaxError(err)
	}
	return s.compileDDL(stmt, ch.DB)
}

// localSchemaNode is a node of this Server as ApplyInOrder sees it.
type localSchemaNode struct {
	s *Server
	n *Node
	c *ddlChange
}

func (l localSchemaNode) Name() string { return l.n.Name }

func (l localSchemaNode) LastCommitted(context.Context) (int64, error) {
	return l.n.Provider.LastCommitted(), nil
}

func (l localSchemaNode) ApplySchema(context.Context, SchemaChange) error {
	return l.c.applyOn(l.s, l.n.Engine)
}
