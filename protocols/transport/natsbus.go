package transport

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// NATSOptions configures the NATS bus.
type NATSOptions struct {
	// URL of an external NATS server or cluster ("nats://host:4222,nats://host2:4222"),
	// for runs whose nodes live on several machines. Empty means an embedded server in
	// this process, reached through in-process pipes with no listening port.
	URL string
	// Prefix starts every subject (prefix.<to>.<from>), so that two clusters sharing one
	// NATS never see each other's traffic: use a run id. With the embedded server it
	// defaults to a fresh random id; with URL it is required, because every machine of
	// the run must use the same one.
	Prefix string
	// ConnectTimeout bounds connecting to the server (default 5 s).
	ConnectTimeout time.Duration
	// MaxPayload is the largest message the embedded server accepts (default 32 MiB,
	// enough for a large write-set; NATS's own default is 1 MiB). An external server
	// enforces its own max_payload.
	MaxPayload int32
	// Auth authenticates to an external NATS and sets up TLS (see NATSAuth).
	Auth NATSAuth
	// ReconnectFor is how long an endpoint keeps trying to reconnect to an external NATS
	// after losing it (default 10 s), buffering what it sends meanwhile. After that the
	// connection closes, sends fail, and the point ends as not converged instead of
	// hanging; either way the outage is reported through Health.
	ReconnectFor time.Duration
}

// NewNATSBus returns a bus over NATS. Each endpoint has its own connection, publishes a
// message for node B on prefix.B.<sender> and subscribes to prefix.<self>.*; NATS keeps
// per-publisher order, which gives per-link FIFO. Subscriptions have no pending limits, so
// a slow handler queues messages instead of being cut off as a slow consumer, and Send
// never flushes: NATS's background flusher batches writes, which a per-message round trip
// would defeat.
//
// The embedded server runs without listeners, logging, signal handlers or monitoring; its
// in-process connections are synchronous pipes, which halve latency compared with loopback
// TCP but stream more slowly. Close drains every endpoint and shuts the embedded server
// down; it must not be called from a handler.
func NewNATSBus(opts NATSOptions) (Bus, error) {
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 5 * time.Second
	}
	if opts.ReconnectFor <= 0 {
		opts.ReconnectFor = 10 * time.Second
	}
	b := &natsBus{opts: opts, eps: make(map[string]*natsEndpoint), log: &connLog{start: time.Now()}}
	if opts.URL != "" {
		if err := opts.Auth.Validate(); err != nil {
			return nil, fmt.Errorf("transport: %w", err)
		}
		auth, err := opts.Auth.options()
		if err != nil {
			return nil, fmt.Errorf("transport: %w", err)
		}
		b.auth = auth
		if opts.Prefix == "" {
			return nil, errors.New("transport: NATSOptions.Prefix is required with an external NATS URL: give every machine of the run the same run id")
		}
	} else {
		if opts.Prefix == "" {
			b.opts.Prefix = "replbench." + nuid.Next()
		}
		if opts.MaxPayload <= 0 {
			opts.MaxPayload = 32 << 20
		}
		ns, err := server.NewServer(&server.Options{
			ServerName: "replbench",
			DontListen: true,
			NoLog:      true,
			NoSigs:     true,
			HTTPPort:   0,
			MaxPayload: opts.MaxPayload,
			MaxPending: max(int64(opts.MaxPayload)*2, 64<<20),
		})
		if err != nil {
			return nil, fmt.Errorf("transport: starting embedded NATS: %w", err)
		}
		ns.Start()
		if !ns.ReadyForConnections(opts.ConnectTimeout) {
			ns.Shutdown()
			return nil, fmt.Errorf("transport: embedded NATS not ready after %v", opts.ConnectTimeout)
		}
		b.ns = ns
	}
	if err := checkSubjectToken("prefix", strings.ReplaceAll(b.opts.Prefix, ".", "")); err != nil {
		return nil, err
	}
	return b, nil
}

type natsBus struct {
	opts   NATSOptions
	ns     *server.Server
	mu     sync.Mutex
	eps    map[string]*natsEndpoint
	auth   []nats.Option // credentials and TLS for an external NATS
	log    *connLog
	old    []*natsEndpoint // closed endpoints of restarted nodes, still to wait for
	closed bool
}

func checkSubjectToken(what, s string) error {
	if s == "" || strings.ContainsAny(s, ".*> \t\r\n") {
		return fmt.Errorf("transport: %s %q is not usable in a NATS subject: use letters, digits, '-' and '_' (such as n1)", what, s)
	}
	return nil
}

func (b *natsBus) Attach(node string) (Endpoint, error) {
	if err := checkSubjectToken("node name", node); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if old := b.eps[node]; old != nil {
		select {
		case <-old.closing: // a restarted node attaches again
		default:
			return nil, fmt.Errorf("transport: node %s is already attached (each node attaches once; close its endpoint to restart it)", node)
		}
	}
	ep := &natsEndpoint{
		bus:     b,
		node:    node,
		ready:   make(chan struct{}),
		closing: make(chan struct{}),
		closed:  make(chan struct{}),
	}
	copts := []nats.Option{
		nats.Name("replbench " + node),
		nats.Timeout(b.opts.ConnectTimeout),
		nats.ClosedHandler(func(*nats.Conn) {
			select {
			case <-ep.closing:
			default:
				b.log.add(node, "closed for good", nil, true)
			}
			close(ep.closed)
		}),
	}
	var err error
	if b.ns != nil {
		ep.nc, err = nats.Connect("", append(copts, nats.InProcessServer(b.ns), nats.NoReconnect())...)
	} else {
		const wait = 250 * time.Millisecond
		copts = append(copts, b.auth...)
		copts = append(copts,
			nats.ReconnectWait(wait),
			nats.MaxReconnects(max(1, int(b.opts.ReconnectFor/wait))),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				select {
				case <-ep.closing:
				default:
					b.log.add(node, "lost", err, false)
				}
			}),
			nats.ReconnectHandler(func(*nats.Conn) { b.log.add(node, "back", nil, false) }),
		)
		ep.nc, err = nats.Connect(b.opts.URL, copts...)
	}
	if err != nil {
		return nil, fmt.Errorf("transport: node %s connecting to NATS %s: %w", node, b.where(), err)
	}
	in := b.opts.Prefix + "." + node + "."
	sub, err := ep.nc.Subscribe(in+"*", func(m *nats.Msg) { ep.deliver(strings.TrimPrefix(m.Subject, in), m.Data) })
	if err == nil {
		err = sub.SetPendingLimits(-1, -1)
	}
	if err == nil {
		// One round trip at attach, so the subscription is in place at the server before
		// anyone is told this node exists; the hot path never flushes.
		err = ep.nc.FlushTimeout(b.opts.ConnectTimeout)
	}
	if err != nil {
		ep.nc.Close()
		return nil, fmt.Errorf("transport: node %s subscribing on NATS %s: %w", node, b.where(), err)
	}
	if old := b.eps[node]; old != nil {
		b.old = append(b.old, old)
	}
	b.eps[node] = ep
	return ep, nil
}

func (b *natsBus) where() string {
	if b.ns != nil {
		return "(embedded)"
	}
	return RedactURL(b.opts.URL)
}

// ConnectionEvents implements Health.
func (b *natsBus) ConnectionEvents() ([]string, error) { return b.log.snapshot() }

func (b *natsBus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	eps := slices.Concat(b.old, slices.Collect(maps.Values(b.eps)))
	b.mu.Unlock()
	var first error
	for _, ep := range eps {
		ep.Close()
	}
	for _, ep := range eps {
		select {
		case <-ep.closed:
		case <-time.After(30 * time.Second):
			ep.nc.Close()
			<-ep.closed
			if first == nil {
				first = fmt.Errorf("transport: node %s did not drain within 30s (a handler blocked?); closed it", ep.node)
			}
		}
	}
	if b.ns != nil {
		b.ns.Shutdown()
		b.ns.WaitForShutdown()
	}
	return first
}

type natsEndpoint struct {
	bus      *natsBus
	node     string
	nc       *nats.Conn
	subjects sync.Map // destination -> subject
	handler  atomic.Pointer[Handler]
	setOnce  sync.Once
	ready    chan struct{} // closed when the first handler is set
	closing  chan struct{}
	closeMu  sync.Once
	closed   chan struct{} // closed by the connection's ClosedHandler
}

func (e *natsEndpoint) Node() string { return e.node }

// deliver runs on the subscription's goroutine, one message at a time. Until a handler is
// set it waits, which holds later messages in the subscription's (unbounded) queue.
func (e *natsEndpoint) deliver(from string, data []byte) {
	h := e.handler.Load()
	if h == nil {
		select {
		case <-e.ready:
			h = e.handler.Load()
		case <-e.closing:
			return
		}
	}
	(*h)(from, data)
}

func (e *natsEndpoint) Send(to string, payload []byte) error {
	subj, ok := e.subjects.Load(to)
	if !ok {
		if err := checkSubjectToken("node name", to); err != nil {
			return err
		}
		subj, _ = e.subjects.LoadOrStore(to, e.bus.opts.Prefix+"."+to+"."+e.node)
	}
	err := e.nc.Publish(subj.(string), payload)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining):
		return ErrClosed
	case errors.Is(err, nats.ErrMaxPayload):
		return fmt.Errorf("transport: %d-byte message from %s to %s exceeds the NATS max_payload (%d): raise NATSOptions.MaxPayload or the server's max_payload", len(payload), e.node, to, e.nc.MaxPayload())
	}
	return fmt.Errorf("transport: %s sending to %s: %w", e.node, to, err)
}

func (e *natsEndpoint) SetHandler(h Handler) {
	e.handler.Store(&h)
	e.setOnce.Do(func() { close(e.ready) })
}

// Close drains the endpoint: messages already received are still handed to the handler,
// then the connection closes. It does not wait for that (the bus's Close does), so a
// handler may close its own endpoint.
func (e *natsEndpoint) Close() error {
	e.closeMu.Do(func() {
		close(e.closing)
		if err := e.nc.Drain(); err != nil {
			e.nc.Close()
		}
	})
	return nil
}
