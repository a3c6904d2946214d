package sqlexec

import (
	"strings"
	"testing"

	_ "github.com/replbench/replbench/galera"
	_ "github.com/replbench/replbench/groupreplication"
	"github.com/replbench/replbench/protocols"
	_ "github.com/replbench/replbench/semisync"
)

// Every flavour a protocol registers names a server whose identity is known, so that no
// flavour silently reports another server's version.
func TestEveryFlavorHasAnIdentity(t *testing.T) {
	for _, name := range protocols.Names() {
		p, err := protocols.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range p.FlavorNames() {
			if _, ok := flavorIdentities[f]; !ok {
				t.Errorf("protocol %s: flavour %s has no entry in flavorIdentities", name, f)
			}
		}
	}
}

// Each flavour reports its server's version shape, MariaDB adds "-log" with a binlog and
// "5.5.5-" in the handshake, and the comment starts with the real server's text.
func TestNodeIdentity(t *testing.T) {
	for _, c := range []struct {
		protocol, flavor                  string
		version, handshake, commentPrefix string
	}{
		{"galera", "", "10.11.19-MariaDB", "5.5.5-10.11.19-MariaDB", "Debian 12 (replbench emulation: galera node n1)"},
		{"galera", "pxc-8.0", "8.0.36-28.1", "8.0.36-28.1", "Percona XtraDB Cluster (GPL), Release rel28"},
		{"standalone", "", "10.11.19-MariaDB", "5.5.5-10.11.19-MariaDB", "Debian 12"},
		{"semisync", "", "8.0.40", "8.0.40", "MySQL Community Server - GPL"},
		{"semisync", "mariadb-10.11", "10.11.19-MariaDB-log", "5.5.5-10.11.19-MariaDB-log", "Debian 12"},
		{"semisync", "mysql-5.7", "5.7.44-log", "5.7.44-log", "MySQL Community Server (GPL)"},
		{"gr", "", "8.0.40", "8.0.40", "MySQL Community Server - GPL (replbench emulation: group-replication node n1)"},
	} {
		p, err := protocols.Lookup(c.protocol)
		if err != nil {
			t.Fatal(err)
		}
		params := protocols.Params{}
		if c.flavor != "" {
			params[protocols.FlavorParam] = c.flavor
		}
		id := nodeIdentity(&Node{Name: "n1", Protocol: p, Params: params})
		if id.version != c.version || id.handshake != c.handshake || !strings.HasPrefix(id.comment, c.commentPrefix) {
			t.Errorf("%s %s: version %q handshake %q comment %q; want %q, %q, %q...", c.protocol, c.flavor,
				id.version, id.handshake, id.comment, c.version, c.handshake, c.commentPrefix)
		}
	}
}

// A MariaDB 10.11 node has no @@innodb_version (1193, as the real server answers), a MySQL
// node has; @@log_bin follows the protocol's binlog.
func TestIdentityVariables(t *testing.T) {
	s := testSession(t) // standalone: MariaDB 10.11, no binlog
	if _, err := s.Query(t.Context(), "SELECT @@innodb_version"); errCode(err) != erUnknownSystemVar {
		t.Errorf("MariaDB @@innodb_version: %v, want 1193", err)
	}
	if got := flat(q(t, s, "SELECT @@log_bin, @@version_compile_os")); got != "0,debian-linux-gnu" {
		t.Errorf("@@log_bin, @@version_compile_os = %s", got)
	}
}
