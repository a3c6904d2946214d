// Package endpoint gives every node of an emulated cluster its own MySQL server endpoint, so
// that real clients (the mysql CLI, mysqlslap, sysbench, an application's driver) can be
// pointed at "a Galera cluster over an 80 ms WAN" running in one process.
//
// The wire protocol is vitess's go/mysql server (handshake, mysql_native_password, TLS, the
// text and binary protocols, server-side prepared statements); statements go to the SQL
// layer (storage/sqlexec), which runs them on the node's engine through its provider. The
// endpoint adds what a server adds around them: users, max_allowed_packet, multi-statements
// off, and a session per connection that is rolled back when the connection goes away.
package endpoint

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"vitess.io/vitess/go/mysql"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage/sqlexec"
)

// Config configures the endpoints of a cluster.
type Config struct {
	// Listen is the first node's address; node i listens on its port + i. A port of 0 gives
	// every node a free port of its own. An empty host binds 127.0.0.1. Default
	// 127.0.0.1:3311. "n1=HOST:PORT,n2=HOST:PORT,..." gives each node its own address
	// (NodeAddrs).
	Listen string
	// User and Password are the one account the servers accept (mysql_native_password);
	// the default is root with an empty password, as on a fresh server. Anything else
	// gets 1045.
	User, Password string
	// Hold, when set, is called before every statement of node i's clients and the
	// statement waits until it returns: a paused node (replbench serve --nodes-external's
	// pause=) answers nothing, as the connections of a SIGSTOPped mysqld hang, until it
	// returns nil (resumed) or the connection's context ends (its error is the statement's).
	Hold func(ctx context.Context, node int) error
	// TLS, when set, lets clients upgrade to TLS (it is never required).
	TLS *tls.Config
}

// DefaultListen is where the first node listens unless told otherwise.
const DefaultListen = "127.0.0.1:3311"

// Info describes one running endpoint, for the table `replbench serve` prints.
type Info struct {
	Node  string
	Addr  string
	Role  string // read-write, read-only (1290: GR secondary, replica), not-ready (1047)
	State string // the protocol's own state (Synced, ONLINE, source, replica, ...)
}

// Set is the running endpoints of one cluster.
type Set struct {
	srv  *sqlexec.Server
	eps  []*endpoint
	once sync.Once
}

type endpoint struct {
	node     int
	name     string
	listener *mysql.Listener
	h        *handler
	done     chan struct{}
}

// Start listens on one address per node of srv and serves until Close. If any address
// cannot be bound, the endpoints already started are closed and the error names the
// address.
func Start(srv *sqlexec.Server, cfg Config) (*Set, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.User == "" {
		cfg.User = "root"
	}
	addrs, err := NodeAddrs(cfg.Listen, len(srv.Nodes()))
	if err != nil {
		return nil, err
	}
	auth, err := authServer(cfg.User, cfg.Password)
	if err != nil {
		return nil, err
	}
	quietVitessLog()
	s := &Set{srv: srv}
	for i, n := range srv.Nodes() {
		addr := addrs[i]
		raw, err := net.Listen("tcp", addr)
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("endpoint of %s: listen on %s: %w", n.Name, addr, err)
		}
		h := newHandler(srv, i)
		if cfg.Hold != nil {
			h.hold = func(ctx context.Context) error { return cfg.Hold(ctx, i) }
		}
		l, err := mysql.NewListenerWithConfig(mysql.ListenerConfig{
			Listener: raw, AuthServer: auth, Handler: h,
			ConnReadBufferSize: 16 << 10, ConnBufferPooling: true,
		})
		if err != nil {
			raw.Close()
			_ = s.Close()
			return nil, fmt.Errorf("endpoint of %s: %w", n.Name, err)
		}
		l.ServerVersion = srv.HandshakeVersion(i)
		if cfg.TLS != nil {
			l.TLSConfig.Store(cfg.TLS)
		}
		l.PreHandleFunc = func(_ context.Context, c net.Conn, _ uint32) (net.Conn, error) {
			return newLimitConn(c, srv.MaxAllowedPacket()), nil
		}
		ep := &endpoint{node: i, name: n.Name, listener: l, h: h, done: make(chan struct{})}
		s.eps = append(s.eps, ep)
		go func() {
			defer close(ep.done)
			l.Accept()
		}()
	}
	return s, nil
}

// ParseListen checks a listen address for a cluster of n nodes (host:port, with room for n
// consecutive ports; port 0 gives every node a free one) and returns its host (127.0.0.1
// when empty) and first port, so a command can refuse a bad address before it starts
// anything.
func ParseListen(listen string, n int) (host string, base int, err error) {
	host, portText, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("listen address %q: %v (accepted: host:port, such as %s)", listen, err, DefaultListen)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	base, err = strconv.Atoi(portText)
	if err != nil || base < 0 || base+n-1 > 65535 {
		return "", 0, fmt.Errorf("listen address %q: port %q does not leave room for %d consecutive ports (accepted: 0, or 1 to %d)", listen, portText, n, 65536-n)
	}
	return host, base, nil
}

// NodeAddrs are the addresses of the n nodes' endpoints for a listen address. Two forms:
// one address (ParseListen), node i on its port + i, or host:0 each (a free port each) for
// port 0, which suits nodes on one machine; or one address per node, "n1=HOST:PORT,
// n2=HOST:PORT,...", naming every node n1..n<n> once, for nodes on machines of their own
// (each node process binds its own address; port 0 is a free port there). An empty host
// binds 127.0.0.1 in both forms. Start binds them; `replbench serve --nodes-external`
// sends each to its node process.
func NodeAddrs(listen string, n int) ([]string, error) {
	if strings.Contains(listen, "=") {
		return perNodeAddrs(listen, n)
	}
	host, base, err := ParseListen(listen, n)
	if err != nil {
		return nil, err
	}
	addrs := make([]string, n)
	for i := range addrs {
		port := 0
		if base > 0 {
			port = base + i
		}
		addrs[i] = net.JoinHostPort(host, strconv.Itoa(port))
	}
	return addrs, nil
}

// perNodeAddrs reads the "n1=HOST:PORT,n2=HOST:PORT,..." form of NodeAddrs.
func perNodeAddrs(listen string, n int) ([]string, error) {
	addrs := make([]string, n)
	for _, item := range strings.Split(listen, ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(item), "=")
		i, err := strconv.Atoi(strings.TrimPrefix(name, "n"))
		if !ok || !strings.HasPrefix(name, "n") || err != nil || i < 1 || i > n {
			return nil, fmt.Errorf("listen address %q: %q is not NODE=HOST:PORT for a node n1..n%d (accepted: one HOST:PORT, or n1=HOST:PORT,...,n%d=HOST:PORT)", listen, item, n, n)
		}
		if addrs[i-1] != "" {
			return nil, fmt.Errorf("listen address %q: %s named twice (accepted: each node n1..n%d once)", listen, name, n)
		}
		host, port, err := ParseListen(addr, 1)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		addrs[i-1] = net.JoinHostPort(host, strconv.Itoa(port))
	}
	for i, a := range addrs {
		if a == "" {
			return nil, fmt.Errorf("listen address %q names no address for n%d (accepted: each node n1..n%d once)", listen, i+1, n)
		}
	}
	return addrs, nil
}

func authServer(user, password string) (mysql.AuthServer, error) {
	cfg := map[string][]*mysql.AuthServerStaticEntry{user: {{Password: password}}}
	js, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	a := mysql.NewAuthServerStaticWithAuthMethodDescription("", string(js), 0, mysql.MysqlNativePassword)
	return a, nil
}

// Endpoints reports every endpoint's address, role and state, in node order.
func (s *Set) Endpoints() []Info {
	out := make([]Info, len(s.eps))
	for i, ep := range s.eps {
		n := s.srv.Nodes()[ep.node]
		out[i] = Info{Node: ep.name, Addr: ep.listener.Addr().String(), Role: role(n), State: state(n)}
	}
	return out
}

// Addrs are the endpoints' addresses in node order.
func (s *Set) Addrs() []string {
	out := make([]string, len(s.eps))
	for i, ep := range s.eps {
		out[i] = ep.listener.Addr().String()
	}
	return out
}

func role(n *sqlexec.Node) string {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	switch protocols.Classify(n.Provider.BeforeWrite(ctx)) {
	case protocols.CauseReadOnly:
		return "read-only"
	case protocols.CauseNotReady:
		return "not-ready"
	case protocols.CauseTimeout:
		return "waiting"
	}
	return "read-write"
}

// stateVars are the status variables in which the protocols report a node's state.
var stateVars = []string{"wsrep_local_state_comment", "MEMBER_STATE", "Rpl_semi_sync_master_status", "Replica_IO_Running", "Slave_IO_Running"}

func state(n *sqlexec.Node) string {
	vars := n.Provider.Status()
	for _, name := range stateVars {
		for _, v := range vars {
			if v.Name == name {
				if name == "Rpl_semi_sync_master_status" {
					return "source, semi-sync " + v.Value
				}
				if name == "Replica_IO_Running" || name == "Slave_IO_Running" {
					return "replica, IO running " + v.Value
				}
				return v.Value
			}
		}
	}
	return "running"
}

// Close stops accepting connections, closes every open one (their transactions roll back
// and release their locks) and waits until every connection has ended. It is safe to call
// more than once.
func (s *Set) Close() error {
	s.once.Do(func() {
		for _, ep := range s.eps {
			ep.listener.Close()
		}
		for _, ep := range s.eps {
			<-ep.done
			ep.h.closeAll()
		}
	})
	var errs []error
	for _, ep := range s.eps {
		if !ep.h.wait(10 * time.Second) {
			errs = append(errs, fmt.Errorf("endpoint of %s: connections still open 10 s after close (a statement that ignores cancellation)", ep.name))
		}
	}
	return errors.Join(errs...)
}
