package netdelay

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Over real loopback TCP the round trip is never shorter than the configured delays, and on
// an idle host only a little longer. The upper bound is loose on purpose: the host is shared.
func TestJoinLoopbackRoundTrip(t *testing.T) {
	echoLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echoLn.Close()
	go echo(echoLn)
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer front.Close()
	go func() {
		for {
			c, err := front.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", echoLn.Addr().String())
			if err != nil {
				c.Close()
				continue
			}
			go Join(c, b, fixed(3*time.Millisecond), fixed(2*time.Millisecond))
		}
	}()
	c, err := net.Dial("tcp", front.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	samples, err := ping(c, 20, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := summarize("a", "b", 5*time.Millisecond, samples)
	t.Log(r)
	if r.Min < 5*time.Millisecond {
		t.Fatalf("a round trip of %v beat the configured 5ms", r.Min)
	}
	if r.Median > 55*time.Millisecond {
		t.Fatalf("median round trip %v, configured 5ms: the proxy adds far too much", r.Median)
	}
}

func writeConfig(t *testing.T, s string) string {
	t.Helper()
	p := t.TempDir() + "/netdelay.yaml"
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const threeNodes = `
nodes:
  - {name: n1, ports: [13301], delayed: [13311], echo: 13341}
  - {name: n2, ports: [13302], delayed: [13312], echo: 13342}
  - {name: n3, netns: rb-n3, ports: [13303], delayed: [13313], echo: 13343}
delay: {n3: 10ms}
`

func TestConfigRoutes(t *testing.T) {
	cfg, err := LoadConfig(writeConfig(t, threeNodes))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range cfg.Routes() {
		got = append(got, fmt.Sprintf("%s:%s->%s:%s %v", r.ListenNS, r.Addr, r.To, r.TargetNS, r.Delayed))
	}
	want := []string{
		"rb-n3:127.0.0.1:13301->n1: false", "rb-n3:127.0.0.1:13311->n1: true", "rb-n3:127.0.0.1:13341->n1: true",
		"rb-n3:127.0.0.1:13302->n2: false", "rb-n3:127.0.0.1:13312->n2: true", "rb-n3:127.0.0.1:13342->n2: true",
		":127.0.0.1:13303->n3:rb-n3 false", ":127.0.0.1:13313->n3:rb-n3 true", ":127.0.0.1:13343->n3:rb-n3 true",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("routes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	nw, _ := cfg.Network()
	// n3's egress delays what it sends, not what it receives: 10ms round trip to anyone.
	if d := nw.OneWay("n3", ""); d != 10*time.Millisecond {
		t.Fatalf("n3 -> clients %v, want 10ms", d)
	}
	if d := nw.OneWay("", "n3"); d != 0 {
		t.Fatalf("clients -> n3 %v, want 0", d)
	}
}

func TestConfigBadInput(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{"nodes: []", "no nodes"},
		{"nodes: [{name: n1, ports: [1]}]\nwat: 1", `unknown field "wat" (accepted: host, nodes, delay, links)`},
		{"nodes: [{name: n1, ports: [1]}, {name: n1, ports: [2]}]", "used twice"},
		{"nodes: [{name: n1, ports: [1]}, {name: n2, ports: [1]}]", "port 1 is listed for n1 and n2"},
		{"nodes: [{name: n1, ports: [70000]}]", "out of range"},
		{"nodes: [{name: n1, ports: [1]}]\ndelay: {n2: 1ms}", "unknown node n2 (accepted: n1)"},
		{"nodes: [{name: n1, ports: [1]}]\ndelay: {n1: 1ms}", "proxy's namespace"},
		{"nodes: [{name: n1, netns: a, ports: [1]}]\ndelay: {n1: soon}", "want a duration"},
		{"nodes: [{name: n1, netns: a, ports: [1]}, {name: n2, netns: a, ports: [2]}]", "share namespace"},
		{"nodes: [{name: n1, netns: a, ports: [1]}]\nlinks: [n1-n9=1ms]", "unknown node n9"},
	} {
		_, err := LoadConfig(writeConfig(t, tc.cfg))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("config %q: error %v, want one line containing %q", tc.cfg, err, tc.want)
		}
	}
}

// The proxy between real namespaces, checked with its own echo. Needs root and
// REPLBENCH_NETNS=1 (it creates and deletes a namespace).
func TestProxyNamespaces(t *testing.T) {
	if os.Getenv("REPLBENCH_NETNS") != "1" || os.Geteuid() != 0 {
		t.Skip("set REPLBENCH_NETNS=1 and run as root to test real network namespaces")
	}
	var nss []string
	for _, n := range []string{"n2", "n3"} {
		ns := fmt.Sprintf("rbtest%d-%s", os.Getpid(), n)
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add: %v %s", err, out)
		}
		defer exec.Command("ip", "netns", "del", ns).Run()
		if out, err := exec.Command("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			t.Fatalf("lo up: %v %s", err, out)
		}
		nss = append(nss, ns)
	}
	path := writeConfig(t, fmt.Sprintf(`
nodes:
  - {name: n1, ports: [23301], delayed: [23311], echo: 23341}
  - {name: n2, netns: %s, ports: [23302], delayed: [23312], echo: 23342}
  - {name: n3, netns: %s, ports: [23303], delayed: [23313], echo: 23343}
delay: {n2: 4ms}
links: [n2-n3=1ms]
`, nss[0], nss[1]))
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	rtts, err := Check(cfg, 10, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(rtts) != 6 {
		t.Fatalf("%d paths measured, want 6 (each node from the two namespaces it is not in)", len(rtts))
	}
	for _, r := range rtts {
		t.Log(r)
		if !r.OK {
			t.Errorf("%v", r)
		}
	}
	// Raise n2's delay while running.
	os.WriteFile(path, []byte(strings.Replace(mustRead(t, path), "n2: 4ms", "n2: 9ms", 1)), 0o644)
	next, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Reload(next); err != nil {
		t.Fatal(err)
	}
	rtts, err = Check(next, 10, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rtts {
		t.Log(r)
		if r.From == "" && r.To == "n2" && r.Expected != 9*time.Millisecond || !r.OK {
			t.Errorf("after reload: %v", r)
		}
	}
}

func mustRead(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
