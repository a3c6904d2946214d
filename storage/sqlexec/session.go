package sqlexec

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"vitess.io/vitess/go/sqltypes"
	querypb "vitess.io/vitess/go/vt/proto/query"
	"vitess.io/vitess/go/vt/sqlparser"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/servicetime"
	"github.com/replbench/replbench/storage"
)

// compiled is a planned statement. run executes it; t is the statement's transaction for
// plans that touch tables (txn set) and nil for the others.
type compiled struct {
	kind      comKind
	txn       bool
	params    int              // bind variables a client must send (the ? of a prepared statement)
	bindNames []string         // slot -> bind variable name
	litIdx    []int            // slot -> index of a normalised literal (text queries)
	fields    []*querypb.Field // result columns, known at planning (nil: no result set)
	version   uint64           // the schema version the plan was made against
	run       func(ctx context.Context, s *Session, t *storage.Txn, binds []Value) (*sqltypes.Result, error)
}

// Session is one client connection's state on one node: the current database, the open
// transaction, session variables, prepared statements. A Session is used by one goroutine
// at a time (the endpoint serialises a connection's commands).
type Session struct {
	srv  *Server
	node *Node
	id   uint32
	user string

	db         string
	autocommit bool
	txn        *storage.Txn

	vars         map[string]string // session values of system variables (lower-case names)
	userVars     map[string]Value
	lastInsertID uint64
	rng          *rand.Rand

	syncWait        int64 // wsrep_sync_wait of this session
	retryAutocommit int   // wsrep_retry_autocommit of this session
	lockTimeout     time.Duration
	closed          bool
}

// NewSession opens a session on node i (0-based) for user.
func (s *Server) NewSession(node int, user string) *Session {
	n := s.nodes[node]
	se := &Session{srv: s, node: n, id: s.connID.Add(1), user: user, autocommit: true,
		vars: map[string]string{}, userVars: map[string]Value{}}
	se.rng = rand.New(rand.NewPCG(uint64(se.id), uint64(time.Now().UnixNano())))
	if v, ok := n.Params["wsrep_sync_wait"]; ok {
		se.syncWait, _ = strconv.ParseInt(v, 10, 64)
	}
	if r, ok := n.Provider.(interface{ RetryAutocommit() int }); ok {
		se.retryAutocommit = r.RetryAutocommit()
	}
	n.stats.connections.Add(1)
	n.stats.threadsConnected.Add(1)
	return se
}

// ID is the session's connection id (CONNECTION_ID()).
func (se *Session) ID() uint32 { return se.id }

// Node is the node the session runs on.
func (se *Session) Node() *Node { return se.node }

// InTransaction reports an open transaction (the wire status flag SERVER_STATUS_IN_TRANS).
func (se *Session) InTransaction() bool { return se.txn != nil }

// Autocommit reports the session's autocommit (SERVER_STATUS_AUTOCOMMIT).
func (se *Session) Autocommit() bool { return se.autocommit }

// Close rolls back the open transaction, releasing its locks: a client that disconnects
// mid-transaction leaves nothing behind, as in MySQL.
func (se *Session) Close() {
	if se.closed {
		return
	}
	se.closed = true
	if se.txn != nil {
		se.txn.Rollback()
		se.txn = nil
	}
	se.node.stats.threadsConnected.Add(-1)
}

// UseDatabase sets the current database (COM_INIT_DB, USE, the handshake's database).
func (se *Session) UseDatabase(db string) error {
	if !se.srv.hasDB(db) && !isSystemDB(db) {
		return sqlErr(erBadDB, "42000", "Unknown database '%s'", db)
	}
	se.db = db
	return nil
}

func isSystemDB(db string) bool {
	for _, d := range systemDatabases {
		if strings.EqualFold(d, db) {
			return true
		}
	}
	return false
}

// Query runs one statement of the text protocol. A repeated text reuses its plan without
// parsing; a new text is parsed, its literals lifted out (normalize) and its plan looked up
// by the normalised text, so only a new statement shape is planned.
func (se *Session) Query(ctx context.Context, sql string) (*sqltypes.Result, error) {
	se.node.stats.questions.Add(1)
	// Some clients send the C string's terminating NUL (mysqlslap) or a trailing ';'; the
	// server's parser stops at either.
	sql = strings.TrimRight(sql, "\x00; \t\r\n")
	if sql == "" {
		return nil, sqlErr(1065, "42000", "Query was empty")
	}
	key := se.db + "\x00" + sql
	v := se.srv.schemaV.Load()
	if c := se.srv.plans.get(key); c != nil && c.version == v {
		return se.run(ctx, c, nil, false)
	}
	stmt, err := se.srv.parser.Parse(sql)
	if err != nil {
		return nil, syntaxError(err)
	}
	lits := normalize(stmt)
	if lits != nil {
		nkey := se.db + "\x00" + sqlparser.String(stmt)
		c := se.srv.plans.get(nkey)
		if c == nil || c.version != v {
			if c, err = se.plan(stmt, v); err != nil {
				return nil, err
			}
			c.litIdx = make([]int, len(c.bindNames))
			for i, n := range c.bindNames {
				k, err := strconv.Atoi(strings.TrimPrefix(n, litPrefix))
				if err != nil || !strings.HasPrefix(n, litPrefix) {
					return nil, errPlaceholder
				}
				c.litIdx[i] = k
			}
			se.srv.plans.put(nkey, c)
		}
		binds := make([]Value, len(c.litIdx))
		for i, k := range c.litIdx {
			if k < len(lits) {
				binds[i] = lits[k]
			}
		}
		return se.run(ctx, c, binds, false)
	}
	c, err := se.plan(stmt, v)
	if err != nil {
		return nil, err
	}
	if len(c.bindNames) > 0 {
		return nil, errPlaceholder
	}
	se.srv.plans.put(key, c)
	return se.run(ctx, c, nil, false)
}

var errPlaceholder = sqlErr(erSyntax, "42000", "You have an error in your SQL syntax: '?' placeholders need a prepared statement")

// Prepared is a statement planned once at PREPARE and executed from bind values.
type Prepared struct {
	sql string
	c   *compiled
}

// Params is the number of ? placeholders.
func (p *Prepared) Params() int { return p.c.params }

// Fields are the result columns (nil for a statement without a result set).
func (p *Prepared) Fields() []*querypb.Field { return p.c.fields }

// BindNames are the bind variable names in slot order (:v1, :v2, ... as vitess numbers ?).
func (p *Prepared) BindNames() []string { return p.c.bindNames }

// Prepare plans a statement with ? placeholders (COM_STMT_PREPARE).
func (se *Session) Prepare(sql string) (*Prepared, error) {
	sql = strings.TrimRight(sql, "\x00; \t\r\n")
	key := "\x01" + se.db + "\x00" + sql
	v := se.srv.schemaV.Load()
	if c := se.srv.plans.get(key); c != nil && c.version == v {
		return &Prepared{sql, c}, nil
	}
	stmt, bv, err := se.srv.parser.Parse2(sql)
	if err != nil {
		return nil, syntaxError(err)
	}
	c, err := se.plan(stmt, v)
	if err != nil {
		return nil, err
	}
	c.params = len(bv)
	se.srv.plans.put(key, c)
	return &Prepared{sql, c}, nil
}

// Execute runs a prepared statement with binds in slot order (COM_STMT_EXECUTE). A plan made
// before a schema change is made again first.
func (se *Session) Execute(ctx context.Context, p *Prepared, binds []Value) (*sqltypes.Result, error) {
	se.node.stats.questions.Add(1)
	if p.c.version != se.srv.schemaV.Load() {
		np, err := se.Prepare(p.sql)
		if err != nil {
			return nil, err
		}
		p.c = np.c
	}
	if len(binds) < len(p.c.bindNames) {
		return nil, sqlErr(erWrongArguments, "HY000", "Incorrect arguments to mysqld_stmt_execute: %d parameters, the statement has %d", len(binds), len(p.c.bindNames))
	}
	return se.run(ctx, p.c, binds, true)
}

func syntaxError(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "Expected a single statement") {
		return sqlErr(erSyntax, "42000", "You have an error in your SQL syntax: one statement per query (multi-statements are off)")
	}
	return sqlErr(erSyntax, "42000", "You have an error in your SQL syntax: %s", strings.TrimPrefix(msg, "syntax error "))
}

// run executes a compiled statement: inside the open transaction, in an implicit one
// (autocommit off), or as an autocommit transaction of its own that Galera's
// wsrep_retry_autocommit re-runs after a certification failure, before the client sees 1213.
func (se *Session) run(ctx context.Context, c *compiled, binds []Value, prepared bool) (*sqltypes.Result, error) {
	if cost := se.node.Cost; cost != nil {
		start := cost.Start()
		r, err := se.exec(ctx, c, binds)
		reads, writes := statementRows(c.kind, r)
		if cerr := cost.Statement(ctx, start, costKinds[c.kind], reads, writes, prepared); err == nil && cerr != nil {
			return nil, cerr
		}
		return r, err
	}
	return se.exec(ctx, c, binds)
}

// costKinds maps the Com_* kinds to the cost profile's statement kinds.
var costKinds = [comKinds]servicetime.Kind{comSelect: servicetime.Select, comInsert: servicetime.Insert,
	comUpdate: servicetime.Update, comDelete: servicetime.Delete, comDDL: servicetime.DDL,
	comBegin: servicetime.Other, comCommit: servicetime.Other, comRollback: servicetime.Other,
	comSet: servicetime.Other, comShow: servicetime.Other, comOther: servicetime.Other}

// statementRows is what a statement read and wrote, as the harness's cost wrapper counts
// them: a SELECT its result rows (at least the one a point lookup reads), an UPDATE or
// DELETE each affected row read and written, an INSERT each row written.
func statementRows(k comKind, r *sqltypes.Result) (reads, writes int) {
	if r == nil {
		return 0, 0
	}
	n := int(r.RowsAffected)
	switch k {
	case comSelect:
		return max(1, len(r.Rows)), 0
	case comUpdate, comDelete:
		return n, n
	case comInsert:
		return 0, n
	}
	return 0, 0
}

// exec executes a compiled statement (run, without the cost model).
func (se *Session) exec(ctx context.Context, c *compiled, binds []Value) (*sqltypes.Result, error) {
	se.node.stats.com[c.kind].Add(1)
	se.node.stats.threadsRunning.Add(1)
	defer se.node.stats.threadsRunning.Add(-1)
	if !c.txn {
		return c.run(ctx, se, nil, binds)
	}
	if se.txn == nil && !se.autocommit {
		se.txn = se.begin()
		if err := se.beforeTxn(ctx); err != nil {
			se.txn.Rollback()
			se.txn = nil
			return nil, err
		}
	}
	if t := se.txn; t != nil {
		t.BeginStatement()
		r, err := c.run(ctx, se, t, binds)
		if err != nil {
			if abortsTransaction(err) {
				t.Rollback()
				se.txn = nil
			} else {
				t.RollbackStatement()
			}
		}
		return r, err
	}
	for attempt := 0; ; attempt++ {
		if err := se.beforeTxn(ctx); err != nil {
			return nil, err
		}
		t := se.begin()
		t.SetAutocommit(true)
		r, err := c.run(ctx, se, t, binds)
		if err == nil {
			err = t.Commit(ctx)
		} else {
			t.Rollback()
		}
		if err == nil {
			return r, nil
		}
		// Galera re-runs an autocommit statement that failed certification or was
		// brute-force aborted by an applier (both are cluster conflicts, MariaDB's
		// wsrep_retry_autocommit); a local deadlock is the client's.
		conflict := storage.IsAutocommitConflict(err) || protocols.Classify(err) == protocols.CauseBFAbort
		if attempt < se.retryAutocommit && conflict && ctx.Err() == nil {
			se.node.stats.autocommitRetries.Add(1)
			continue
		}
		return nil, err
	}
}

func (se *Session) begin() *storage.Txn {
	t := se.node.Engine.Begin()
	if se.lockTimeout > 0 {
		t.SetLockWaitTimeout(se.lockTimeout)
	}
	return t
}

// beforeTxn applies a session's wsrep_sync_wait above the node's own (the provider's gate
// already waits for the node's value): a causal read before the transaction's first read.
func (se *Session) beforeTxn(ctx context.Context) error {
	if se.syncWait&1 == 0 {
		return nil
	}
	if v, _ := strconv.ParseInt(se.node.Params["wsrep_sync_wait"], 10, 64); v&1 != 0 {
		return nil
	}
	return se.node.Provider.SyncWait(ctx)
}

// commit ends the open transaction (COMMIT, or implicitly before DDL, BEGIN, SET autocommit=1).
func (se *Session) commit(ctx context.Context) error {
	t := se.txn
	if t == nil {
		return nil
	}
	se.txn = nil
	return t.Commit(ctx)
}

func (se *Session) rollback() {
	if se.txn != nil {
		se.txn.Rollback()
		se.txn = nil
	}
}

// ok returns an empty OK result (a fresh one: the endpoint may set fields on it).
func ok() *sqltypes.Result { return &sqltypes.Result{} }
