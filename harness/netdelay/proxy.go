package netdelay

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/replbench/replbench/protocols/transport"
)

// dialTimeout bounds a connection to a target; on loopback a refused or missing target
// answers at once, so only a wedged namespace reaches it.
const dialTimeout = 5 * time.Second

// Proxy is a running delay proxy: one listener per Route, one pair of pumps per connection.
type Proxy struct {
	cfg     *Config
	nw      atomic.Pointer[transport.Network]
	workers nsSet
	log     io.Writer

	mu     sync.Mutex
	lns    []net.Listener
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Start opens every route's listener and serves until Close. log gets one line per
// connection that could not be forwarded.
func Start(cfg *Config, log io.Writer) (*Proxy, error) {
	nw, err := cfg.Network()
	if err != nil {
		return nil, err
	}
	workers, err := startNSSet(cfg)
	if err != nil {
		return nil, err
	}
	p := &Proxy{cfg: cfg, workers: workers, log: log, conns: map[net.Conn]struct{}{}}
	p.nw.Store(&nw)
	for _, r := range cfg.Routes() {
		var ln net.Listener
		p.workers.do(r.ListenNS, func() { ln, err = net.Listen("tcp", r.Addr) })
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("route to %s: listen on %s in namespace %q: %v (is something else listening there?)", r.To, r.Addr, r.ListenNS, err)
		}
		p.lns = append(p.lns, ln)
		p.wg.Add(1)
		go p.serve(ln, r)
	}
	return p, nil
}

// Network is the delays in force.
func (p *Proxy) Network() transport.Network { return *p.nw.Load() }

// Reload replaces the delays with cfg's. The nodes, namespaces and ports must be the
// same: listeners are not reopened. Bytes already queued keep their release times;
// bytes read from now on get the new delays.
func (p *Proxy) Reload(cfg *Config) error {
	if !sameTopology(p.cfg, cfg) {
		return fmt.Errorf("netdelay reload: the nodes, namespaces or ports changed; only delay and links can change while running (restart the proxy for the rest)")
	}
	nw, err := cfg.Network()
	if err != nil {
		return err
	}
	p.nw.Store(&nw)
	return nil
}

// Close stops every listener and connection and waits for the pumps.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for _, ln := range p.lns {
		ln.Close()
	}
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	p.workers.stop()
	return nil
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) serve(ln net.Listener, r Route) {
	defer p.wg.Done()
	fwd := func() time.Duration { return p.nw.Load().OneWay(r.From, r.To) }
	back := func() time.Duration { return p.nw.Load().OneWay(r.To, r.From) }
	if !r.Delayed {
		fwd, back = nil, nil
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			var t net.Conn
			var err error
			p.workers.do(r.TargetNS, func() { t, err = net.DialTimeout("tcp", r.Addr, dialTimeout) })
			if err != nil {
				// Expected while a node is down or not yet listening: its peers retry.
				fmt.Fprintf(p.log, "netdelay: %s -> %s %s: %v\n", nsLabel(r.ListenNS), r.To, r.Addr, err)
				return
			}
			if !p.track(t) {
				return
			}
			defer p.untrack(t)
			Join(c, t, fwd, back)
		}()
	}
}

func nsLabel(ns string) string {
	if ns == "" {
		return "(proxy namespace)"
	}
	return ns
}

// Join copies a to b with delay fwd and b to a with delay back (nil: no delay, a plain
// copy) until both directions end, passing a half-close on, then closes both.
func Join(a, b net.Conn, fwd, back func() time.Duration) {
	var wg sync.WaitGroup
	var failed atomic.Bool
	one := func(dst, src net.Conn, delay func() time.Duration) {
		defer wg.Done()
		var err error
		if delay == nil {
			_, err = io.Copy(dst, src)
		} else {
			_, err = DelayCopy(dst, src, delay)
		}
		if err != nil && !errors.Is(err, net.ErrClosed) || failed.Load() {
			failed.Store(true)
			a.Close()
			b.Close()
			return
		}
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			dst.Close()
		}
	}
	wg.Add(2)
	go one(b, a, fwd)
	go one(a, b, back)
	wg.Wait()
	a.Close()
	b.Close()
}
