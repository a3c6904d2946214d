package protocols

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Param documents one parameter under its real name (wsrep_slave_threads, gcs.fc_limit,
// group_replication_consistency, rpl_semi_sync_master_timeout, ...).
type Param struct {
	Name    string
	Default string
	Help    string   // what it does, and what the model does with it
	Choices []string // accepted values for an enumeration; empty for free values
	// Aliases are other names MySQL accepts for the same setting (the 8.0.26+ renames:
	// rpl_semi_sync_source_* for rpl_semi_sync_master_*, replica_* for slave_*). A value
	// given under an alias is stored under Name.
	Aliases []string
	// Min and Max bound a numeric parameter, inclusively; nil leaves that side open. They
	// hold the real server's documented range where it has one, so an impossible value is
	// refused before any node starts instead of hanging or crashing a run (a negative
	// gcs.fc_limit makes flow control stop the cluster for good). For a duration they are
	// seconds; a duration is never negative in any case. They are ignored for enumerations
	// (Choices) and strings. Write them as new(1.0).
	Min, Max *float64
}

// Range describes the accepted numeric range of p the way errors and `replbench params`
// print it: "1 to 512", "at least 1", "at most 100"; a duration without bounds reads
// "at least 0s". It is "" for an unbounded number and for booleans, strings and
// enumerations (Choices already lists those).
func (p Param) Range() string {
	if len(p.Choices) > 0 {
		return ""
	}
	kind := kindOf(p.Default)
	format := func(x float64) string {
		if kind == "duration" {
			return secondsToDuration(x).String()
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	lo := p.Min
	if kind == "duration" && lo == nil {
		lo = new(0.0)
	}
	switch kind {
	case "int", "float", "duration":
	default:
		return ""
	}
	switch {
	case lo != nil && p.Max != nil:
		return format(*lo) + " to " + format(*p.Max)
	case lo != nil:
		return "at least " + format(*lo)
	case p.Max != nil:
		return "at most " + format(*p.Max)
	}
	return ""
}

func secondsToDuration(s float64) time.Duration {
	if s >= float64(math.MaxInt64)/float64(time.Second) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(math.Round(s * float64(time.Second)))
}

// inRange reports whether x lies within p's bounds.
func (p Param) inRange(x float64) bool {
	return (p.Min == nil || x >= *p.Min) && (p.Max == nil || x <= *p.Max)
}

// CheckDefs reports a parameter list that contradicts itself: a duplicate name or alias, a
// default outside its own Choices or range, Min above Max, or bounds on a parameter that is
// not a number (they would be silently ignored). Register panics on such a list, since it
// is a programming error that would make every run fail or check nothing.
func CheckDefs(defs []Param) error {
	seen := map[string]bool{}
	for _, d := range defs {
		for _, n := range append([]string{d.Name}, d.Aliases...) {
			if seen[n] {
				return fmt.Errorf("parameter %s is declared twice", n)
			}
			seen[n] = true
		}
		if d.Min != nil || d.Max != nil {
			switch k := kindOf(d.Default); {
			case len(d.Choices) > 0:
				return fmt.Errorf("parameter %s: Min/Max on an enumeration is never checked; drop them or the Choices", d.Name)
			case k != "int" && k != "float" && k != "duration":
				return fmt.Errorf("parameter %s: Min/Max on a %s parameter (default %q) is never checked; bounds need a numeric or duration default", d.Name, k, d.Default)
			}
		}
		if d.Min != nil && d.Max != nil && *d.Min > *d.Max {
			return fmt.Errorf("parameter %s: Min %v is above Max %v", d.Name, *d.Min, *d.Max)
		}
		if err := checkValue(d, d.Default); err != nil {
			return fmt.Errorf("default does not validate: %w", err)
		}
	}
	return nil
}

// Params holds parameter values by name. Values are strings as a user types them on the
// command line (--param name=value); the typed getters parse them and panic on a value
// that Resolve should already have rejected.
type Params map[string]string

// Resolve merges user values over the defaults of defs and validates them: an unknown
// name, a value outside Choices, a value that does not parse as its default's kind, or a
// number outside [Min, Max] is an error naming the parameter and what it accepts. Rules
// that tie several parameters together are the protocol's Parse (Protocol.Resolve runs
// both).
func Resolve(defs []Param, user map[string]string) (Params, error) {
	out := Params{}
	byName := map[string]Param{}
	for _, d := range defs {
		out[d.Name] = d.Default
		byName[d.Name] = d
		for _, a := range d.Aliases {
			byName[a] = d
		}
	}
	names := make([]string, 0, len(user))
	for n := range user {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := user[n]
		d, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("unknown parameter %q (accepted: %s)", n, paramNames(defs))
		}
		if err := checkValue(d, v); err != nil {
			return nil, err
		}
		out[d.Name] = v
	}
	return out, nil
}

func paramNames(defs []Param) string {
	ns := make([]string, len(defs))
	for i, d := range defs {
		ns[i] = d.Name
	}
	sort.Strings(ns)
	return strings.Join(ns, ", ")
}

func checkValue(d Param, v string) error {
	if len(d.Choices) > 0 {
		for _, c := range d.Choices {
			if strings.EqualFold(c, v) {
				return nil
			}
		}
		return fmt.Errorf("parameter %s: invalid value %q (accepted: %s)", d.Name, v, strings.Join(d.Choices, ", "))
	}
	switch kindOf(d.Default) {
	case "bool":
		if _, err := parseBool(v); err != nil {
			return fmt.Errorf("parameter %s: invalid value %q (accepted: ON, OFF, true, false, 1, 0)", d.Name, v)
		}
	case "int":
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("parameter %s: invalid value %q (accepted: an integer%s, default %s)", d.Name, v, rangeSuffix(d), d.Default)
		}
		if !d.inRange(float64(x)) {
			return outOfRange(d, v)
		}
	case "float":
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("parameter %s: invalid value %q (accepted: a number%s, default %s)", d.Name, v, rangeSuffix(d), d.Default)
		}
		if !d.inRange(x) {
			return outOfRange(d, v)
		}
	case "duration":
		x, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("parameter %s: invalid value %q (accepted: a duration, %s, such as %s)", d.Name, v, d.Range(), d.Default)
		}
		if x < 0 || !d.inRange(x.Seconds()) {
			return outOfRange(d, v)
		}
	}
	return nil
}

// outOfRange is the error for a well-formed number outside the parameter's range.
func outOfRange(d Param, v string) error {
	return fmt.Errorf("parameter %s: %s is out of range (accepted: %s)", d.Name, v, d.Range())
}

func rangeSuffix(d Param) string {
	if r := d.Range(); r != "" {
		return " " + r
	}
	return ""
}

func kindOf(def string) string {
	if _, err := parseBool(def); err == nil && !isNumber(def) {
		return "bool"
	}
	if _, err := strconv.ParseInt(def, 10, 64); err == nil {
		return "int"
	}
	if _, err := strconv.ParseFloat(def, 64); err == nil {
		return "float"
	}
	if _, err := time.ParseDuration(def); err == nil {
		return "duration"
	}
	return "string"
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", s)
}

// String returns a parameter's value ("" if unset).
func (p Params) String(name string) string { return p[name] }

// Int returns an integer parameter.
func (p Params) Int(name string) int64 {
	v, err := strconv.ParseInt(p[name], 10, 64)
	if err != nil {
		panic(fmt.Sprintf("parameter %s: %q is not an integer", name, p[name]))
	}
	return v
}

// Float returns a numeric parameter.
func (p Params) Float(name string) float64 {
	v, err := strconv.ParseFloat(p[name], 64)
	if err != nil {
		panic(fmt.Sprintf("parameter %s: %q is not a number", name, p[name]))
	}
	return v
}

// Bool returns a boolean parameter (ON/OFF, true/false, 1/0).
func (p Params) Bool(name string) bool {
	v, err := parseBool(p[name])
	if err != nil {
		panic(fmt.Sprintf("parameter %s: %v", name, err))
	}
	return v
}

// Duration returns a duration parameter.
func (p Params) Duration(name string) time.Duration {
	v, err := time.ParseDuration(p[name])
	if err != nil {
		panic(fmt.Sprintf("parameter %s: %v", name, err))
	}
	return v
}
