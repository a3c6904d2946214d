package workloads

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Options is a workload's option values resolved against its Definition: defaults filled in,
// unknown names and values outside Choices refused. The typed getters record the first
// parse error and return a zero value, so a New function reads every option in a row and
// checks Err once; every error names the option and what it accepts.
type Options struct {
	workload string
	defs     map[string]Option
	vals     map[string]string
	err      error
}

// ResolveOptions merges given over the defaults of defs. Names are without dashes
// ("table-size"); a leading "--" is tolerated.
func ResolveOptions(workload string, defs []Option, given map[string]string) (*Options, error) {
	o := &Options{workload: workload, defs: map[string]Option{}, vals: map[string]string{}}
	names := make([]string, 0, len(defs))
	for _, d := range defs {
		o.defs[d.Name] = d
		o.vals[d.Name] = d.Default
		names = append(names, d.Name)
	}
	sort.Strings(names)
	keys := make([]string, 0, len(given))
	for k := range given {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := strings.TrimLeft(k, "-")
		d, ok := o.defs[name]
		if !ok {
			return nil, fmt.Errorf("workload %s: unknown option %q (accepted: %s)", workload, name, strings.Join(names, ", "))
		}
		v := strings.TrimSpace(given[k])
		if len(d.Choices) > 0 {
			found := false
			for _, c := range d.Choices {
				if strings.EqualFold(c, v) {
					v, found = c, true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("workload %s: option %s: invalid value %q (accepted: %s)", workload, name, v, strings.Join(d.Choices, ", "))
			}
		}
		o.vals[name] = v
	}
	return o, nil
}

// Err is the first error a getter met.
func (o *Options) Err() error { return o.err }

// Settings returns every option's effective value.
func (o *Options) Settings() map[string]string {
	out := make(map[string]string, len(o.vals))
	for k, v := range o.vals {
		out[k] = v
	}
	return out
}

func (o *Options) fail(name, v, accepted string) {
	if o.err == nil {
		o.err = fmt.Errorf("workload %s: option %s: invalid value %q (accepted: %s)", o.workload, name, v, accepted)
	}
}

func (o *Options) raw(name string) string {
	v, ok := o.vals[name]
	if !ok {
		panic("workloads: option " + name + " read but not declared by " + o.workload)
	}
	return v
}

// String returns an option's value as given (a Choices value in its declared spelling).
func (o *Options) String(name string) string { return o.raw(name) }

// Int parses an integer option within [min, max].
func (o *Options) Int(name string, min, max int64) int64 {
	v := o.raw(name)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min || n > max {
		o.fail(name, v, fmt.Sprintf("an integer from %d to %d", min, max))
		return min
	}
	return n
}

// Float parses a number within [min, max].
func (o *Options) Float(name string, min, max float64) float64 {
	v := o.raw(name)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < min || f > max || f != f {
		o.fail(name, v, fmt.Sprintf("a number from %g to %g", min, max))
		return min
	}
	return f
}

// Bool parses on/off, true/false, 1/0 (sysbench spells them on and off).
func (o *Options) Bool(name string) bool {
	v := o.raw(name)
	switch strings.ToLower(v) {
	case "on", "true", "1", "yes":
		return true
	case "off", "false", "0", "no":
		return false
	}
	o.fail(name, v, "on, off, true, false, 1, 0")
	return false
}
