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
// Where it departs from MySQL: DDL is applied to every node's engine at once, after the
// cluster has gone quiet (Galera's total-order isolation has the same effect on a quiet
// cluster), instead of travelling through the replication protocol; string comparison is
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
	// before it changes every node's schema; 0 gives 10 s.
	DDLQuiesce time.Duration
	// RefuseDDL, when set, refuses every schema change with MySQL's 1235 naming it. A Server over one node
	// of a cluster whose other nodes run in other processes sets it: DDL changes every
	// node's engine directly (it is not replicated through the protocol), and a change
	// made on one node only would leave the schemas different.
	RefuseDDL string
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

// ddl runs a schema change on every node: it waits (up to DDLQuiesce) until every node has
// committed what the group ordered, so no write-set for the old schema is still in flight,
// then applies change to each engine in order. A change the first node refuses (a table
// that exists, a duplicate in a new unique index) changes nothing anywhere.
//
// catalog, when set, changes the cluster-wide catalogue (the databases) once every engine
// took the change.
func (s *Server) ddl(ctx context.Context, origin *Node, change func(e *storage.Engine) error, catalog func()) error {
	if s.opts.RefuseDDL != "" {
		return notSupported(s.opts.RefuseDDL)
	}
	if err := origin.Provider.BeforeWrite(ctx); err != nil {
		return err // a GR secondary or semi-sync replica is read-only; a non-primary Galera node 1047
	}
	s.ddlMu.Lock()
	defer s.ddlMu.Unlock()
	s.quiesce(ctx)
	defer s.schemaV.Add(1)
	for i, n := range s.nodes {
		if err := change(n.Engine); err != nil {
			if i == 0 {
				return err
			}
			return fmt.Errorf("schema change applied on %s but failed on %s (the nodes' schemas now differ): %w", s.nodes[0].Name, n.Name, err)
		}
	}
	if catalog != nil {
		catalog()
	}
	return nil
}

// quiesce waits until every node reports the same last committed position twice in a row.
func (s *Server) quiesce(ctx context.Context) {
	deadline := time.Now().Add(s.opts.DDLQuiesce)
	last := int64(-1)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		pos := s.nodes[0].Provider.LastCommitted()
		same := true
		for _, n := range s.nodes[1:] {
			if n.Provider.LastCommitted() != pos {
				same = false
			}
		}
		if same && pos == last {
			return
		}
		if same {
			last = pos
		} else {
			last = -1
		}
		time.Sleep(2 * time.Millisecond)
	}
}
