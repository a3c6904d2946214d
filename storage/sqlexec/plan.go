package sqlexec

import (
	"context"
	"fmt"
	"strings"

	"vitess.io/vitess/go/sqltypes"
	"vitess.io/vitess/go/vt/sqlparser"

	"github.com/replbench/replbench/storage"
)

// plan compiles one parsed statement against schema version v.
func (se *Session) plan(stmt sqlparser.Statement, v uint64) (*compiled, error) {
	binds := &bindSlots{}
	c, err := se.planStmt(stmt, binds)
	if err != nil {
		return nil, err
	}
	c.bindNames, c.version = binds.names, v
	return c, nil
}

func (se *Session) planStmt(stmt sqlparser.Statement, binds *bindSlots) (*compiled, error) {
	switch n := stmt.(type) {
	case *sqlparser.Select:
		return se.planSelect(n, binds)
	case *sqlparser.Insert:
		return se.planInsert(n, binds)
	case *sqlparser.Update:
		return se.planUpdate(n, binds)
	case *sqlparser.Delete:
		return se.planDelete(n, binds)
	case *sqlparser.Begin:
		for _, m := range n.TxAccessModes {
			if m == sqlparser.ReadOnly {
				return nil, notSupported("START TRANSACTION READ ONLY")
			}
		}
		return &compiled{kind: comBegin, run: func(ctx context.Context, s *Session, _ *storage.Txn, _ []Value) (*sqltypes.Result, error) {
			if err := s.commit(ctx); err != nil {
				return nil, err
			}
			s.txn = s.begin()
			if err := s.beforeTxn(ctx); err != nil {
				s.rollback()
				return nil, err
			}
			return ok(), nil
		}}, nil
	case *sqlparser.Commit:
		return &compiled{kind: comCommit, run: func(ctx context.Context, s *Session, _ *storage.Txn, _ []Value) (*sqltypes.Result, error) {
			return ok(), s.commit(ctx)
		}}, nil
	case *sqlparser.Rollback:
		return &compiled{kind: comRollback, run: func(_ context.Context, s *Session, _ *storage.Txn, _ []Value) (*sqltypes.Result, error) {
			s.rollback()
			return ok(), nil
		}}, nil
	case *sqlparser.Use:
		db := n.DBName.String()
		return &compiled{kind: comOther, run: func(_ context.Context, s *Session, _ *storage.Txn, _ []Value) (*sqltypes.Result, error) {
			if db == "" {
				s.db = ""
				return ok(), nil
			}
			return ok(), s.UseDatabase(db)
		}}, nil
	case *sqlparser.Set:
		return se.planSet(n, binds)
	case *sqlparser.Show:
		return se.planShow(n)
	case *sqlparser.ExplainTab:
		return se.planShowColumns(n.Table, "")
	case *sqlparser.DropDatabase:
		return planDropDatabase(se, n)
	case *sqlparser.CreateDatabase, *sqlparser.CreateTable, *sqlparser.DropTable, *sqlparser.AlterTable, *sqlparser.TruncateTable:
		return se.planDDL(stmt, nil)
	}
	return nil, notSupported(statementName(stmt))
}

// statementName names a statement kind for the 1235 error ("SAVEPOINT", "LOCK TABLES").
func statementName(stmt sqlparser.Statement) string {
	s := sqlparser.String(stmt)
	words := strings.Fields(s)
	if len(words) > 3 {
		words = words[:3]
	}
	if len(words) == 0 {
		return fmt.Sprintf("%T", stmt)
	}
	return strings.ToUpper(strings.Join(words, " "))
}

// resolveTable resolves a table reference against the session's database.
func (se *Session) resolveTable(tn sqlparser.TableName) (*tableMeta, error) {
	db := se.db
	if q := tn.Qualifier.String(); q != "" {
		db = q
	}
	return se.srv.table(se.node, db, tn.Name.String())
}

// singleTable returns the one table a FROM clause names, refusing joins and derived tables.
func (se *Session) singleTable(from []sqlparser.TableExpr) (*tableMeta, error) {
	if len(from) != 1 {
		return nil, notSupported("joins (several tables in FROM)")
	}
	at, ok := from[0].(*sqlparser.AliasedTableExpr)
	if !ok {
		return nil, notSupported("joins")
	}
	tn, ok := at.Expr.(sqlparser.TableName)
	if !ok {
		return nil, notSupported("derived tables (a subquery in FROM)")
	}
	if at.Partitions != nil {
		return nil, notSupported("PARTITION selection")
	}
	if isSystemDB(tn.Qualifier.String()) || (tn.Qualifier.IsEmpty() && isSystemDB(se.db)) {
		return nil, notSupported("tables of " + tn.Qualifier.String() + se.db + " (system schemas are not emulated)")
	}
	t, err := se.resolveTable(tn)
	if err != nil {
		return nil, err
	}
	if a := at.As.String(); a != "" {
		c := *t
		c.alias = a
		return &c, nil
	}
	return t, nil
}

// hasColumns reports whether an expression refers to any column (it then cannot serve as
// a key value).
func hasColumns(x sqlparser.Expr) bool {
	found := false
	_ = sqlparser.Walk(func(n sqlparser.SQLNode) (bool, error) {
		switch n.(type) {
		case *sqlparser.ColName, *sqlparser.Subquery:
			found = true
			return false, nil
		}
		return true, nil
	}, x)
	return found
}
