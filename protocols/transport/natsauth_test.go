package transport

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func TestRedactURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"nats://h:4222", "nats://h:4222"},
		{"nats://u:secret@h:4222", "nats://u:xxxxx@h:4222"},
		{"nats://s3cr3tToken@h:4222", "nats://xxxxx@h:4222"},
		{"nats://a:p1@h1:4222, tls://b:p2@h2:4222", "nats://a:xxxxx@h1:4222,tls://b:xxxxx@h2:4222"},
		{"nats://u:%zz@h", "(unparsable URL, not shown)"},
	} {
		if got := RedactURL(c.in); got != c.want {
			t.Errorf("RedactURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// startAuthNATS runs a NATS server on a free 127.0.0.1 port that requires user u with
// password p, as a shared production cluster would.
func startAuthNATS(t *testing.T, opts *server.Options) (*server.Server, string) {
	t.Helper()
	opts.Host, opts.Port, opts.NoLog, opts.NoSigs = "127.0.0.1", -1, true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns, ns.ClientURL()
}

func TestNATSAuthUserPassword(t *testing.T) {
	_, url := startAuthNATS(t, &server.Options{Username: "rb", Password: "hunter2-secret"})

	bus, err := NewNATSBus(NATSOptions{URL: url, Prefix: "run1", Auth: NATSAuth{User: "rb", Password: "hunter2-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	busOrderTest(t, bus, []string{"n1", "n2"}, 50)
	bus.Close()

	// Wrong credentials, in the options or in the URL: refused, and the error never shows
	// the password.
	for _, o := range []NATSOptions{
		{URL: url, Prefix: "run2", Auth: NATSAuth{User: "rb", Password: "wrong-pw-xyz"}},
		{URL: strings.Replace(url, "nats://", "nats://rb:wrong-pw-xyz@", 1), Prefix: "run3"},
	} {
		b, err := NewNATSBus(o)
		if err == nil {
			_, err = b.Attach("n1")
			b.Close()
		}
		if err == nil {
			t.Fatalf("%+v: connected with a wrong password", o.Auth)
		}
		if strings.Contains(err.Error(), "wrong-pw-xyz") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestNATSAuthToken(t *testing.T) {
	_, url := startAuthNATS(t, &server.Options{Authorization: "tok-123"})
	bus, err := NewNATSBus(NATSOptions{URL: url, Prefix: "run", Auth: NATSAuth{Token: "tok-123"}})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	busOrderTest(t, bus, []string{"n1", "n2"}, 20)
}

func TestNATSAuthValidate(t *testing.T) {
	for _, a := range []NATSAuth{
		{User: "u", Password: "p", Token: "t"},
		{User: "u"},
		{TLSCertFile: "c.pem"},
	} {
		if err := a.Validate(); err == nil {
			t.Errorf("%s: accepted", a)
		}
	}
	if s := (NATSAuth{User: "u", Password: "pw-zz", TLSCAFile: "ca"}).String(); strings.Contains(s, "pw-zz") || !strings.Contains(s, "tls") {
		t.Errorf("String() = %q: want the kinds and no secret", s)
	}
}

// Two runs sharing one NATS with different prefixes never see each other's messages.
func TestNATSSharedClusterPrefixes(t *testing.T) {
	_, url := startAuthNATS(t, &server.Options{})
	a, err := NewNATSBus(NATSOptions{URL: url, Prefix: "runA"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, _ := NewNATSBus(NATSOptions{URL: url, Prefix: "runB"})
	defer b.Close()
	a1, _ := a.Attach("n1")
	a2, _ := a.Attach("n2")
	b2, _ := b.Attach("n2")
	got := make(chan string, 10)
	a2.SetHandler(func(from string, p []byte) { got <- "a:" + string(p) })
	b2.SetHandler(func(from string, p []byte) { got <- "b:" + string(p) })
	for i := range 5 {
		if err := a1.Send("n2", fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		select {
		case g := <-got:
			if g != fmt.Sprintf("a:%d", i) {
				t.Fatalf("got %s, want a:%d (run B must see nothing)", g, i)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("message not delivered")
		}
	}
	select {
	case g := <-got:
		t.Fatalf("extra delivery %s", g)
	case <-time.After(100 * time.Millisecond):
	}
}

// When the external NATS goes away for good, the bus says so (Health) and stops trying
// after ReconnectFor: sends fail instead of buffering forever.
func TestNATSLostConnectionIsReported(t *testing.T) {
	ns, url := startAuthNATS(t, &server.Options{})
	bus, err := NewNATSBus(NATSOptions{URL: url, Prefix: "run", ReconnectFor: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	ep, _ := bus.Attach("n1")
	ep.SetHandler(func(string, []byte) {})
	h := bus.(Health)
	if ev, lost := h.ConnectionEvents(); lost != nil || len(ev) != 0 {
		t.Fatalf("healthy bus reports %v %v", ev, lost)
	}
	ns.Shutdown()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ev, lost := h.ConnectionEvents()
		if lost != nil && strings.Contains(lost.Error(), "closed for good") {
			if !strings.Contains(ev[0], "n1 NATS connection lost") {
				t.Errorf("first event %q, want the loss", ev[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no permanent loss reported: %v %v", ev, lost)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := ep.Send("n1", []byte("x")); err == nil {
		t.Error("send on a closed connection succeeded")
	}
}
