package transport

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSAuth is how a run authenticates to, and encrypts its traffic with, an external NATS
// cluster that is shared with other users, as a real deployment is. At most one credential
// kind is used: user and password, a token, an nkey seed file or a credentials (JWT) file;
// a user and password (or a token) may also ride in the URL. Secrets never leave this
// struct: every string the bus prints or records goes through RedactURL, and String shows
// which kind is configured, not its value.
type NATSAuth struct {
	User, Password string
	Token          string
	NKeySeedFile   string // an nkey seed (SU...) file, for servers configured with nkeys
	CredsFile      string // a chained JWT + seed credentials file (decentralised auth)
	// TLS: a CA to verify the server (enables TLS), and a client certificate and key
	// for servers that verify clients. An URL with the tls:// scheme also enables TLS.
	TLSCAFile, TLSCertFile, TLSKeyFile string
}

// Validate refuses combinations NATS would silently resolve in a surprising way.
func (a NATSAuth) Validate() error {
	kinds := 0
	for _, set := range []bool{a.User != "" || a.Password != "", a.Token != "", a.NKeySeedFile != "", a.CredsFile != ""} {
		if set {
			kinds++
		}
	}
	if kinds > 1 {
		return errors.New("more than one NATS credential given (accepted: one of --nats-user/--nats-password, --nats-token, --nats-nkey, --nats-creds)")
	}
	if (a.User == "") != (a.Password == "") && a.Token == "" {
		return errors.New("--nats-user and --nats-password go together (accepted: both, or a token, nkey or credentials file instead)")
	}
	if (a.TLSCertFile == "") != (a.TLSKeyFile == "") {
		return errors.New("--nats-tls-cert and --nats-tls-key go together (accepted: both, or neither)")
	}
	return nil
}

// String names what is configured without any secret, for the environment record.
func (a NATSAuth) String() string {
	var parts []string
	switch {
	case a.User != "":
		parts = append(parts, "user "+a.User)
	case a.Token != "":
		parts = append(parts, "token")
	case a.NKeySeedFile != "":
		parts = append(parts, "nkey")
	case a.CredsFile != "":
		parts = append(parts, "credentials file")
	}
	if a.TLSCAFile != "" || a.TLSCertFile != "" {
		parts = append(parts, "tls")
	}
	return strings.Join(parts, ", ")
}

// options turns the configuration into nats.go options.
func (a NATSAuth) options() ([]nats.Option, error) {
	var out []nats.Option
	switch {
	case a.User != "":
		out = append(out, nats.UserInfo(a.User, a.Password))
	case a.Token != "":
		out = append(out, nats.Token(a.Token))
	case a.NKeySeedFile != "":
		o, err := nats.NkeyOptionFromSeed(a.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nkey seed %s: %w", a.NKeySeedFile, err)
		}
		out = append(out, o)
	case a.CredsFile != "":
		out = append(out, nats.UserCredentials(a.CredsFile))
	}
	if a.TLSCAFile != "" {
		out = append(out, nats.RootCAs(a.TLSCAFile))
	}
	if a.TLSCertFile != "" {
		out = append(out, nats.ClientCert(a.TLSCertFile, a.TLSKeyFile))
	}
	return out, nil
}

// RedactURL returns a NATS URL list with every password or token replaced by "xxxxx", so
// that it can be printed and written: nats://u:secret@h:4222 becomes nats://u:xxxxx@h:4222,
// and nats://TOKEN@h (a token as the user part) becomes nats://xxxxx@h. Something that does
// not parse as a URL is replaced as a whole (it may be a secret typed in the wrong place).
func RedactURL(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if !strings.Contains(p, "@") {
			parts[i] = p
			continue
		}
		u, err := url.Parse(p)
		if err != nil || u.User == nil {
			parts[i] = "(unparsable URL, not shown)"
			continue
		}
		if _, hasPass := u.User.Password(); hasPass {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		} else {
			u.User = url.User("xxxxx")
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

// Health is implemented by buses whose connections can fail during a run (an external
// NATS). The harness asks it when a point ends: a point whose bus lost its connection is
// reported as such and never as converged, because NATS core delivery is at most once and
// messages sent across the outage may be gone.
type Health interface {
	// ConnectionEvents lists what happened to the connections (disconnects, reconnects,
	// closes), with times, and returns a non-nil error when any connection is down for
	// good or was down at all (messages may have been lost).
	ConnectionEvents() (events []string, lost error)
}

// connLog records one bus's connection events; it is shared by its endpoints.
type connLog struct {
	mu     sync.Mutex
	start  time.Time
	events []string
	lost   error
}

func (l *connLog) add(node, what string, err error, fatal bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := fmt.Sprintf("%.3fs %s NATS connection %s", time.Since(l.start).Seconds(), node, what)
	if err != nil {
		e += ": " + err.Error()
	}
	l.events = append(l.events, e)
	if l.lost == nil || fatal {
		l.lost = errors.New(e)
	}
}

func (l *connLog) snapshot() ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...), l.lost
}

// ConnectionEvents implements Health for the emulator by asking the bus underneath.
func (e *Emulator) ConnectionEvents() ([]string, error) {
	if h, ok := e.inner.(Health); ok {
		return h.ConnectionEvents()
	}
	return nil, nil
}

// CheckNATS connects once to the external NATS that opts names, with its credentials, and
// disconnects: a command calls it before anything runs or is written, so that a wrong URL,
// an unreachable cluster or refused credentials are a usage error naming the problem (with
// any secret redacted), not a failure of the first point.
func CheckNATS(opts NATSOptions) error {
	for _, u := range strings.Split(opts.URL, ",") {
		u = strings.TrimSpace(u)
		pu, err := url.Parse(u)
		if err != nil || pu.Host == "" {
			return fmt.Errorf("invalid URL %q (accepted: nats://HOST:PORT or tls://HOST:PORT, comma-separated for a cluster)", RedactURL(u))
		}
	}
	if err := opts.Auth.Validate(); err != nil {
		return err
	}
	auth, err := opts.Auth.options()
	if err != nil {
		return err
	}
	nc, err := nats.Connect(opts.URL, append(auth, nats.Name("replbench check"), nats.Timeout(2*time.Second), nats.NoReconnect())...)
	if err != nil {
		return fmt.Errorf("cannot connect to %s: %v (accepted: the URL of a running NATS server with valid credentials, or leave the flag out for an embedded one)", RedactURL(opts.URL), err)
	}
	nc.Close()
	return nil
}

// ConnectNATS opens one plain connection to the external NATS that opts names, with its
// credentials and TLS, for traffic that is not node-to-node (the control plane between a
// coordinator and its node processes). It reconnects for opts.ReconnectFor (default 10 s)
// like a bus endpoint, so a NATS server of a cluster going away moves the connection to
// another one. Errors redact any secret in the URL.
func ConnectNATS(opts NATSOptions, name string) (*nats.Conn, error) {
	if opts.URL == "" {
		return nil, fmt.Errorf("transport: ConnectNATS needs the URL of an external NATS")
	}
	if err := opts.Auth.Validate(); err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	auth, err := opts.Auth.options()
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 5 * time.Second
	}
	if opts.ReconnectFor <= 0 {
		opts.ReconnectFor = 10 * time.Second
	}
	const wait = 250 * time.Millisecond
	nc, err := nats.Connect(opts.URL, append(auth, nats.Name(name), nats.Timeout(opts.ConnectTimeout),
		nats.ReconnectWait(wait), nats.MaxReconnects(max(1, int(opts.ReconnectFor/wait))))...)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to %s: %v", RedactURL(opts.URL), err)
	}
	return nc, nil
}
