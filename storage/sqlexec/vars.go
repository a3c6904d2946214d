package sqlexec

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"vitess.io/vitess/go/sqltypes"
	"vitess.io/vitess/go/vt/sqlparser"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
)

// serverVar is a system variable of the emulated server itself (not a protocol parameter).
type serverVar struct {
	def func(s *Session) string
	// set applies a session value (nil: the variable is read-only). It returns the value to
	// store, or an error naming what is accepted.
	set func(s *Session, v string) (string, error)
}

func fixed(v string) func(*Session) string { return func(*Session) string { return v } }

// anyValue accepts whatever a client sets (character sets, sql_mode, timeouts): the
// emulation has no behaviour tied to them, so the value is only kept and shown back.
func anyValue(_ *Session, v string) (string, error) { return v, nil }

// serverVars are the variables clients read on connect and set in their session. Their
// defaults are MySQL 8.0's.
var serverVars = map[string]serverVar{
	"autocommit":                    {def: func(s *Session) string { return boolDigit(s.autocommit) }, set: setAutocommit},
	"version":                       {def: func(s *Session) string { return s.node.ident.version }},
	"version_comment":               {def: func(s *Session) string { return s.node.ident.comment }},
	"version_compile_os":            {def: func(s *Session) string { return s.node.ident.compileOS }},
	"innodb_version":                {def: func(s *Session) string { return s.node.ident.innodbVersion }},
	"log_bin":                       {def: func(s *Session) string { return boolDigit(logBin(s.node)) }},
	"version_compile_machine":       {def: fixed("x86_64")},
	"protocol_version":              {def: fixed("10")},
	"hostname":                      {def: func(*Session) string { h, _ := os.Hostname(); return h }},
	"server_id":                     {def: func(s *Session) string { return strconv.Itoa(slices.Index(s.srv.nodes, s.node) + 1) }},
	"max_allowed_packet":            {def: func(s *Session) string { return strconv.Itoa(s.srv.opts.MaxAllowedPacket) }},
	"transaction_isolation":         {def: fixed("REPEATABLE-READ"), set: setIsolation},
	"tx_isolation":                  {def: fixed("REPEATABLE-READ"), set: setIsolation},
	"transaction_read_only":         {def: fixed("0"), set: setReadOnly},
	"tx_read_only":                  {def: fixed("0"), set: setReadOnly},
	"innodb_lock_wait_timeout":      {def: lockWaitDefault, set: setLockWait},
	"sql_mode":                      {def: fixed("ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"), set: anyValue},
	"character_set_client":          {def: fixed("utf8mb4"), set: anyValue},
	"character_set_connection":      {def: fixed("utf8mb4"), set: anyValue},
	"character_set_results":         {def: fixed("utf8mb4"), set: anyValue},
	"character_set_server":          {def: fixed("utf8mb4"), set: anyValue},
	"character_set_database":        {def: fixed("utf8mb4"), set: anyValue},
	"character_set_system":          {def: fixed("utf8mb3")},
	"collation_connection":          {def: fixed("utf8mb4_0900_ai_ci"), set: anyValue},
	"collation_server":              {def: fixed("utf8mb4_0900_ai_ci"), set: anyValue},
	"collation_database":            {def: fixed("utf8mb4_0900_ai_ci"), set: anyValue},
	"init_connect":                  {def: fixed("")},
	"interactive_timeout":           {def: fixed("28800"), set: anyValue},
	"wait_timeout":                  {def: fixed("28800"), set: anyValue},
	"net_write_timeout":             {def: fixed("60"), set: anyValue},
	"net_read_timeout":              {def: fixed("30"), set: anyValue},
	"net_buffer_length":             {def: fixed("16384"), set: anyValue},
	"lower_case_table_names":        {def: fixed("0")},
	"license":                       {def: fixed("GPL")},
	"system_time_zone":              {def: func(*Session) string { z, _ := time.Now().Zone(); return z }},
	"time_zone":                     {def: fixed("SYSTEM"), set: anyValue},
	"sql_auto_is_null":              {def: fixed("0"), set: anyValue},
	"sql_select_limit":              {def: fixed("18446744073709551615"), set: anyValue},
	"sql_safe_updates":              {def: fixed("0"), set: anyValue},
	"sql_notes":                     {def: fixed("1"), set: anyValue},
	"sql_quote_show_create":         {def: fixed("1"), set: anyValue},
	"sql_log_bin":                   {def: fixed("1"), set: anyValue},
	"foreign_key_checks":            {def: fixed("1"), set: anyValue},
	"unique_checks":                 {def: fixed("1"), set: anyValue},
	"big_tables":                    {def: fixed("0"), set: anyValue},
	"names":                         {def: fixed("utf8mb4"), set: anyValue},
	"max_connections":               {def: fixed("100000")},
	"max_execution_time":            {def: fixed("0"), set: anyValue},
	"performance_schema":            {def: fixed("0")},
	"query_cache_size":              {def: fixed("0")},
	"query_cache_type":              {def: fixed("OFF")},
	"have_ssl":                      {def: fixed("YES")},
	"default_storage_engine":        {def: fixed("InnoDB"), set: anyValue},
	"storage_engine":                {def: fixed("InnoDB")},
	"event_scheduler":               {def: fixed("OFF")},
	"read_only":                     {def: readOnlyVar},
	"super_read_only":               {def: readOnlyVar},
	"auto_increment_increment":      {def: func(s *Session) string { i, _ := s.node.Engine.AutoIncrement(); return strconv.Itoa(i) }},
	"auto_increment_offset":         {def: func(s *Session) string { _, o := s.node.Engine.AutoIncrement(); return strconv.Itoa(o) }},
	"last_insert_id":                {def: func(s *Session) string { return strconv.FormatUint(s.lastInsertID, 10) }},
	"identity":                      {def: func(s *Session) string { return strconv.FormatUint(s.lastInsertID, 10) }},
	"warning_count":                 {def: fixed("0")},
	"error_count":                   {def: fixed("0")},
	"port":                          {def: fixed("0")},
	"socket":                        {def: fixed("")},
	"datadir":                       {def: fixed("")},
	"binlog_format":                 {def: fixed("ROW")},
	"default_authentication_plugin": {def: fixed("mysql_native_password")},
}

func onOff(b bool) string {
	if b {
		return "ON"
	}
	return "OFF"
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func readOnlyVar(s *Session) string {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	return onOff(protocols.Classify(s.node.Provider.BeforeWrite(ctx)) == protocols.CauseReadOnly)
}

func lockWaitDefault(s *Session) string {
	if v, ok := s.node.Params["innodb_lock_wait_timeout"]; ok {
		return v
	}
	return "50"
}

func parseBoolVar(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "1", "on", "true":
		return true, true
	case "0", "off", "false":
		return false, true
	}
	return false, false
}

func setAutocommit(s *Session, v string) (string, error) {
	on, ok := parseBoolVar(v)
	if !ok {
		return "", sqlErr(erWrongValueForVar, "42000", "Variable 'autocommit' can't be set to the value of '%s'", v)
	}
	if on && !s.autocommit && s.txn != nil {
		// Turning autocommit on commits the open transaction, as in MySQL.
		if err := s.commit(context.Background()); err != nil {
			return "", err
		}
	}
	s.autocommit = on
	return boolDigit(on), nil
}

func setIsolation(_ *Session, v string) (string, error) {
	if n := strings.ToUpper(strings.ReplaceAll(v, " ", "-")); n != "REPEATABLE-READ" {
		return "", notSupported("transaction_isolation " + v + " (the engine gives REPEATABLE-READ snapshots only)")
	}
	return "REPEATABLE-READ", nil
}

func setReadOnly(_ *Session, v string) (string, error) {
	if on, ok := parseBoolVar(v); ok && !on {
		return "0", nil
	}
	return "", notSupported("read-only transactions")
}

func setLockWait(s *Session, v string) (string, error) {
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || secs < 1 || secs > 1073741824 {
		return "", sqlErr(erWrongValueForVar, "42000", "Variable 'innodb_lock_wait_timeout' can't be set to the value of '%s' (accepted: 1 to 1073741824 seconds)", v)
	}
	s.lockTimeout = time.Duration(secs * float64(time.Second))
	if s.txn != nil {
		s.txn.SetLockWaitTimeout(s.lockTimeout)
	}
	return v, nil
}

// sessionParams are the protocol parameters a session may set for itself, as in the real
// server; every other protocol parameter is the node's, fixed when the cluster starts.
var sessionParams = map[string]func(s *Session, v string) error{
	"wsrep_sync_wait": func(s *Session, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > 15 {
			return sqlErr(erWrongValueForVar, "42000", "Variable 'wsrep_sync_wait' can't be set to the value of '%s' (accepted: 0 to 15)", v)
		}
		if node, _ := strconv.ParseInt(s.node.Params["wsrep_sync_wait"], 10, 64); n&node != node {
			return notSupported("lowering wsrep_sync_wait below the node's value " + s.node.Params["wsrep_sync_wait"] + " in one session")
		}
		s.syncWait = n
		return nil
	},
	"wsrep_retry_autocommit": func(s *Session, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10000 {
			return sqlErr(erWrongValueForVar, "42000", "Variable 'wsrep_retry_autocommit' can't be set to the value of '%s' (accepted: 0 to 10000)", v)
		}
		s.retryAutocommit = n
		return nil
	},
}

// param finds a declared protocol or engine parameter by name or alias.
func (n *Node) param(name string) (protocols.Param, bool) {
	lists := [][]protocols.Param{storage.Params}
	if n.Protocol != nil {
		lists = append([][]protocols.Param{n.Protocol.Params}, lists...)
	}
	for _, defs := range lists {
		for _, d := range defs {
			if strings.EqualFold(d.Name, name) || slices.ContainsFunc(d.Aliases, func(a string) bool { return strings.EqualFold(a, name) }) {
				return d, true
			}
		}
	}
	return protocols.Param{}, false
}

func (n *Node) paramValue(d protocols.Param) string {
	if v, ok := n.Params[d.Name]; ok {
		return v
	}
	return d.Default
}

// providerOptions is wsrep_provider_options: Galera's dotted parameters (gcs.fc_limit, ...),
// which a real server only exposes inside that one string.
func (n *Node) providerOptions() (string, bool) {
	if n.Protocol == nil {
		return "", false
	}
	var parts []string
	for _, d := range n.Protocol.Params {
		if strings.Contains(d.Name, ".") && !strings.HasPrefix(d.Name, "replbench.") {
			parts = append(parts, d.Name+" = "+n.paramValue(d))
		}
	}
	return strings.Join(parts, "; "), len(parts) > 0
}

// sysVar reads @@name: the session's value, a server variable, or a protocol parameter.
func (s *Session) sysVar(name string, global bool) (Value, error) {
	name = strings.ToLower(name)
	if v, ok := s.vars[name]; ok && !global {
		return varValue(v), nil
	}
	switch name {
	case "wsrep_sync_wait":
		if _, ok := s.node.param(name); ok && !global {
			return s.syncWait, nil
		}
	case "wsrep_retry_autocommit":
		if _, ok := s.node.param(name); ok && !global {
			return int64(s.retryAutocommit), nil
		}
	case "wsrep_provider_options":
		if o, ok := s.node.providerOptions(); ok {
			return o, nil
		}
	}
	if sv, ok := serverVars[name]; ok && !slices.Contains(s.node.ident.lacks, name) {
		return varValue(sv.def(s)), nil
	}
	if d, ok := s.node.param(name); ok {
		return varValue(s.node.paramValue(d)), nil
	}
	return nil, sqlErr(erUnknownSystemVar, "HY000", "Unknown system variable '%s'", name)
}

// varValue types a variable's text as MySQL does in a result: numbers as numbers.
func varValue(v string) Value {
	if i, err := strconv.ParseInt(v, 10, 64); err == nil {
		return i
	}
	return v
}

func (se *Session) planSet(n *sqlparser.Set, binds *bindSlots) (*compiled, error) {
	type assign struct {
		name  string
		scope sqlparser.Scope
		e     expr
		raw   sqlparser.Expr
	}
	var as []assign
	for _, x := range n.Exprs {
		name := strings.ToLower(x.Var.Name.String())
		var e expr
		// SET autocommit = ON: a bare word is its own name, not a column.
		if c, ok := x.Expr.(*sqlparser.ColName); ok && c.Qualifier.IsEmpty() {
			e = &constExpr{c.Name.String()}
		} else {
			var err error
			if e, err = (&scope{binds: binds, clause: "field list"}).compile(x.Expr); err != nil {
				return nil, err
			}
		}
		as = append(as, assign{name, x.Var.Scope, e, x.Expr})
	}
	return &compiled{kind: comSet, run: func(_ context.Context, s *Session, _ *storage.Txn, b []Value) (*sqltypes.Result, error) {
		e := &env{binds: b, s: s}
		for _, a := range as {
			v, err := a.e.eval(e)
			if err != nil {
				return nil, err
			}
			if err := s.setVar(a.name, a.scope, v); err != nil {
				return nil, err
			}
		}
		return ok(), nil
	}}, nil
}

// setVar is SET [GLOBAL|SESSION] name = v. Server variables keep a session value; the
// session-settable protocol parameters change this session's behaviour; any other protocol
// or engine parameter is the node's and only its current value is accepted (change it
// with --param when the cluster starts); an unknown name is 1193.
func (s *Session) setVar(name string, scope sqlparser.Scope, v Value) error {
	text := toString(v)
	if v == nil {
		text = ""
	}
	switch scope {
	case sqlparser.VariableScope:
		s.userVars[name] = v
		return nil
	case sqlparser.PersistSysScope, sqlparser.PersistOnlySysScope:
		return notSupported("SET PERSIST")
	}
	global := scope == sqlparser.GlobalScope
	if name == "wsrep_provider_options" {
		return s.setProviderOptions(text)
	}
	if set, ok := sessionParams[name]; ok {
		if _, declared := s.node.param(name); declared && !global {
			return set(s, text)
		}
	}
	if sv, ok := serverVars[name]; ok {
		if sv.set == nil {
			return sqlErr(erVarReadOnly, "HY000", "Variable '%s' is a read only variable", name)
		}
		if global && name != "autocommit" && name != "sql_mode" && !strings.HasPrefix(name, "character_set") && !strings.HasPrefix(name, "collation") {
			return sqlErr(erVarReadOnly, "HY000", "Variable '%s' cannot be set globally on the emulated server; set it per session", name)
		}
		stored, err := sv.set(s, text)
		if err != nil {
			return err
		}
		s.vars[name] = stored
		return nil
	}
	if d, ok := s.node.param(name); ok {
		if strings.EqualFold(s.node.paramValue(d), text) {
			return nil
		}
		return sqlErr(erVarReadOnly, "HY000", "Variable '%s' is fixed while the emulated cluster runs (it is %s; start the cluster with --param %s=%s)", name, s.node.paramValue(d), d.Name, text)
	}
	return sqlErr(erUnknownSystemVar, "HY000", "Unknown system variable '%s'", name)
}

// setProviderOptions accepts SET GLOBAL wsrep_provider_options='gcs.fc_limit=...' for
// values equal to the current ones (Galera can change a few at run time; the model cannot).
func (s *Session) setProviderOptions(v string) error {
	for _, part := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		d, declared := s.node.param(k)
		if !declared {
			return sqlErr(erWrongValueForVar, "42000", "Variable 'wsrep_provider_options' can't be set to the value of '%s' (unknown option %s)", v, k)
		}
		if !strings.EqualFold(s.node.paramValue(d), val) {
			return sqlErr(erVarReadOnly, "HY000", "Option %s is fixed while the emulated cluster runs (it is %s; start the cluster with --param %s=%s)", k, s.node.paramValue(d), k, val)
		}
	}
	return nil
}

// variables lists SHOW VARIABLES: server variables, then every protocol and engine
// parameter under its real name, sorted.
func (s *Session) variables(global bool) [][]string {
	seen := map[string]bool{}
	var rows [][]string
	add := func(name string) {
		if seen[name] || name == "names" {
			return
		}
		seen[name] = true
		v, err := s.sysVar(name, global)
		if err != nil {
			return
		}
		rows = append(rows, []string{name, toString(v)})
	}
	for name := range serverVars {
		add(name)
	}
	if s.node.Protocol != nil {
		for _, d := range s.node.Protocol.Params {
			if !strings.Contains(d.Name, ".") {
				add(d.Name)
			}
		}
	}
	for _, d := range storage.Params {
		if !strings.Contains(d.Name, ".") {
			add(d.Name)
		}
	}
	if _, ok := s.node.providerOptions(); ok {
		add("wsrep_provider_options")
	}
	slices.SortFunc(rows, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	return rows
}

// status lists SHOW STATUS: the server's counters, the engine's, then the provider's own.
func (s *Session) status() [][]string { return s.srv.nodeStatus(s.node) }

// Status is what SHOW GLOBAL STATUS reports on node i (0-based) as name/value rows: the
// server's counters, the engine's, then the provider's own (`replbench serve` writes it to
// the run directory when it stops).
func (srv *Server) Status(i int) [][]string { return srv.nodeStatus(srv.nodes[i]) }

func (srv *Server) nodeStatus(n *Node) [][]string {
	st := n.Engine.Stats()
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	rows := [][]string{
		{"Aborted_connects", i(n.stats.abortedConnects.Load())},
		{"Connections", i(n.stats.connections.Load())},
		{"Innodb_row_lock_waits", u(st.LockWaits)},
		{"Innodb_deadlocks", u(st.Deadlocks)},
		{"Innodb_lock_wait_timeouts", u(st.LockWaitTimeouts)},
		{"Questions", i(n.stats.questions.Load())},
		{"Queries", i(n.stats.questions.Load())},
		{"Replbench_autocommit_retries", i(n.stats.autocommitRetries.Load())},
		{"Threads_connected", i(n.stats.threadsConnected.Load())},
		{"Threads_running", i(n.stats.threadsRunning.Load())},
		{"Uptime", i(int64(time.Since(srv.started).Seconds()))},
	}
	for k := range comKinds {
		rows = append(rows, []string{comNames[k], i(n.stats.com[k].Load())})
	}
	slices.SortFunc(rows, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	for _, v := range n.Provider.Status() {
		rows = append(rows, []string{v.Name, v.Value})
	}
	return rows
}
