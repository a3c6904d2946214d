package protocols

import (
	"fmt"
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
}

// Params holds parameter values by name. Values are strings as a user types them on the
// command line (--param name=value); the typed getters parse them and panic on a value
// that Resolve should already have rejected.
type Params map[string]string

// Resolve merges user values over the defaults of defs and validates them: an unknown
// name, a value outside Choices, or a value that does not parse as its default's kind is
// an error naming the parameter and what it accepts.
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
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("parameter %s: invalid value %q (accepted: an integer, default %s)", d.Name, v, d.Default)
		}
	case "float":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("parameter %s: invalid value %q (accepted: a number, default %s)", d.Name, v, d.Default)
		}
	case "duration":
		if x, err := time.ParseDuration(v); err != nil || x < 0 {
			return fmt.Errorf("parameter %s: invalid value %q (accepted: a non-negative duration such as %s)", d.Name, v, d.Default)
		}
	}
	return nil
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
