package harness

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Scenario is one experiment as a file describes it: a base configuration plus sweep axes
// whose cartesian product gives the points. The schema is documented in scenario.md beside
// this file; decoding is strict, so a misspelt field is an error naming the file and line
// rather than a silently ignored setting that would make a run measure something else.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
	// Explain is the teaching text: the mechanism the scenario shows and what a reader
	// should look for in its results, printed after the tables and placed in the report.
	Explain string `yaml:"explain,omitempty"`

	Cluster  Cluster           `yaml:"cluster,omitempty"`
	Protocol string            `yaml:"protocol,omitempty"`
	Params   map[string]string `yaml:"params,omitempty"` // NAME or NODE:NAME -> value
	Network  NetworkSpec       `yaml:"network,omitempty"`
	Workload WorkloadSpec      `yaml:"workload,omitempty"`

	Threads      IntList  `yaml:"threads,omitempty"`
	Writers      Writers  `yaml:"writers,omitempty"`
	Queries      int64    `yaml:"queries,omitempty"`
	Duration     Duration `yaml:"duration,omitempty"`
	Warmup       Duration `yaml:"warmup,omitempty"`
	Rate         float64  `yaml:"rate,omitempty"`
	Retries      int      `yaml:"retries,omitempty"`
	RetryBackoff Duration `yaml:"retry_backoff,omitempty"`
	// RefusedBackoff is how long a client pauses after its node refused the transaction
	// outright (read_only 1290 on a GR secondary or semi-sync replica, not_ready 1047 on a
	// non-primary Galera node), as an application's connection pool would before trying
	// again; nil means DefaultRefusedBackoff. Without it a client on such a node retries
	// in a tight loop that eats the CPU the measured nodes need.
	RefusedBackoff *Duration `yaml:"refused_backoff,omitempty"`
	Repeats        int       `yaml:"repeats,omitempty"`
	Seed           int64     `yaml:"seed,omitempty"`

	// Faults is the fault timeline: events applied to the emulated network during each
	// point's measured phase, at times counted from its start ("5s:partition=n1,n2|n3").
	Faults []FaultEvent `yaml:"faults,omitempty"`

	Sweep Sweep `yaml:"sweep,omitempty"`

	src *source // where the fields came from, for error messages; nil for built in code
}

// Cluster is the cluster's shape. Nodes 0 means "3, clamped to what the protocol accepts", so
// that one scenario can put standalone (1 node) beside the replicated protocols (3).
type Cluster struct {
	Nodes int `yaml:"nodes,omitempty"`
}

// NetworkSpec describes one emulated network: a named preset plus per-node egress delays
// (tc netem on that node's interface), per-link one-way delays, jitter and loss on top.
type NetworkSpec struct {
	Name   string              `yaml:"name,omitempty"`   // label in tables; defaults to the preset plus overrides
	Preset string              `yaml:"preset,omitempty"` // transport preset; "" means lan
	Egress map[string]Duration `yaml:"egress,omitempty"` // node -> egress delay
	Links  map[string]Duration `yaml:"links,omitempty"`  // "a-b" -> one-way delay each way
	Jitter string              `yaml:"jitter,omitempty"` // DIST:AMOUNT, DIST one of constant, uniform, normal, pareto
	Loss   float64             `yaml:"loss,omitempty"`   // probability a message is dropped, [0,1)
}

// WorkloadSpec names a workload and its options.
type WorkloadSpec struct {
	Name    string            `yaml:"name,omitempty"`
	Options map[string]string `yaml:"options,omitempty"`
}

// Sweep lists the axes a scenario varies. Every non-empty axis replaces the base value of
// the same field; the points are the cartesian product, in the order protocols, workloads,
// nodes, writers, params, networks, threads (innermost), each repeated Repeats times.
type Sweep struct {
	Protocols []string            `yaml:"protocols,omitempty"`
	Workloads []WorkloadSpec      `yaml:"workloads,omitempty"`
	Nodes     []int               `yaml:"nodes,omitempty"`
	Writers   []Writers           `yaml:"writers,omitempty"`
	Params    []map[string]string `yaml:"params,omitempty"`
	Networks  []NetworkSpec       `yaml:"networks,omitempty"`
	Threads   IntList             `yaml:"threads,omitempty"`
}

// Duration is a time.Duration written as Go writes durations ("50ms", "10s").
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return lineError(n, err.Error())
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// ParseDuration parses a non-negative duration; a bare number is not accepted, since "50"
// could mean seconds or milliseconds and a wrong guess silently changes the experiment.
func ParseDuration(s string) (time.Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (accepted: a non-negative Go duration such as 50ms, 1.5s, 2m)", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("negative duration %q (accepted: a non-negative Go duration such as 50ms, 1.5s, 2m)", s)
	}
	return v, nil
}

// IntList is a list of integers, written as a YAML sequence, a single integer, or "1,4,8".
type IntList []int

// UnmarshalYAML implements yaml.Unmarshaler.
func (l *IntList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		v, err := ParseIntList(n.Value)
		if err != nil {
			return lineError(n, err.Error())
		}
		*l = v
		return nil
	case yaml.SequenceNode:
		var out IntList
		for _, c := range n.Content {
			v, err := ParseIntList(c.Value)
			if err != nil || c.Kind != yaml.ScalarNode {
				return lineError(c, fmt.Sprintf("invalid integer %q", c.Value))
			}
			out = append(out, v...)
		}
		*l = out
		return nil
	}
	return lineError(n, "want an integer or a list of integers")
}

// ParseIntList parses "1,4,8" into positive integers.
func ParseIntList(s string) (IntList, error) {
	var out IntList
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("invalid integer %q (accepted: positive integers such as 1,4,8)", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// Writers selects the nodes that run write clients: "n1", "all", "n1,n3" or a YAML list.
// Clients are spread round-robin over the writers.
type Writers []string

// UnmarshalYAML implements yaml.Unmarshaler.
func (w *Writers) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*w = ParseWriters(n.Value)
		return nil
	case yaml.SequenceNode:
		var out Writers
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return lineError(c, "want a node name")
			}
			out = append(out, ParseWriters(c.Value)...)
		}
		*w = out
		return nil
	}
	return lineError(n, `want "all", a node name or a list of node names`)
}

// MarshalYAML writes writers as "n1,n3".
func (w Writers) MarshalYAML() (any, error) { return strings.Join(w, ","), nil }

// ParseWriters splits "n1,n3" (or "all") into names; validation against the cluster happens
// later, when the node count is known.
func ParseWriters(s string) Writers {
	var out Writers
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// resolve expands "all" for a cluster of n nodes.
func (w Writers) resolve(n int) []string {
	if len(w) == 0 {
		return []string{"n1"}
	}
	if len(w) == 1 && w[0] == "all" {
		out := make([]string, n)
		for i := range out {
			out[i] = nodeName(i)
		}
		return out
	}
	return append([]string(nil), w...)
}

func nodeName(i int) string { return "n" + strconv.Itoa(i+1) }

// lineError is an error at a YAML node, reported with its line.
func lineError(n *yaml.Node, msg string) error {
	return &yamlLineError{line: n.Line, msg: msg}
}

type yamlLineError struct {
	line int
	msg  string
}

func (e *yamlLineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// source remembers where a scenario's fields came from: the file, the line of every field
// path ("sweep.protocols[1]", "network.egress.n3"), and the fields a command-line flag
// replaced. Validation errors use it to point at the line or the flag to fix.
type source struct {
	file  string
	lines map[string]int
	flags map[string]string // field path prefix -> flag that set it
}

// where names the origin of a field path: "file:line: path", "--flag", or the path alone.
func (s *Scenario) where(p string) string {
	if s.src == nil {
		return p
	}
	for q := p; ; {
		if f, ok := s.src.flags[q]; ok {
			return f
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			break
		}
		q = q[:i]
	}
	for q := p; ; {
		if l, ok := s.src.lines[q]; ok {
			return fmt.Sprintf("%s:%d: %s", s.src.file, l, p)
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			break
		}
		q = q[:i]
	}
	if s.src.file != "" {
		return s.src.file + ": " + p
	}
	return p
}

// markFlag records that a command-line flag set the field path p.
func (s *Scenario) markFlag(p, flag string) {
	if s.src == nil {
		s.src = &source{}
	}
	if s.src.flags == nil {
		s.src.flags = map[string]string{}
	}
	s.src.flags[p] = flag
}

// ParseScenario decodes a scenario from YAML. name is the file name used in errors. Unknown
// fields, wrong types and malformed values are errors of the form "FILE:LINE: ...", on one
// line, naming the field.
func ParseScenario(name string, data []byte) (*Scenario, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %s", name, oneLine(strings.TrimPrefix(err.Error(), "yaml: ")))
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, errEOF) || err.Error() == "EOF" {
			return nil, fmt.Errorf("%s: empty scenario (want at least name and workload)", name)
		}
		return nil, fmt.Errorf("%s", formatYAMLError(name, err))
	}
	s.src = &source{file: name, lines: map[string]int{}}
	if len(root.Content) > 0 {
		collectLines(root.Content[0], "", s.src.lines)
	}
	if s.Name == "" {
		s.Name = strings.TrimSuffix(path.Base(name), path.Ext(name))
	}
	return &s, nil
}

var errEOF = errors.New("EOF")

// formatYAMLError turns yaml.v3's multi-line errors into one line: "FILE:LINE: message".
func formatYAMLError(file string, err error) string {
	var te *yaml.TypeError
	var le *yamlLineError
	switch {
	case errors.As(err, &te):
		parts := make([]string, 0, len(te.Errors))
		for _, e := range te.Errors {
			parts = append(parts, rewriteYAMLMsg(file, e))
		}
		return strings.Join(parts, "; ")
	case errors.As(err, &le):
		return fmt.Sprintf("%s:%d: %s", file, le.line, le.msg)
	}
	return file + ": " + oneLine(strings.TrimPrefix(err.Error(), "yaml: "))
}

// rewriteYAMLMsg turns "line 7: field foo not found in type harness.Scenario" into
// "FILE:7: unknown field "foo" (accepted: ...)".
func rewriteYAMLMsg(file, msg string) string {
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return file + ": " + msg
	}
	num, body, _ := strings.Cut(rest, ": ")
	if f, typ, ok := strings.Cut(strings.TrimPrefix(body, "field "), " not found in type "); ok && strings.HasPrefix(body, "field ") {
		body = fmt.Sprintf("unknown field %q (accepted: %s)", f, strings.Join(fieldsOf(typ), ", "))
	}
	return fmt.Sprintf("%s:%s: %s", file, num, body)
}

// fieldsOf lists the YAML field names of the scenario's types, for "accepted:" lists.
func fieldsOf(typ string) []string {
	switch strings.TrimPrefix(typ, "harness.") {
	case "Scenario":
		return []string{"name", "description", "cluster", "protocol", "params", "network", "workload", "threads", "writers", "queries", "duration", "warmup", "rate", "retries", "retry_backoff", "refused_backoff", "repeats", "seed", "faults", "sweep"}
	case "Cluster":
		return []string{"nodes"}
	case "NetworkSpec":
		return []string{"name", "preset", "egress", "links", "jitter", "loss"}
	case "WorkloadSpec":
		return []string{"name", "options"}
	case "Sweep":
		return []string{"protocols", "workloads", "nodes", "writers", "params", "networks", "threads"}
	}
	return []string{"see harness/scenario.md"}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// collectLines records the line of every mapping key and sequence item under n.
func collectLines(n *yaml.Node, prefix string, out map[string]int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if prefix != "" {
				p = prefix + "." + k.Value
			}
			out[p] = k.Line
			collectLines(v, p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", prefix, i)
			out[p] = c.Line
			collectLines(c, p, out)
		}
	}
}

//go:embed scenarios/*.yaml
var builtinFS embed.FS

// Builtin returns the built-in scenario called name.
func Builtin(name string) (*Scenario, error) {
	data, err := builtinFS.ReadFile("scenarios/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("unknown scenario %q (accepted: a file ending in .yaml, or one of %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	return ParseScenario(name+".yaml", data)
}

// BuiltinNames lists the built-in scenarios, sorted.
func BuiltinNames() []string {
	ents, _ := fs.ReadDir(builtinFS, "scenarios")
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// LoadScenario loads a scenario by built-in name or from a file (anything ending in .yaml or
// .yml, or containing a path separator).
func LoadScenario(ref string) (*Scenario, error) {
	if strings.HasSuffix(ref, ".yaml") || strings.HasSuffix(ref, ".yml") || strings.ContainsRune(ref, os.PathSeparator) {
		data, err := os.ReadFile(ref)
		if err != nil {
			return nil, fmt.Errorf("cannot read scenario file: %v", err)
		}
		return ParseScenario(ref, data)
	}
	return Builtin(ref)
}

// Marshal returns the scenario as YAML, as it was run (flags applied), for the run directory.
func (s *Scenario) Marshal() ([]byte, error) {
	return yaml.Marshal(s)
}
