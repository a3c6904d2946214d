package sqlexec

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"vitess.io/vitess/go/sqltypes"
	"vitess.io/vitess/go/vt/sqlparser"

	"github.com/replbench/replbench/storage"
)

// ddlPlan wraps a schema change compiled at planning (change): at run time it commits the
// session's open transaction first (DDL commits implicitly in MySQL), checks the change on
// the session's node (an IF [NOT] EXISTS with nothing to do returns here, before the
// origin's BeforeWrite, as a server answers it from its data dictionary) and carries the
// statement to every node through Server.ddl. after, when set, runs on the session once
// every node took the change.
func ddlPlan(stmt sqlparser.Statement, change *ddlChange, after func(s *Session)) *compiled {
	return &compiled{kind: comDDL, run: func(ctx context.Context, s *Session, _ *storage.Txn, _ []Value) (*sqltypes.Result, error) {
		if err := s.commit(ctx); err != nil {
			return nil, err
		}
		if skip, err := change.check(s.srv, s.node.Engine); err != nil || skip {
			return ok(), err
		}
		if err := s.srv.ddl(ctx, s, stmt); err != nil {
			return nil, err
		}
		if after != nil {
			after(s)
		}
		return ok(), nil
	}}
}

// ddlChange is one schema change compiled against a current database, in the form every
// node runs it: check refuses it on a node (or reports skip, nothing to do: an IF [NOT]
// EXISTS), apply changes a node's engine, catalog (nil: none) changes a Server's catalogue
// of databases. The same ddlChange serves the origin's check at run time and each node's
// application (applyOn), so what refuses a change and what makes it are one definition.
type ddlChange struct {
	check   func(s *Server, e *storage.Engine) (skip bool, err error)
	apply   func(e *storage.Engine) error
	catalog func(s *Server)
}

// applyOn checks the change on e and, unless it is refused or has nothing to do, makes it.
func (c *ddlChange) applyOn(s *Server, e *storage.Engine) error {
	skip, err := c.check(s, e)
	if err != nil || skip {
		return err
	}
	return c.apply(e)
}

// compileDDL compiles a parsed schema change for the current database db, as the planner
// and every node applying the carried statement (Server.compileChange) both do.
func (s *Server) compileDDL(stmt sqlparser.Statement, db string) (*ddlChange, error) {
	switch n := stmt.(type) {
	case *sqlparser.CreateDatabase:
		return createDatabase(n), nil
	case *sqlparser.DropDatabase:
		return dropDatabase(n), nil
	case *sqlparser.CreateTable:
		return s.createTable(n, db)
	case *sqlparser.DropTable:
		return s.dropTable(n, db)
	case *sqlparser.TruncateTable:
		return s.truncateTable(n, db)
	case *sqlparser.AlterTable:
		return s.alterTable(n, db)
	}
	return nil, notSupported(statementName(stmt))
}

// planDDL plans a schema change of the session's current database.
func (se *Session) planDDL(stmt sqlparser.Statement, after func(s *Session)) (*compiled, error) {
	c, err := se.srv.compileDDL(stmt, se.db)
	if err != nil {
		return nil, err
	}
	return ddlPlan(stmt, c, after), nil
}

func createDatabase(n *sqlparser.CreateDatabase) *ddlChange {
	db := n.DBName.String()
	return &ddlChange{
		check: func(s *Server, _ *storage.Engine) (bool, error) {
			if isSystemDB(db) || s.hasDB(db) {
				if n.IfNotExists {
					return true, nil
				}
				return false, sqlErr(erDBCreateExists, "HY000", "Can't create database '%s'; database exists", db)
			}
			return false, nil
		},
		apply: func(*storage.Engine) error { return nil },
		catalog: func(s *Server) {
			s.catMu.Lock()
			s.dbs[db] = true
			s.catMu.Unlock()
		},
	}
}

func dropDatabase(n *sqlparser.DropDatabase) *ddlChange {
	db := n.DBName.String()
	return &ddlChange{
		check: func(s *Server, _ *storage.Engine) (bool, error) {
			if !s.hasDB(db) {
				if n.IfExists {
					return true, nil
				}
				return false, sqlErr(erDBDropExists, "HY000", "Can't drop database '%s'; database doesn't exist", db)
			}
			return false, nil
		},
		apply: func(e *storage.Engine) error {
			for _, t := range e.Tables() {
				if d, _ := splitStorageName(t); d == db {
					if err := e.DropTable(t); err != nil {
						return err
					}
				}
			}
			return nil
		},
		catalog: func(s *Server) {
			s.catMu.Lock()
			delete(s.dbs, db)
			s.catMu.Unlock()
		},
	}
}

func planDropDatabase(se *Session, n *sqlparser.DropDatabase) (*compiled, error) {
	db := n.DBName.String()
	if isSystemDB(db) || db == DefaultDatabase {
		return nil, sqlErr(1044, "42000", "Access denied for user '%s'@'%%' to database '%s' (replbench keeps it)", se.user, db)
	}
	return se.planDDL(n, func(s *Session) {
		if s.db == db {
			s.db = ""
		}
	})
}

// tableName resolves the database and name of a table to create or drop.
func (s *Server) tableName(tn sqlparser.TableName, cur string) (db, name string, err error) {
	db = cur
	if q := tn.Qualifier.String(); q != "" {
		db = q
	}
	if db == "" {
		return "", "", sqlErr(erNoDB, "3D000", "No database selected")
	}
	if isSystemDB(db) {
		return "", "", notSupported("tables in " + db)
	}
	if !s.hasDB(db) {
		return "", "", sqlErr(erBadDB, "42000", "Unknown database '%s'", db)
	}
	return db, tn.Name.String(), nil
}

// columnKind maps a declared SQL type to the engine's stored type.
func columnKind(typ string) (storage.ColumnType, bool) {
	switch strings.ToLower(typ) {
	case "int", "integer", "tinyint", "smallint", "mediumint", "bigint", "bit", "bool", "boolean", "year", "serial":
		return storage.Int, true
	case "float", "double", "real", "decimal", "numeric", "dec", "fixed", "double precision":
		return storage.Float, true
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "binary", "varbinary",
		"tinyblob", "blob", "mediumblob", "longblob", "date", "datetime", "timestamp", "time", "enum", "set", "json":
		return storage.String, true
	}
	return 0, false
}

func columnDecl(ct *sqlparser.ColumnType) string {
	d := strings.ToLower(ct.Type)
	if ct.Length != nil {
		d += "(" + strconv.Itoa(*ct.Length)
		if ct.Scale != nil {
			d += "," + strconv.Itoa(*ct.Scale)
		}
		d += ")"
	} else if len(ct.EnumValues) > 0 {
		d += "(" + strings.Join(ct.EnumValues, ",") + ")"
	}
	if ct.Unsigned {
		d += " unsigned"
	}
	return d
}

// schemaFromSpec builds the engine schema of CREATE TABLE. A table without a primary key
// gets the hidden DB_ROW_ID auto-increment key InnoDB would add, as the last column.
func schemaFromSpec(store string, spec *sqlparser.TableSpec) (storage.TableSchema, error) {
	s := storage.TableSchema{Name: store}
	if spec == nil {
		return s, notSupported("CREATE TABLE without columns (LIKE / SELECT)")
	}
	if spec.PartitionOption != nil {
		return s, notSupported("partitioned tables")
	}
	if len(spec.Constraints) > 0 {
		return s, notSupported("constraints (FOREIGN KEY, CHECK)")
	}
	pos := map[string]int{}
	var pk []int
	var indexes []storage.Index
	for i, cd := range spec.Columns {
		name := cd.Name.String()
		if strings.EqualFold(name, hiddenPK) {
			return s, sqlErr(erWrongColumnName, "42000", "Incorrect column name '%s'", name)
		}
		if _, dup := pos[strings.ToLower(name)]; dup {
			return s, sqlErr(erDupFieldName, "42S21", "Duplicate column name '%s'", name)
		}
		pos[strings.ToLower(name)] = i
		ct := cd.Type
		kind, ok := columnKind(ct.Type)
		if !ok {
			return s, notSupported("column type " + ct.Type)
		}
		c := storage.Column{Name: name, Type: kind, Decl: columnDecl(ct), Nullable: true}
		if ct.Length != nil {
			c.Size = *ct.Length
		}
		o := ct.Options
		if strings.EqualFold(ct.Type, "serial") {
			c.Decl, c.AutoIncrement, c.Nullable = "bigint unsigned", true, false
			if o == nil || (o.KeyOpt != sqlparser.ColKeyPrimary) {
				indexes = append(indexes, storage.Index{Name: name, Columns: []int{i}, Unique: true})
			}
		}
		if o != nil {
			if o.Null != nil {
				c.Nullable = *o.Null
			}
			if o.Autoincrement {
				c.AutoIncrement = true
			}
			if o.As != nil {
				return s, notSupported("generated columns")
			}
			if o.Default != nil {
				v, err := defaultValue(o.Default)
				if err != nil {
					return s, err
				}
				if v != nil {
					cv, ok := coerce(&c, v)
					if !ok && v != currentTimestamp {
						return s, sqlErr(1067, "42000", "Invalid default value for '%s'", name)
					}
					if v == currentTimestamp {
						cv = v
					}
					v = cv
				}
				c.Default, c.HasDefault = v, true
			} else if c.Nullable {
				c.HasDefault = true // DEFAULT NULL
			}
			switch o.KeyOpt {
			case sqlparser.ColKeyPrimary:
				pk = append(pk, i)
			case sqlparser.ColKeyUnique, sqlparser.ColKeyUniqueKey:
				indexes = append(indexes, storage.Index{Name: name, Columns: []int{i}, Unique: true})
			case sqlparser.ColKey:
				indexes = append(indexes, storage.Index{Name: name, Columns: []int{i}})
			}
		} else if c.Nullable {
			c.HasDefault = true
		}
		s.Columns = append(s.Columns, c)
	}
	for _, ix := range spec.Indexes {
		cols := make([]int, len(ix.Columns))
		for i, ic := range ix.Columns {
			if ic.Expression != nil {
				return s, notSupported("functional index parts")
			}
			p, ok := pos[strings.ToLower(ic.Column.String())]
			if !ok {
				return s, sqlErr(erKeyColumnMissing, "42000", "Key column '%s' doesn't exist in table", ic.Column.String())
			}
			cols[i] = p
		}
		switch ix.Info.Type {
		case sqlparser.IndexTypePrimary:
			if len(pk) > 0 {
				return s, sqlErr(erMultiplePK, "42000", "Multiple primary key defined")
			}
			pk = cols
		case sqlparser.IndexTypeSpatial, sqlparser.IndexTypeFullText:
			return s, notSupported("SPATIAL / FULLTEXT indexes")
		default:
			name := ix.Info.Name.String()
			if name == "" {
				name = s.Columns[cols[0]].Name
			}
			indexes = append(indexes, storage.Index{Name: name, Columns: cols, Unique: ix.Info.Type == sqlparser.IndexTypeUnique})
		}
	}
	if len(pk) == 0 {
		// A lone AUTO_INCREMENT column with a unique key serves as the primary key (an id
		// SERIAL column); otherwise the hidden row id.
		for i, c := range s.Columns {
			if c.AutoIncrement {
				pk = []int{i}
				for j, ix := range indexes {
					if len(ix.Columns) == 1 && ix.Columns[0] == i {
						indexes = append(indexes[:j], indexes[j+1:]...)
						break
					}
				}
				break
			}
		}
	}
	if len(pk) == 0 {
		s.Columns = append(s.Columns, storage.Column{Name: hiddenPK, Type: storage.Int, AutoIncrement: true, Decl: "bigint unsigned"})
		pk = []int{len(s.Columns) - 1}
	}
	for _, p := range pk {
		s.Columns[p].Nullable = false
		if s.Columns[p].HasDefault && s.Columns[p].Default == nil {
			s.Columns[p].HasDefault = false
		}
	}
	for i, c := range s.Columns {
		if c.AutoIncrement && pk[0] != i {
			return s, sqlErr(erWrongAutoKey, "42000", "Incorrect table definition; the AUTO_INCREMENT column %s must be the first column of the primary key here", c.Name)
		}
	}
	s.PrimaryKey = pk
	seen := map[string]bool{"PRIMARY": true}
	for i := range indexes {
		name := indexes[i].Name
		for k := 2; seen[name]; k++ {
			name = indexes[i].Name + "_" + strconv.Itoa(k)
		}
		seen[name] = true
		indexes[i].Name = name
	}
	s.Indexes = indexes
	return s, nil
}

func defaultValue(x sqlparser.Expr) (Value, error) {
	switch x.(type) {
	case *sqlparser.NullVal:
		return nil, nil
	case *sqlparser.CurTimeFuncExpr:
		return currentTimestamp, nil
	}
	v, err := (&scope{binds: &bindSlots{}, clause: "default"}).compile(x)
	if err != nil {
		return nil, err
	}
	c, ok := v.(*constExpr)
	if !ok {
		return nil, notSupported("expression defaults")
	}
	return c.v, nil
}

func (s *Server) createTable(n *sqlparser.CreateTable, cur string) (*ddlChange, error) {
	if n.Temp {
		return nil, notSupported("CREATE TEMPORARY TABLE")
	}
	if n.OptLike != nil || n.Select != nil {
		return nil, notSupported("CREATE TABLE ... LIKE / SELECT")
	}
	db, name, err := s.tableName(n.Table, cur)
	if err != nil {
		return nil, err
	}
	schema, err := schemaFromSpec(storageName(db, name), n.TableSpec)
	if err != nil {
		return nil, err
	}
	return &ddlChange{
		check: func(_ *Server, e *storage.Engine) (bool, error) {
			if _, exists := e.Schema(schema.Name); exists {
				if n.IfNotExists {
					return true, nil
				}
				return false, sqlErr(erTableExists, "42S01", "Table '%s' already exists", name)
			}
			return false, nil
		},
		apply: func(e *storage.Engine) error { return e.CreateTable(schema) },
	}, nil
}

func (s *Server) dropTable(n *sqlparser.DropTable, cur string) (*ddlChange, error) {
	if n.Temp {
		return nil, notSupported("DROP TEMPORARY TABLE")
	}
	type target struct{ db, name, store string }
	var ts []target
	for _, tn := range n.FromTables {
		db, name, err := s.tableName(tn, cur)
		if err != nil {
			return nil, err
		}
		ts = append(ts, target{db, name, storageName(db, name)})
	}
	return &ddlChange{
		check: func(_ *Server, e *storage.Engine) (bool, error) {
			var missing []string
			present := 0
			for _, t := range ts {
				if _, ok := e.Schema(t.store); !ok {
					missing = append(missing, t.db+"."+t.name)
					continue
				}
				present++
			}
			if len(missing) > 0 && !n.IfExists {
				return false, sqlErr(erBadTable, "42S02", "Unknown table '%s'", strings.Join(missing, ","))
			}
			return present == 0, nil
		},
		apply: func(e *storage.Engine) error {
			for _, t := range ts {
				if err := e.DropTable(t.store); err != nil && !errors.Is(err, storage.ErrNoTable) {
					return err
				}
			}
			return nil
		},
	}, nil
}

func (s *Server) truncateTable(n *sqlparser.TruncateTable, cur string) (*ddlChange, error) {
	db, name, err := s.tableName(n.Table, cur)
	if err != nil {
		return nil, err
	}
	store := storageName(db, name)
	return &ddlChange{
		check: func(_ *Server, e *storage.Engine) (bool, error) {
			if _, ok := e.Schema(store); !ok {
				return false, noSuchTable(db, name)
			}
			return false, nil
		},
		apply: func(e *storage.Engine) error {
			schema, ok := e.Schema(store)
			if !ok {
				return noSuchTable(db, name)
			}
			if err := e.DropTable(store); err != nil {
				return err
			}
			return e.CreateTable(*schema)
		},
	}, nil
}

// alterTable runs ALTER TABLE ... ADD INDEX / KEY / UNIQUE (and CREATE INDEX, which the
// parser turns into it); any other change is refused.
func (s *Server) alterTable(n *sqlparser.AlterTable, cur string) (*ddlChange, error) {
	db, name, err := s.tableName(n.Table, cur)
	if err != nil {
		return nil, err
	}
	if n.PartitionSpec != nil || n.PartitionOption != nil {
		return nil, notSupported("ALTER TABLE ... PARTITION")
	}
	var adds []*sqlparser.IndexDefinition
	for _, o := range n.AlterOptions {
		switch a := o.(type) {
		case *sqlparser.AddIndexDefinition:
			adds = append(adds, a.IndexDefinition)
		case sqlparser.TableOptions:
			// ENGINE=InnoDB and the like: nothing to change in the emulation
		default:
			return nil, notSupported("ALTER TABLE " + strings.ToUpper(strings.Fields(sqlparser.String(o))[0]) + " (only ADD INDEX / CREATE INDEX)")
		}
	}
	store := storageName(db, name)
	// indexes resolves the added indexes against the table as engine e holds it.
	indexes := func(e *storage.Engine) ([]storage.Index, error) {
		schema, ok := e.Schema(store)
		if !ok {
			return nil, noSuchTable(db, name)
		}
		var ixs []storage.Index
		for _, d := range adds {
			switch d.Info.Type {
			case sqlparser.IndexTypePrimary:
				return nil, notSupported("adding a primary key to an existing table")
			case sqlparser.IndexTypeSpatial, sqlparser.IndexTypeFullText:
				return nil, notSupported("SPATIAL / FULLTEXT indexes")
			}
			ix := storage.Index{Name: d.Info.Name.String(), Unique: d.Info.Type == sqlparser.IndexTypeUnique}
			for _, ic := range d.Columns {
				found := -1
				for i, c := range schema.Columns {
					if strings.EqualFold(c.Name, ic.Column.String()) && c.Name != hiddenPK {
						found = i
					}
				}
				if found < 0 {
					return nil, sqlErr(erKeyColumnMissing, "42000", "Key column '%s' doesn't exist in table", ic.Column.String())
				}
				ix.Columns = append(ix.Columns, found)
			}
			if ix.Name == "" {
				ix.Name = schema.Columns[ix.Columns[0]].Name
			}
			for _, have := range schema.Indexes {
				if strings.EqualFold(have.Name, ix.Name) {
					return nil, sqlErr(erDupKeyName, "42000", "Duplicate key name '%s'", ix.Name)
				}
			}
			ixs = append(ixs, ix)
		}
		return ixs, nil
	}
	return &ddlChange{
		check: func(_ *Server, e *storage.Engine) (bool, error) {
			_, err := indexes(e)
			return false, err
		},
		apply: func(e *storage.Engine) error {
			ixs, err := indexes(e)
			if err != nil {
				return err
			}
			for _, ix := range ixs {
				if err := e.AddIndex(store, ix); err != nil {
					return err
				}
			}
			return nil
		},
	}, nil
}

// showCreateTable renders a table's definition as SHOW CREATE TABLE prints it.
func showCreateTable(t *tableMeta) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE `%s` (\n", t.name)
	var lines []string
	for _, i := range t.visible {
		c := t.schema.Columns[i]
		l := fmt.Sprintf("  `%s` %s", c.Name, declOrKind(c))
		if !c.Nullable {
			l += " NOT NULL"
		}
		if c.AutoIncrement {
			l += " AUTO_INCREMENT"
		} else if c.HasDefault {
			if c.Default == nil {
				l += " DEFAULT NULL"
			} else if c.Default == currentTimestamp {
				l += " DEFAULT CURRENT_TIMESTAMP"
			} else {
				l += " DEFAULT '" + strings.ReplaceAll(toString(c.Default), "'", "''") + "'"
			}
		}
		lines = append(lines, l)
	}
	names := func(cols []int) string {
		q := make([]string, len(cols))
		for i, c := range cols {
			q[i] = "`" + t.schema.Columns[c].Name + "`"
		}
		return strings.Join(q, ",")
	}
	if t.hidden < 0 {
		lines = append(lines, "  PRIMARY KEY ("+names(t.schema.PrimaryKey)+")")
	}
	for _, ix := range t.schema.Indexes {
		kind := "KEY"
		if ix.Unique {
			kind = "UNIQUE KEY"
		}
		lines = append(lines, fmt.Sprintf("  %s `%s` (%s)", kind, ix.Name, names(ix.Columns)))
	}
	b.WriteString(strings.Join(lines, ",\n"))
	b.WriteString("\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
	return b.String()
}

func declOrKind(c storage.Column) string {
	if c.Decl != "" {
		return c.Decl
	}
	switch c.Type {
	case storage.Int:
		return "bigint"
	case storage.Float:
		return "double"
	}
	return "text"
}
