package endpoint

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// handshakeVersion reads the server version out of the initial handshake packet (protocol
// 10: a 4-byte header, the protocol byte, then the NUL-terminated version).
func handshakeVersion(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	head := make([]byte, 5)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatal(err)
	}
	if head[4] != 10 {
		t.Fatalf("handshake protocol %d, want 10", head[4])
	}
	v, err := r.ReadString(0)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(v, "\x00")
}

// A client learns which server it talks to from the handshake, VERSION(), @@version and
// @@version_comment (what the mysql CLI prints in its banner): each flavour reports its real
// server's shape.
func TestServerIdentityOnTheWire(t *testing.T) {
	for _, c := range []struct {
		protocol  string
		nodes     int
		params    map[string]string
		handshake string
		version   string
		comment   string
	}{
		{"galera", 3, nil, "5.5.5-10.11.19-MariaDB", "10.11.19-MariaDB", "Debian 12 (replbench emulation: galera node n1)"},
		{"galera", 3, map[string]string{"replbench.flavor": "pxc-8.0"}, "8.0.36-28.1", "8.0.36-28.1", "Percona XtraDB Cluster (GPL)"},
		{"semisync", 2, nil, "8.0.40", "8.0.40", "MySQL Community Server - GPL"},
		{"group-replication", 3, nil, "8.0.40", "8.0.40", "MySQL Community Server - GPL"},
	} {
		t.Run(c.protocol, func(t *testing.T) {
			tc := startTest(t, c.protocol, c.nodes, c.params, Config{})
			if got := handshakeVersion(t, tc.set.Addrs()[0]); got != c.handshake {
				t.Errorf("handshake version %q, want %q", got, c.handshake)
			}
			db := tc.db(t, 0, "")
			var version, atVersion, comment string
			if err := db.QueryRow("SELECT VERSION(), @@version, @@version_comment").Scan(&version, &atVersion, &comment); err != nil {
				t.Fatal(err)
			}
			if version != c.version || atVersion != c.version || !strings.HasPrefix(comment, c.comment) {
				t.Errorf("VERSION() %q, @@version %q, @@version_comment %q; want %q and a comment starting %q", version, atVersion, comment, c.version, c.comment)
			}
		})
	}
}
