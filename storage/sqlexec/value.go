package sqlexec

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/replbench/replbench/storage"
)

// Value is a SQL value during evaluation: int64, float64, string or nil (NULL), the same
// three types the engine stores, so a row read from storage is evaluated without conversion.
type Value = storage.Value

// toFloat converts a value to a number the way MySQL does in a numeric context: a string
// contributes its longest numeric prefix ("12abc" is 12, "abc" is 0).
func toFloat(v Value) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case string:
		return parseNumPrefix(x), true
	}
	return 0, false
}

func parseNumPrefix(s string) float64 {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	end := 0
	for end < len(s) {
		c := s[end]
		if (c >= '0' && c <= '9') || c == '.' || ((c == '-' || c == '+') && end == 0) || ((c == 'e' || c == 'E') && end > 0) {
			end++
			continue
		}
		break
	}
	for end > 0 {
		if f, err := strconv.ParseFloat(s[:end], 64); err == nil {
			return f
		}
		end--
	}
	return 0
}

// toInt converts a value to an integer (rounding a float, as MySQL does on assignment).
func toInt(v Value) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		return int64(math.Round(x)), true
	case string:
		if i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return i, true
		}
		return int64(math.Round(parseNumPrefix(x))), true
	}
	return 0, false
}

// toString renders a value as MySQL prints it in a text result.
func toString(v Value) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return formatFloat(x)
	case string:
		return x
	case nil:
		return ""
	}
	return ""
}

func formatFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// truth is a value's truth in WHERE: NULL is false.
func truth(v Value) bool {
	switch x := v.(type) {
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return parseNumPrefix(x) != 0
	}
	return false
}

func boolVal(b bool) Value {
	if b {
		return int64(1)
	}
	return int64(0)
}

// compare orders two non-NULL values: numbers numerically, two strings bytewise (the
// engine's index order; MySQL's default collations are case-insensitive, which this
// emulation does not model), a string against a number as a number.
func compare(a, b Value) int {
	switch x := a.(type) {
	case int64:
		if y, ok := b.(int64); ok {
			return cmpOrdered(x, y)
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	}
	fa, _ := toFloat(a)
	fb, _ := toFloat(b)
	return cmpOrdered(fa, fb)
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// coerce converts a value to a column's stored type for a write (or a key lookup), as
// MySQL converts on assignment: '5' into an INT column is 5, 3.7 is 4, 42 into a VARCHAR is
// '42'. ok is false when the value cannot be converted.
func coerce(c *storage.Column, v Value) (Value, bool) {
	if v == nil {
		return nil, true
	}
	switch c.Type {
	case storage.Int:
		switch x := v.(type) {
		case int64:
			return x, true
		case float64:
			return int64(math.Round(x)), true
		case string:
			s := strings.TrimSpace(x)
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i, true
			}
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				return int64(math.Round(f)), true
			}
			return nil, false
		}
	case storage.Float:
		switch x := v.(type) {
		case int64:
			return float64(x), true
		case float64:
			return x, true
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			return f, err == nil
		}
	case storage.String:
		s := toString(v)
		if c.Size > 0 && len(s) > c.Size && isCharType(c.Decl) && utf8.RuneCountInString(s) > c.Size {
			return s, false
		}
		return s, true
	}
	return nil, false
}

func isCharType(decl string) bool {
	d := strings.ToLower(decl)
	return strings.HasPrefix(d, "char") || strings.HasPrefix(d, "varchar")
}
