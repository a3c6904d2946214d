package sqlexec

// identity is what a node says it is: the version string of VERSION() and @@version, the
// one in the handshake, @@version_comment and the variables clients read beside them. A
// node reports the server its flavour emulates, in that server's own shape, because
// clients and tools branch on it: the MariaDB client libraries look for "MariaDB" (and
// strip the "5.5.5-" that MariaDB 10 puts in front in the handshake for old clients),
// Percona's tools look for "Percona XtraDB Cluster" at the start of @@version_comment,
// and connectors pick their SQL by the version number.
//
// The trade-off: the numbers are one real release per flavour (the Debian MariaDB on
// which the mariadb-10.11 profile was measured; the last MySQL 5.7; a recent 8.0 and PXC
// 8.0), not a release the user chooses. The comment keeps the real server's text as a
// prefix and adds that this is replbench's emulation and which node, so that the mysql
// CLI's banner tells the user where they are without breaking a prefix match.
type identity struct {
	version        string   // VERSION(), @@version
	handshake      string   // the server version of the initial handshake packet
	comment        string   // @@version_comment, before the replbench suffix
	compileOS      string   // @@version_compile_os
	innodbVersion  string   // @@innodb_version
	lacks          []string // server variables this server does not have (1193 Unknown system variable)
	binlogSuffixed bool     // the server appends "-log" to the version while log_bin is ON
}

// flavorIdentities are the servers behind the flavours, by flavour name. Every flavour a
// protocol registers must have one (TestEveryFlavorHasAnIdentity).
var flavorIdentities = map[string]identity{
	// Debian 12's package, the server of real-cluster.sh and of the measured profiles:
	// `mariadbd --version` prints 10.11.19-MariaDB-0+deb12u1; the distribution suffix
	// is left out (this is no Debian build), the comment is Debian's.
	// Checked against it: the handshake sends 5.5.5-10.11.19-MariaDB-0+deb12u1,
	// @@version_comment is "Debian 12", @@version_compile_os "debian-linux-gnu", and
	// @@innodb_version is unknown (MariaDB dropped it in 10.10).
	"mariadb-10.11": {version: "10.11.19-MariaDB", handshake: "5.5.5-", comment: "Debian 12",
		compileOS: "debian-linux-gnu", lacks: []string{"innodb_version"}, binlogSuffixed: true},
	"mysql-8.0": {version: "8.0.40", comment: "MySQL Community Server - GPL", compileOS: "Linux", innodbVersion: "8.0.40"},
	// 5.7 still appended "-log" with binary logging on (8.0 dropped it).
	"mysql-5.7": {version: "5.7.44", comment: "MySQL Community Server (GPL)", compileOS: "Linux", innodbVersion: "5.7.44", binlogSuffixed: true},
	// Percona's scheme: MySQL base version, Percona build, PXC build (8.0.36-28.1).
	"pxc-8.0": {version: "8.0.36-28.1", comment: "Percona XtraDB Cluster (GPL), Release rel28, Revision bfb687f, WSREP version 26.1.4.3",
		compileOS: "Linux", innodbVersion: "8.0.36-28"},
}

// defaultServer is the flavour of a protocol that has none (Group Replication and async
// replication exist as MySQL features only).
const defaultServer = "mysql-8.0"

// binlogProtocols are the protocols whose nodes write a binary log (log_bin=ON): the
// source and replicas of semi-sync and async replication, and Group Replication's
// members. Galera and the standalone node run without one, as real-cluster.sh starts them.
var binlogProtocols = map[string]bool{"semisync": true, "async": true, "group-replication": true}

// nodeIdentity works out node n's identity from its protocol and flavour.
func nodeIdentity(n *Node) identity {
	name := defaultServer
	if n.Protocol != nil {
		if f := n.Protocol.FlavorOf(n.Params); f != nil {
			name = f.Name
		}
	}
	id, ok := flavorIdentities[name]
	if !ok {
		id = flavorIdentities[defaultServer]
	}
	if id.binlogSuffixed && n.Protocol != nil && binlogProtocols[n.Protocol.Name] {
		id.version += "-log"
	}
	id.handshake += id.version
	protocol := "?"
	if n.Protocol != nil {
		protocol = n.Protocol.Name
	}
	id.comment += " (replbench emulation: " + protocol + " node " + n.Name + ")"
	return id
}

// logBin reports @@log_bin of node n.
func logBin(n *Node) bool { return n.Protocol != nil && binlogProtocols[n.Protocol.Name] }
