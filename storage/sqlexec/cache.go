package sqlexec

import (
	"strconv"
	"sync"

	"vitess.io/vitess/go/vt/sqlparser"
)

// planCache holds compiled plans by key (current database + statement text, exact or
// normalised). It is bounded: when full it starts over, which costs one re-plan per
// statement a client keeps sending and never grows without limit under clients that send
// ever-new texts.
type planCache struct {
	mu  sync.RWMutex
	m   map[string]*compiled
	max int
}

func (c *planCache) init(max int) { c.m, c.max = make(map[string]*compiled, 256), max }

func (c *planCache) get(key string) *compiled {
	c.mu.RLock()
	p := c.m[key]
	c.mu.RUnlock()
	return p
}

func (c *planCache) put(key string, p *compiled) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		c.m = make(map[string]*compiled, 256)
	}
	c.m[key] = p
	c.mu.Unlock()
}

// litPrefix names the bind variables the normaliser puts where a text query had literals.
const litPrefix = "_lit"

// normalize lifts the literals of a DML statement out into bind variables, in place, and
// returns their values (nil when the statement is not normalised). Two queries that differ
// only in their constants then share one plan: the text protocol's sysbench or mysqlslap
// sends the same shapes with new values. Literals whose text matters stay: the select list
// (they name result columns), ORDER BY / GROUP BY (positions), LIMIT.
func normalize(stmt sqlparser.Statement) []Value {
	switch stmt.(type) {
	case *sqlparser.Select, *sqlparser.Insert, *sqlparser.Update, *sqlparser.Delete:
	default:
		return nil
	}
	var lits []Value
	sqlparser.Rewrite(stmt, func(c *sqlparser.Cursor) bool {
		switch c.Node().(type) {
		case *sqlparser.SelectExprs, sqlparser.OrderBy, *sqlparser.GroupBy, *sqlparser.Limit:
			return false
		}
		return true
	}, func(c *sqlparser.Cursor) bool {
		l, ok := c.Node().(*sqlparser.Literal)
		if !ok {
			return true
		}
		switch l.Type {
		case sqlparser.IntVal, sqlparser.FloatVal, sqlparser.DecimalVal, sqlparser.StrVal:
		default:
			return true
		}
		v, err := literal(l)
		if err != nil {
			return true
		}
		c.Replace(&sqlparser.Argument{Name: litPrefix + strconv.Itoa(len(lits))})
		lits = append(lits, v)
		return true
	})
	if len(lits) == 0 {
		return nil
	}
	return lits
}
