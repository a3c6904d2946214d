// Package netdelay is the delay proxy that joins network namespaces for real servers: a
// node that must be far away runs in its own namespace with its usual address, and the
// proxy listens in every namespace on the addresses of the nodes that live in the others,
// forwarding each connection with a one-way delay per direction.
//
// Why namespaces and not a proxy on another address: Galera's gmcast binds its outgoing
// connections to its listen address, gossips every member's real address and re-dials it
// on reconnect, so a node behind an address-level proxy soon talks to its peers directly.
// In its own namespace a node has no route to anyone but through the proxy, whatever it
// learns. tc netem would do it in the kernel, but these containers do not have it.
//
// Delays follow the emulator's network (protocols/transport.Network): `delay` is a node's
// egress delay, as netem on its interface (bytes leaving the node wait; bytes into it do
// not), `links` add per-pair delays. The proxy holds bytes in user space, so a round trip
// costs the configured delays plus two extra loopback hops and the proxy's scheduling, tens
// of microseconds; `replbench netdelay check` measures what a round trip really is.
package netdelay

import (
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/replbench/replbench/internal/yamlstrict"
	"github.com/replbench/replbench/protocols/transport"
)

// Config is the proxy's YAML file, written by scripts/real-cluster.sh.
//
//	host: 127.0.0.1
//	nodes:
//	  - {name: n1, netns: "", ports: [13301, 13321, 13331], delayed: [13311], echo: 13341}
//	  - {name: n3, netns: rb13300-n3, ports: [...], delayed: [...], echo: 13343}
//	delay: {n3: 10ms}
//	links: [n1-n3=5ms]
type Config struct {
	// Host is the address every node listens on in its own namespace (default 127.0.0.1).
	Host  string       `yaml:"host"`
	Nodes []NodeConfig `yaml:"nodes"`
	// Delay is each node's egress delay (bytes leaving it), NODE: DURATION.
	Delay map[string]string `yaml:"delay"`
	// Links are extra one-way delays, A-B=DUR both ways or A>B=DUR one way.
	Links []string `yaml:"links"`
}

// NodeConfig is one server and the ports its peers and clients connect to.
type NodeConfig struct {
	Name string `yaml:"name"`
	// Netns is the namespace the node runs in; "" is the proxy's own.
	Netns string `yaml:"netns"`
	// Ports are forwarded without delay (SQL, IST, SST: provisioning and clients).
	Ports []int `yaml:"ports"`
	// Delayed ports carry node-to-node traffic and get the delays (gmcast, replication).
	Delayed []int `yaml:"delayed"`
	// Echo is a port with the delayed ports' delays that only `netdelay check` listens on.
	Echo int `yaml:"echo"`
}

// Route is one listener the proxy opens: in namespace ListenNS, on Addr, forwarding to the
// same Addr in the namespace of node To. From is the node whose namespace ListenNS is, or
// "" for the proxy's own namespace (clients and undelayed nodes, which have no delays).
type Route struct {
	ListenNS, TargetNS string
	From, To           string
	Addr               string
	Delayed            bool
}

// LoadConfig reads and checks a config file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("netdelay config: %v", err)
	}
	var c Config
	if err := yamlstrict.Decode(path, b, &c); err != nil {
		return nil, fmt.Errorf("netdelay config %v", err)
	}
	if _, err := c.Network(); err != nil {
		return nil, fmt.Errorf("netdelay config %s: %v", path, err)
	}
	return &c, nil
}

func (c *Config) host() string {
	if c.Host == "" {
		return "127.0.0.1"
	}
	return c.Host
}

func (c *Config) names() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Name)
	}
	return out
}

func (c *Config) node(name string) *NodeConfig {
	for i := range c.Nodes {
		if c.Nodes[i].Name == name {
			return &c.Nodes[i]
		}
	}
	return nil
}

// Network checks the config and returns the delays as the emulator's network. A node with
// a delay or a link must have a namespace of its own: every connection into the proxy's
// namespace is treated as coming from a node without delays.
func (c *Config) Network() (transport.Network, error) {
	var nw transport.Network
	if len(c.Nodes) == 0 {
		return nw, fmt.Errorf("no nodes")
	}
	seenName, seenNS, seenPort := map[string]bool{}, map[string]string{}, map[int]string{}
	for _, n := range c.Nodes {
		if n.Name == "" || seenName[n.Name] {
			return nw, fmt.Errorf("node name %q is empty or used twice", n.Name)
		}
		seenName[n.Name] = true
		if n.Netns != "" {
			if other, ok := seenNS[n.Netns]; ok {
				return nw, fmt.Errorf("nodes %s and %s share namespace %q: each delayed node needs its own", other, n.Name, n.Netns)
			}
			seenNS[n.Netns] = n.Name
		}
		ports := append(slices.Clone(n.Ports), n.Delayed...)
		if n.Echo != 0 {
			ports = append(ports, n.Echo)
		}
		for _, p := range ports {
			if p < 1 || p > 65535 {
				return nw, fmt.Errorf("node %s: port %d out of range 1-65535", n.Name, p)
			}
			if other, ok := seenPort[p]; ok {
				return nw, fmt.Errorf("port %d is listed for %s and %s: every node's ports must be distinct", p, other, n.Name)
			}
			seenPort[p] = n.Name
		}
	}
	members := c.names()
	for _, name := range slices.Sorted(maps.Keys(c.Delay)) {
		if err := transport.CheckNode(name, members); err != nil {
			return nw, fmt.Errorf("delay: %v", err)
		}
		d, err := time.ParseDuration(c.Delay[name])
		if err != nil || d < 0 {
			return nw, fmt.Errorf("delay %s=%q: want a duration >= 0 such as 10ms", name, c.Delay[name])
		}
		nw.SetEgress(name, d)
		if c.node(name).Netns == "" && d > 0 {
			return nw, fmt.Errorf("delay %s: the node runs in the proxy's namespace, so nothing can delay it; give it a netns", name)
		}
	}
	for _, s := range c.Links {
		l, err := transport.ParseLink(s)
		if err != nil {
			return nw, err
		}
		for _, name := range []string{l.From, l.To} {
			if err := transport.CheckNode(name, members); err != nil {
				return nw, fmt.Errorf("link %s: %v", s, err)
			}
			if c.node(name).Netns == "" && l.Delay > 0 {
				return nw, fmt.Errorf("link %s: %s runs in the proxy's namespace, so the link cannot be told apart from its neighbours'; give it a netns", s, name)
			}
		}
		l.Apply(&nw)
	}
	return nw, nil
}

// Routes lists the listeners: for every node, in every namespace but its own, one per port.
func (c *Config) Routes() []Route {
	nss := map[string]string{"": ""} // namespace -> the node in it ("" for the proxy's)
	for _, n := range c.Nodes {
		if n.Netns != "" {
			nss[n.Netns] = n.Name
		}
	}
	var out []Route
	for _, n := range c.Nodes {
		for _, ns := range slices.Sorted(maps.Keys(nss)) {
			if ns == n.Netns {
				continue
			}
			add := func(p int, delayed bool) {
				out = append(out, Route{ListenNS: ns, TargetNS: n.Netns, From: nss[ns], To: n.Name,
					Addr: net.JoinHostPort(c.host(), strconv.Itoa(p)), Delayed: delayed})
			}
			for _, p := range n.Ports {
				add(p, false)
			}
			for _, p := range n.Delayed {
				add(p, true)
			}
			if n.Echo != 0 {
				add(n.Echo, true)
			}
		}
	}
	return out
}

// sameTopology reports whether two configs have the same nodes, namespaces and ports, so
// that one may replace the other's delays in a running proxy.
func sameTopology(a, b *Config) bool {
	if a.host() != b.host() || len(a.Nodes) != len(b.Nodes) {
		return false
	}
	for i := range a.Nodes {
		x, y := a.Nodes[i], b.Nodes[i]
		if x.Name != y.Name || x.Netns != y.Netns || x.Echo != y.Echo || !slices.Equal(x.Ports, y.Ports) || !slices.Equal(x.Delayed, y.Delayed) {
			return false
		}
	}
	return true
}
