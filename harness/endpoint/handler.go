package endpoint

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"vitess.io/vitess/go/mysql"
	"vitess.io/vitess/go/mysql/replication"
	"vitess.io/vitess/go/mysql/sqlerror"
	"vitess.io/vitess/go/sqltypes"
	"vitess.io/vitess/go/vt/log"
	querypb "vitess.io/vitess/go/vt/proto/query"
	"vitess.io/vitess/go/vt/vtenv"

	"github.com/replbench/replbench/storage/sqlexec"
)

// handler serves one node's connections. vitess calls a connection's methods one at a
// time, so the connection state needs no lock of its own.
type handler struct {
	mysql.UnimplementedHandler
	srv  *sqlexec.Server
	node int
	env  *vtenv.Environment

	mu    sync.Mutex
	conns map[*mysql.Conn]*connState
	wg    sync.WaitGroup
	hold  func(context.Context) error // Config.Hold for this node, nil if none
}

// held waits while the node is held (Config.Hold); a statement that was waiting when its
// connection went away fails with the context's error.
func (h *handler) held(st *connState) error {
	if h.hold == nil {
		return nil
	}
	if err := h.hold(st.ctx); err != nil {
		return sqlexec.ToSQLError(err)
	}
	return nil
}

// connState is what one connection holds: its session, its prepared statements by id, and
// the context its statements run under (cancelled when the endpoint closes).
type connState struct {
	sess     *sqlexec.Session
	prepared map[uint32]*sqlexec.Prepared
	ctx      context.Context
	cancel   context.CancelFunc
}

func newHandler(srv *sqlexec.Server, node int) *handler {
	env, err := vtenv.New(vtenv.Options{MySQLServerVersion: sqlexec.ParserVersion})
	if err != nil {
		panic("endpoint: vitess environment: " + err.Error()) // a constant version string: cannot fail
	}
	return &handler{srv: srv, node: node, env: env, conns: map[*mysql.Conn]*connState{}}
}

// Env implements mysql.Handler.
func (h *handler) Env() *vtenv.Environment { return h.env }

// NewConnection implements mysql.Handler: every connection starts in autocommit.
func (h *handler) NewConnection(c *mysql.Conn) {
	c.StatusFlags |= mysql.ServerStatusAutocommit
	h.wg.Add(1)
}

// ConnectionReady implements mysql.Handler: the handshake succeeded; the session starts.
// Multi-statements stay off whatever the client asked for (one statement per COM_QUERY).
func (h *handler) ConnectionReady(c *mysql.Conn) {
	c.Capabilities &^= mysql.CapabilityClientMultiStatements
	h.state(c)
}

func (h *handler) state(c *mysql.Conn) *connState {
	if st, ok := c.ClientData.(*connState); ok {
		return st
	}
	ctx, cancel := context.WithCancel(context.Background())
	st := &connState{sess: h.srv.NewSession(h.node, c.User), prepared: map[uint32]*sqlexec.Prepared{}, ctx: ctx, cancel: cancel}
	c.ClientData = st
	h.mu.Lock()
	h.conns[c] = st
	h.mu.Unlock()
	return st
}

// ConnectionClosed implements mysql.Handler: the session rolls back whatever it had open.
func (h *handler) ConnectionClosed(c *mysql.Conn) {
	defer h.wg.Done()
	st, ok := c.ClientData.(*connState)
	if !ok {
		return
	}
	st.cancel()
	st.sess.Close()
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
}

// ComResetConnection implements mysql.Handler (COM_RESET_CONNECTION): a fresh session.
func (h *handler) ComResetConnection(c *mysql.Conn) {
	if st, ok := c.ClientData.(*connState); ok {
		st.sess.Close()
		st.sess = h.srv.NewSession(h.node, c.User)
		clear(st.prepared)
	}
	c.StatusFlags = mysql.ServerStatusAutocommit
}

// closeAll cancels every connection's statements and closes its socket.
func (h *handler) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c, st := range h.conns {
		st.cancel()
		c.Close()
	}
}

func (h *handler) wait(d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// flags mirrors the session's transaction state in the status flags of every reply.
func flags(c *mysql.Conn, s *sqlexec.Session) {
	f := c.StatusFlags &^ (mysql.ServerStatusInTrans | mysql.ServerStatusAutocommit)
	if s.InTransaction() {
		f |= mysql.ServerStatusInTrans
	}
	if s.Autocommit() {
		f |= mysql.ServerStatusAutocommit
	}
	c.StatusFlags = f
}

// tooLarge is the check behind max_allowed_packet for what the wire reader could not see
// (a TLS connection's packets are encrypted): the statement is refused and the connection
// closed, as MySQL does.
func (h *handler) tooLarge(c *mysql.Conn, n int) error {
	if n <= h.srv.MaxAllowedPacket() {
		return nil
	}
	c.MarkForClose()
	return sqlerror.NewSQLError(sqlerror.ErrorCode(1153), "08S01", "Got a packet bigger than 'max_allowed_packet' bytes")
}

// ComQuery implements mysql.Handler.
func (h *handler) ComQuery(c *mysql.Conn, query string, callback func(*sqltypes.Result) error) error {
	if err := h.tooLarge(c, len(query)); err != nil {
		return err
	}
	st := h.state(c)
	if err := h.held(st); err != nil {
		return err
	}
	r, err := st.sess.Query(st.ctx, query)
	flags(c, st.sess)
	if err != nil {
		return sqlexec.ToSQLError(err)
	}
	return callback(r)
}

// ComQueryMulti implements mysql.Handler; the listener runs with multi-statements off, so
// vitess never calls it.
func (h *handler) ComQueryMulti(c *mysql.Conn, sql string, callback func(qr sqltypes.QueryResponse, more bool, firstPacket bool) error) error {
	return sqlerror.NewSQLError(sqlerror.ErrorCode(1235), "42000", "multi-statements are off on this server")
}

// ComPrepare implements mysql.Handler: the statement is planned once, here.
func (h *handler) ComPrepare(c *mysql.Conn, query string) ([]*querypb.Field, uint16, error) {
	if err := h.tooLarge(c, len(query)); err != nil {
		return nil, 0, err
	}
	st := h.state(c)
	if err := h.held(st); err != nil {
		return nil, 0, err
	}
	p, err := st.sess.Prepare(query)
	if err != nil {
		return nil, 0, sqlexec.ToSQLError(err)
	}
	if p.Params() > 65535 {
		return nil, 0, sqlerror.NewSQLError(sqlerror.ErrorCode(1390), "HY000", "Prepared statement contains too many placeholders")
	}
	// vitess numbers the statement right after this returns.
	st.prepared[c.StatementID+1] = p
	if len(st.prepared) > len(c.PrepareData)+256 {
		for id := range st.prepared {
			if _, live := c.PrepareData[id]; !live && id != c.StatementID+1 {
				delete(st.prepared, id)
			}
		}
	}
	// vitess rewrites the names of the fields it is given while it writes the prepare
	// reply, and the plan's fields are shared with every connection that prepared the same
	// text (the plan cache), so it gets a copy of its own.
	fields := make([]*querypb.Field, len(p.Fields()))
	for i, f := range p.Fields() {
		fields[i] = f.CloneVT()
	}
	return fields, uint16(p.Params()), nil
}

// ComStmtExecute implements mysql.Handler: the plan made at prepare runs with the bind values.
func (h *handler) ComStmtExecute(c *mysql.Conn, prepare *mysql.PrepareData, callback func(*sqltypes.Result) error) error {
	st := h.state(c)
	if err := h.held(st); err != nil {
		return err
	}
	p := st.prepared[prepare.StatementID]
	if p == nil {
		var err error
		if p, err = st.sess.Prepare(prepare.PrepareStmt); err != nil {
			return sqlexec.ToSQLError(err)
		}
		st.prepared[prepare.StatementID] = p
	}
	names := p.BindNames()
	binds := make([]sqlexec.Value, len(names))
	for i, name := range names {
		bv, ok := prepare.BindVars[name]
		if !ok {
			return sqlerror.NewSQLError(sqlerror.ErrorCode(1210), "HY000", "Incorrect arguments to mysqld_stmt_execute: parameter "+name+" was not sent")
		}
		v, err := bindValue(bv)
		if err != nil {
			return sqlerror.NewSQLError(sqlerror.ErrorCode(1210), "HY000", "Incorrect arguments to mysqld_stmt_execute: "+err.Error())
		}
		binds[i] = v
	}
	r, err := st.sess.Execute(st.ctx, p, binds)
	flags(c, st.sess)
	if err != nil {
		return sqlexec.ToSQLError(err)
	}
	return callback(r)
}

// bindValue converts a client's bind value to the engine's types.
func bindValue(bv *querypb.BindVariable) (sqlexec.Value, error) {
	if bv == nil {
		return nil, nil
	}
	t := bv.Type
	switch {
	case t == sqltypes.Null:
		return nil, nil
	case sqltypes.IsSigned(t):
		return strconv.ParseInt(string(bv.Value), 10, 64)
	case sqltypes.IsUnsigned(t):
		u, err := strconv.ParseUint(string(bv.Value), 10, 64)
		if err != nil {
			return nil, err
		}
		if u > 1<<63-1 {
			return float64(u), nil
		}
		return int64(u), nil
	case sqltypes.IsFloat(t) || t == sqltypes.Decimal:
		return strconv.ParseFloat(string(bv.Value), 64)
	}
	return string(bv.Value), nil
}

// WarningCount implements mysql.Handler: the emulation raises no warnings.
func (h *handler) WarningCount(*mysql.Conn) uint16 { return 0 }

var errNoReplication = sqlerror.NewSQLError(sqlerror.ErrorCode(1235), "42000", "This version of replbench doesn't yet support 'binlog streaming' (replication between emulated nodes is the model's own)")

// ComRegisterReplica implements mysql.Handler: refused.
func (h *handler) ComRegisterReplica(*mysql.Conn, string, uint16, string, string) error {
	return errNoReplication
}

// ComBinlogDump implements mysql.Handler: refused.
func (h *handler) ComBinlogDump(*mysql.Conn, string, uint32) error { return errNoReplication }

// ComBinlogDumpGTID implements mysql.Handler: refused.
func (h *handler) ComBinlogDumpGTID(*mysql.Conn, string, uint64, replication.GTIDSet, uint16) error {
	return errNoReplication
}

var quietOnce sync.Once

// quietVitessLog keeps vitess's per-connection log lines (a client that disconnects
// without COM_QUIT, a malformed packet) off the terminal of `replbench serve`: those are
// the client's business, and the client sees the error.
func quietVitessLog() {
	quietOnce.Do(func() {
		log.SwapLogger(slog.New(slog.DiscardHandler))
	})
}
