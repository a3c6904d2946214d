// Package target makes a real MySQL-protocol cluster something the harness can run a point
// on: the target file that names its nodes, connections to every node, the servers'
// status and variables before and after a point, the bounded wait for the appliers and the
// checksums that say whether the nodes converged, and loading a workload's tables.
//
// Everything here talks SQL through workloads/sqldb, so the same code serves a local
// cluster from scripts/real-cluster.sh, a cluster elsewhere (Group Replication), and
// replbench's own MySQL endpoint.
package target

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/replbench/replbench/internal/yamlstrict"
	"github.com/replbench/replbench/workloads/sqldb"
)

// File is a target file (YAML), as scripts/real-cluster.sh writes it:
//
//	kind: galera                  # galera | semisync | gr | standalone
//	database: replbench           # created on the writer if missing
//	nodes:                        # n1..nN, in order
//	  - {name: n1, host: 127.0.0.1, port: 13301, user: rb, password: rb, role: member}
//	settings: {innodb_flush_log_at_trx_commit: "1", ...}   # what the script set, for results
//	network:                      # only when the proxy delays nodes
//	  delay: {n3: 10ms}
//	  links: []
//	  netdelay_config: /tmp/replbench-real/netdelay.yaml
//	  rtt_file: /tmp/replbench-real/rtt.json                # `replbench netdelay check --json`
//
// Roles: semisync has one source and replicas; gr has primary and secondary (or all
// primary in multi-primary mode); galera and standalone nodes are members.
type File struct {
	Path     string            `yaml:"-"`
	Kind     string            `yaml:"kind"`
	Database string            `yaml:"database"`
	Nodes    []NodeSpec        `yaml:"nodes"`
	Settings map[string]string `yaml:"settings"`
	Network  *Network          `yaml:"network"`
}

// NodeSpec is one server.
type NodeSpec struct {
	Name     string `yaml:"name"`
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"`
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	Role     string `yaml:"role"`
	Netns    string `yaml:"netns"`
}

// Network is the delay proxy's part, when the cluster has delayed nodes.
type Network struct {
	Delay          map[string]string `yaml:"delay"`
	Links          []string          `yaml:"links"`
	NetdelayConfig string            `yaml:"netdelay_config"`
	RTTFile        string            `yaml:"rtt_file"`
}

var roles = map[string][]string{
	sqldb.KindGalera:     {"member"},
	sqldb.KindStandalone: {"member"},
	sqldb.KindSemisync:   {"source", "replica"},
	sqldb.KindGR:         {"primary", "secondary"},
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// LoadFile reads and checks a target file. Every error is one line naming the file, the
// field and what is accepted; the command line reports it with exit code 2.
func LoadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("target file: %v", err)
	}
	return ParseFile(path, b)
}

// ParseFile is LoadFile on bytes; name is used in errors.
func ParseFile(name string, data []byte) (*File, error) {
	var f File
	if err := yamlstrict.Decode(name, data, &f); err != nil {
		return nil, fmt.Errorf("target file %v", err)
	}
	f.Path = name
	bad := func(format string, a ...any) error {
		return fmt.Errorf("target file %s: %s", name, fmt.Sprintf(format, a...))
	}
	if _, ok := roles[f.Kind]; !ok {
		return nil, bad("kind %q (accepted: %s)", f.Kind, strings.Join(sqldb.Kinds, ", "))
	}
	if f.Database == "" {
		f.Database = "replbench"
	}
	if !identifier.MatchString(f.Database) {
		return nil, bad("database %q: want a plain name (letters, digits, _)", f.Database)
	}
	if len(f.Nodes) == 0 {
		return nil, bad("no nodes (want nodes: n1..nN with host, port, user, password)")
	}
	sources := 0
	for i := range f.Nodes {
		n := &f.Nodes[i]
		if want := fmt.Sprintf("n%d", i+1); n.Name != want {
			return nil, bad("nodes[%d] is named %q, want %q (nodes are n1..nN in order)", i, n.Name, want)
		}
		if n.Host == "" {
			return nil, bad("%s: no host", n.Name)
		}
		if n.Port < 1 || n.Port > 65535 {
			return nil, bad("%s: port %d out of range 1-65535", n.Name, n.Port)
		}
		if n.User == "" {
			return nil, bad("%s: no user", n.Name)
		}
		if n.Role == "" {
			n.Role = roles[f.Kind][0]
			if f.Kind == sqldb.KindSemisync && i > 0 {
				n.Role = "replica"
			}
		}
		ok := false
		for _, r := range roles[f.Kind] {
			ok = ok || r == n.Role
		}
		if !ok {
			return nil, bad("%s: role %q for kind %s (accepted: %s)", n.Name, n.Role, f.Kind, strings.Join(roles[f.Kind], ", "))
		}
		if n.Role == "source" {
			sources++
		}
	}
	if f.Kind == sqldb.KindSemisync && sources != 1 {
		return nil, bad("semisync needs exactly one node with role source, found %d", sources)
	}
	if f.Kind == sqldb.KindStandalone && len(f.Nodes) != 1 {
		return nil, bad("standalone has one node, found %d", len(f.Nodes))
	}
	return &f, nil
}

// Writer is the node loads and DDL go to: the semi-sync source, the first GR primary, n1
// otherwise.
func (f *File) Writer() string {
	for _, n := range f.Nodes {
		if n.Role == "source" || n.Role == "primary" {
			return n.Name
		}
	}
	return f.Nodes[0].Name
}
