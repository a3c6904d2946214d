package sqlexec

import (
	"math"
	"slices"
	"strings"
	"time"
)

// builtins are the functions the clients this emulation serves send. min and max are the
// argument counts (-1: any).
var builtins = map[string]struct {
	min, max int
	fn       func(e *env, a []Value) (Value, error)
}{
	"version":        {0, 0, func(e *env, _ []Value) (Value, error) { return e.s.node.ident.version, nil }},
	"database":       {0, 0, func(e *env, _ []Value) (Value, error) { return dbValue(e.s.db), nil }},
	"schema":         {0, 0, func(e *env, _ []Value) (Value, error) { return dbValue(e.s.db), nil }},
	"user":           {0, 0, func(e *env, _ []Value) (Value, error) { return e.s.user + "@localhost", nil }},
	"current_user":   {0, 0, func(e *env, _ []Value) (Value, error) { return e.s.user + "@%", nil }},
	"session_user":   {0, 0, func(e *env, _ []Value) (Value, error) { return e.s.user + "@localhost", nil }},
	"system_user":    {0, 0, func(e *env, _ []Value) (Value, error) { return e.s.user + "@localhost", nil }},
	"connection_id":  {0, 0, func(e *env, _ []Value) (Value, error) { return int64(e.s.id), nil }},
	"last_insert_id": {0, 0, func(e *env, _ []Value) (Value, error) { return int64(e.s.lastInsertID), nil }},
	"now":            {0, 1, func(*env, []Value) (Value, error) { return now(), nil }},
	"sysdate":        {0, 1, func(*env, []Value) (Value, error) { return now(), nil }},
	"unix_timestamp": {0, 0, func(*env, []Value) (Value, error) { return time.Now().Unix(), nil }},
	"rand":           {0, 0, func(e *env, _ []Value) (Value, error) { return e.s.rng.Float64(), nil }},
	"concat": {1, -1, func(_ *env, a []Value) (Value, error) {
		var b strings.Builder
		for _, v := range a {
			if v == nil {
				return nil, nil
			}
			b.WriteString(toString(v))
		}
		return b.String(), nil
	}},
	"ifnull":   {2, 2, func(_ *env, a []Value) (Value, error) { return coalesce(a), nil }},
	"coalesce": {1, -1, func(_ *env, a []Value) (Value, error) { return coalesce(a), nil }},
	"length":   {1, 1, strFn(func(s string) Value { return int64(len(s)) })},
	"char_length": {1, 1, strFn(func(s string) Value {
		return int64(len([]rune(s)))
	})},
	"upper": {1, 1, strFn(func(s string) Value { return strings.ToUpper(s) })},
	"lower": {1, 1, strFn(func(s string) Value { return strings.ToLower(s) })},
	"abs":   {1, 1, numFn(math.Abs, func(i int64) int64 { return max(i, -i) })},
	"floor": {1, 1, numFn(math.Floor, nil)},
	"ceil":  {1, 1, numFn(math.Ceil, nil)},
	"round": {1, 1, numFn(math.Round, nil)},
}

func dbValue(db string) Value {
	if db == "" {
		return nil
	}
	return db
}

func now() string { return time.Now().Format("2006-01-02 15:04:05") }

func coalesce(a []Value) Value {
	for _, v := range a {
		if v != nil {
			return v
		}
	}
	return nil
}

func strFn(f func(string) Value) func(*env, []Value) (Value, error) {
	return func(_ *env, a []Value) (Value, error) {
		if a[0] == nil {
			return nil, nil
		}
		return f(toString(a[0])), nil
	}
}

// numFn applies f to a number; an integer argument stays an integer (through fi when given,
// or unchanged for rounding functions).
func numFn(f func(float64) float64, fi func(int64) int64) func(*env, []Value) (Value, error) {
	return func(_ *env, a []Value) (Value, error) {
		switch x := a[0].(type) {
		case nil:
			return nil, nil
		case int64:
			if fi != nil {
				return fi(x), nil
			}
			return x, nil
		}
		v, _ := toFloat(a[0])
		return f(v), nil
	}
}

func builtinNames() string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
