package sqlexec

import (
	"context"
	"strings"

	"vitess.io/vitess/go/sqltypes"
	"vitess.io/vitess/go/vt/sqlparser"

	"github.com/replbench/replbench/storage"
)

// showPlan builds a SHOW result: rows computes the rows, filter (LIKE or WHERE over the
// result's columns) keeps some.
func showPlan(names []string, filter *sqlparser.ShowFilter, rows func(ctx context.Context, s *Session) ([][]string, error)) (*compiled, error) {
	var where expr
	like := ""
	if filter != nil {
		like = filter.Like
		if filter.Filter != nil {
			t := &tableMeta{cols: map[string]int{}, hidden: -1, schema: &storage.TableSchema{}}
			for i, n := range names {
				t.cols[strings.ToLower(n)] = i
				t.schema.Columns = append(t.schema.Columns, storage.Column{Name: n, Type: storage.String})
			}
			w, err := (&scope{t: t, binds: &bindSlots{}, clause: "where clause"}).compile(filter.Filter)
			if err != nil {
				return nil, err
			}
			where = w
		}
	}
	hasLike := filter != nil && filter.Filter == nil
	return &compiled{kind: comShow, run: func(ctx context.Context, s *Session, _ *storage.Txn, _ []Value) (*sqltypes.Result, error) {
		all, err := rows(ctx, s)
		if err != nil {
			return nil, err
		}
		kept := all[:0]
		e := &env{s: s}
		for _, r := range all {
			if hasLike && !likeMatch(r[0], like) {
				continue
			}
			if where != nil {
				e.row = make([]Value, len(r))
				for i, v := range r {
					e.row[i] = v
				}
				v, err := where.eval(e)
				if err != nil {
					return nil, err
				}
				if !truth(v) {
					continue
				}
			}
			kept = append(kept, r)
		}
		return textResult(names, kept), nil
	}}, nil
}

func (se *Session) planShow(n *sqlparser.Show) (*compiled, error) {
	switch sh := n.Internal.(type) {
	case *sqlparser.ShowBasic:
		switch sh.Command {
		case sqlparser.StatusGlobal, sqlparser.StatusSession:
			return showPlan([]string{"Variable_name", "Value"}, sh.Filter, func(_ context.Context, s *Session) ([][]string, error) {
				return s.status(), nil
			})
		case sqlparser.VariableGlobal, sqlparser.VariableSession:
			global := sh.Command == sqlparser.VariableGlobal
			return showPlan([]string{"Variable_name", "Value"}, sh.Filter, func(_ context.Context, s *Session) ([][]string, error) {
				return s.variables(global), nil
			})
		case sqlparser.Database:
			return showPlan([]string{"Database"}, sh.Filter, func(_ context.Context, s *Session) ([][]string, error) {
				var rows [][]string
				for _, db := range s.srv.databases() {
					rows = append(rows, []string{db})
				}
				return rows, nil
			})
		case sqlparser.Table:
			dbName := sh.DbName.String()
			full := sh.Full
			db := dbName
			if db == "" {
				db = se.db
			}
			names := []string{"Tables_in_" + db}
			if full {
				names = append(names, "Table_type")
			}
			return showPlan(names, sh.Filter, func(_ context.Context, s *Session) ([][]string, error) {
				d := dbName
				if d == "" {
					d = s.db
				}
				if d == "" {
					return nil, sqlErr(erNoDB, "3D000", "No database selected")
				}
				if !s.srv.hasDB(d) && !isSystemDB(d) {
					return nil, sqlErr(erBadDB, "42000", "Unknown database '%s'", d)
				}
				var rows [][]string
				for _, t := range s.node.Engine.Tables() {
					if tdb, name := splitStorageName(t); tdb == d {
						r := []string{name}
						if full {
							r = append(r, "BASE TABLE")
						}
						rows = append(rows, r)
					}
				}
				return rows, nil
			})
		case sqlparser.Column:
			return se.planShowColumns(sh.Tbl, sh.DbName.String())
		case sqlparser.Warnings, sqlparser.Errors:
			return showPlan([]string{"Level", "Code", "Message"}, nil, func(context.Context, *Session) ([][]string, error) {
				return nil, nil // statements that succeed leave no warnings in this emulation
			})
		case sqlparser.Engines:
			return showPlan([]string{"Engine", "Support", "Comment", "Transactions", "XA", "Savepoints"}, sh.Filter, func(context.Context, *Session) ([][]string, error) {
				return [][]string{{"InnoDB", "DEFAULT", "Pebble under the replbench transaction core", "YES", "NO", "NO"}}, nil
			})
		case sqlparser.Charset:
			return showPlan([]string{"Charset", "Description", "Default collation", "Maxlen"}, sh.Filter, func(context.Context, *Session) ([][]string, error) {
				return [][]string{{"utf8mb4", "UTF-8 Unicode", "utf8mb4_0900_ai_ci", "4"}}, nil
			})
		case sqlparser.Collation:
			return showPlan([]string{"Collation", "Charset", "Id", "Default", "Compiled", "Sortlen"}, sh.Filter, func(context.Context, *Session) ([][]string, error) {
				return [][]string{{"utf8mb4_0900_ai_ci", "utf8mb4", "255", "Yes", "Yes", "0"}}, nil
			})
		}
	case *sqlparser.ShowCreate:
		if sh.Command == sqlparser.CreateTbl {
			tn := sh.Op
			return &compiled{kind: comShow, run: func(_ context.Context, s *Session, _ *storage.Txn, _ []Value) (*sqltypes.Result, error) {
				t, err := s.resolveTable(tn)
				if err != nil {
					return nil, err
				}
				return textResult([]string{"Table", "Create Table"}, [][]string{{t.name, showCreateTable(t)}}), nil
			}}, nil
		}
		if sh.Command == sqlparser.CreateDb {
			db := sh.Op.Name.String()
			return &compiled{kind: comShow, run: func(_ context.Context, s *Session, _ *storage.Txn, _ []Value) (*sqltypes.Result, error) {
				if !s.srv.hasDB(db) {
					return nil, sqlErr(erBadDB, "42000", "Unknown database '%s'", db)
				}
				return textResult([]string{"Database", "Create Database"}, [][]string{{db, "CREATE DATABASE `" + db + "` /*!40100 DEFAULT CHARACTER SET utf8mb4 */"}}), nil
			}}, nil
		}
	}
	return nil, notSupported(strings.ToUpper(sqlparser.String(n)))
}

// planShowColumns is SHOW COLUMNS / DESCRIBE.
func (se *Session) planShowColumns(tn sqlparser.TableName, db string) (*compiled, error) {
	if db != "" {
		tn.Qualifier = sqlparser.NewIdentifierCS(db)
	}
	return &compiled{kind: comShow, run: func(_ context.Context, s *Session, _ *storage.Txn, _ []Value) (*sqltypes.Result, error) {
		t, err := s.resolveTable(tn)
		if err != nil {
			return nil, err
		}
		var rows [][]string
		for _, i := range t.visible {
			c := t.schema.Columns[i]
			null, key, def, extra := "YES", "", "NULL", ""
			if !c.Nullable {
				null = "NO"
			}
			for _, p := range t.schema.PrimaryKey {
				if p == i && t.hidden < 0 {
					key = "PRI"
				}
			}
			for _, ix := range t.schema.Indexes {
				if key == "" && ix.Columns[0] == i {
					key = "MUL"
					if ix.Unique {
						key = "UNI"
					}
				}
			}
			if c.HasDefault && c.Default != nil {
				def = toString(c.Default)
			} else if !c.HasDefault {
				def = ""
			}
			if c.AutoIncrement {
				extra = "auto_increment"
			}
			rows = append(rows, []string{c.Name, declOrKind(c), null, key, def, extra})
		}
		return textResult([]string{"Field", "Type", "Null", "Key", "Default", "Extra"}, rows), nil
	}}, nil
}
