// Package sqldb runs the workloads on MySQL-protocol servers: an implementation of
// workloads.DB and workloads.Tx over database/sql and go-sql-driver/mysql, so that the same
// transaction mixes the model runs drive a real MariaDB/MySQL cluster, or replbench's own
// MySQL endpoint, and their aborts are counted by the same causes.
//
// Each typed operation is one server-side prepared statement, prepared once per connection
// (Get is SELECT ... WHERE pk=?, GetForUpdate adds FOR UPDATE, Insert returns the
// auto-increment id, Update and Delete by primary key, Scan a range in key order); BEGIN,
// COMMIT and ROLLBACK are plain statements. A Client holds one connection, as an
// application thread does, so a benchmark client costs the server what a real one costs:
// one round trip per statement and no pool juggling.
//
// Autocommit follows the server: a statement in an autocommit Tx commits on its own, except
// that a locking read (GetForUpdate) opens a transaction that the Tx's Commit ends, because
// the model's "autocommit" read-modify-write (read for update, then write) is one statement
// in SQL (UPDATE ... SET n=n+1) and would lose updates as two autocommit statements. The
// cost is BEGIN and COMMIT round trips that the single statement would not pay. The commit
// errors of an autocommit write (certification failure, a lost connection, a deadline) are
// returned by Commit, where the model reports them, so that a workload's tally of commits in
// doubt is the same on both.
package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// Server kinds, which decide what an ambiguous error number means (see mapError).
const (
	KindGalera     = "galera"
	KindSemisync   = "semisync"
	KindGR         = "gr"
	KindStandalone = "standalone"
)

// Kinds lists the accepted kinds.
var Kinds = []string{KindGalera, KindSemisync, KindGR, KindStandalone}

// Config names one server.
type Config struct {
	Name     string // the node's name in results, n1..nN
	Host     string
	Port     int
	User     string
	Password string
	Database string // created by the caller (target.Load does); "" uses none
	Kind     string // one of Kinds
	// Tables are the schemas of every table the workload touches: statements are rendered
	// from them and rows decoded by them.
	Tables []storage.TableSchema
	// MaxConns caps the node's connections (clients plus a few for status); 0 means 512.
	MaxConns int
	// DialTimeout bounds connecting; 0 means 5 s.
	DialTimeout time.Duration
	// Session are session variables every connection sets when it opens (SET name=value),
	// e.g. wsrep_on=0, with which calibration measures one Galera member with and without
	// replication on the same server, data and buffer pool. Values go to the server as
	// written: a string needs its quotes.
	Session map[string]string
}

// Node is one server: a pool from which each Client takes one connection for good.
type Node struct {
	cfg    Config
	db     *sql.DB
	tables map[string]*tableSQL
}

// Open prepares a node; it does not connect (Ping does).
func Open(cfg Config) (*Node, error) {
	switch cfg.Kind {
	case KindGalera, KindSemisync, KindGR, KindStandalone:
	default:
		return nil, fmt.Errorf("sqldb: node %s: unknown server kind %q (accepted: galera, semisync, gr, standalone)", cfg.Name, cfg.Kind)
	}
	mc := mysql.NewConfig()
	mc.Net = "tcp"
	mc.Addr = net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	mc.User, mc.Passwd, mc.DBName = cfg.User, cfg.Password, cfg.Database
	mc.ClientFoundRows = true // UPDATE reports rows matched, so "no such row" is visible
	for k, v := range cfg.Session {
		if mc.Params == nil {
			mc.Params = map[string]string{}
		}
		mc.Params[k] = v // the driver sends SET k=v on every new connection
	}
	mc.Timeout = cfg.DialTimeout
	if mc.Timeout == 0 {
		mc.Timeout = 5 * time.Second
	}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("sqldb: node %s: %v", cfg.Name, err)
	}
	db := sql.OpenDB(conn)
	maxConns := cfg.MaxConns
	if maxConns == 0 {
		maxConns = 512
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	n := &Node{cfg: cfg, db: db, tables: map[string]*tableSQL{}}
	for _, s := range cfg.Tables {
		n.tables[s.Name] = renderTable(s)
	}
	return n, nil
}

// Name is the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Kind is the server kind the node was opened with.
func (n *Node) Kind() string { return n.cfg.Kind }

// SQL is the node's pool, for status queries and DDL that are not a workload's.
func (n *Node) SQL() *sql.DB { return n.db }

// Ping connects once and reports whether the server answers.
func (n *Node) Ping(ctx context.Context) error {
	if err := n.db.PingContext(ctx); err != nil {
		return fmt.Errorf("node %s (%s:%d): %v", n.cfg.Name, n.cfg.Host, n.cfg.Port, err)
	}
	return nil
}

// Close closes the pool; open Clients fail from then on.
func (n *Node) Close() error { return n.db.Close() }

func (n *Node) table(name string) (*tableSQL, error) {
	t, ok := n.tables[name]
	if !ok {
		return nil, fmt.Errorf("sqldb: node %s: table %q is not among the workload's tables (sqldb.Config.Tables)", n.cfg.Name, name)
	}
	return t, nil
}

// CreateTables creates the configured tables, dropping any that exist first if drop is set.
func (n *Node) CreateTables(ctx context.Context, drop bool) error {
	for _, s := range n.cfg.Tables {
		if drop {
			if _, err := n.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+quote(s.Name)); err != nil {
				return fmt.Errorf("node %s: drop %s: %v", n.cfg.Name, s.Name, err)
			}
		}
		if _, err := n.db.ExecContext(ctx, CreateTableSQL(s)); err != nil {
			return fmt.Errorf("node %s: create %s: %v", n.cfg.Name, s.Name, err)
		}
	}
	return nil
}

// Client is one application connection; it implements workloads.DB. A Client is used by one
// goroutine at a time, like the engine's transactions.
type Client struct {
	n      *Node
	conn   *sql.Conn
	stmts  map[string]*sql.Stmt
	broken bool
	bulk   bool
	args   []any
}

var _ workloads.DB = (*Client)(nil)

// Client connects a new client. A client whose connection breaks reconnects at its next
// statement (the statement that saw the break has already failed).
func (n *Node) Client(ctx context.Context) (*Client, error) {
	c := &Client{n: n}
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Loader is a Client for loading: inserts are sent as multi-row INSERTs when the
// transaction commits (or every bulkRows rows, or before any other statement), which loads
// tens of times faster than one round trip per row. Insert returns the id only when the row
// gives it; a loader has no use for generated ids.
func (n *Node) Loader(ctx context.Context) (*Client, error) {
	c, err := n.Client(ctx)
	if c != nil {
		c.bulk = true
	}
	return c, err
}

func (c *Client) connect(ctx context.Context) error {
	if c.conn != nil {
		c.conn.Close()
	}
	c.conn, c.stmts, c.broken = nil, map[string]*sql.Stmt{}, false
	conn, err := c.n.db.Conn(ctx)
	if err != nil {
		e, _ := mapError(err, phaseStatement, c.n.cfg.Kind)
		if e.Cause == protocols.CauseOther && e.Code == crServerLost {
			e.Code, e.Msg = crServerGone, fmt.Sprintf("Can't connect to node %s: %v", c.n.cfg.Name, err)
		}
		return e
	}
	c.conn = conn
	return nil
}

// Node implements workloads.DB.
func (c *Client) Node() string { return c.n.cfg.Name }

// Begin implements workloads.DB. Nothing is sent until the first statement.
func (c *Client) Begin() workloads.Tx { return &Tx{c: c} }

// Close returns the connection.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}

func (c *Client) ready(ctx context.Context) error {
	if c.conn == nil || c.broken {
		return c.connect(ctx)
	}
	return nil
}

func (c *Client) stmt(ctx context.Context, text string) (*sql.Stmt, error) {
	if s, ok := c.stmts[text]; ok {
		return s, nil
	}
	s, err := c.conn.PrepareContext(ctx, text)
	if err != nil {
		return nil, err
	}
	c.stmts[text] = s
	return s, nil
}

// exec runs a prepared statement and returns its result.
func (c *Client) exec(ctx context.Context, text string, args ...any) (sql.Result, error) {
	s, err := c.stmt(ctx, text)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

// plain runs BEGIN, COMMIT or ROLLBACK as a text statement: one round trip, no prepare.
func (c *Client) plain(ctx context.Context, text string) error {
	_, err := c.conn.ExecContext(ctx, text)
	return err
}

// Ping sends COM_PING on the client's connection: one round trip that the server answers
// without parsing or executing anything, the floor under every statement.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.ready(ctx); err != nil {
		return err
	}
	if err := c.conn.PingContext(ctx); err != nil {
		e, broken := mapError(err, phaseStatement, c.n.cfg.Kind)
		c.broken = c.broken || broken
		return e
	}
	return nil
}
