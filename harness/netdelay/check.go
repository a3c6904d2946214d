package netdelay

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"time"
)

// RTT is one measured round trip through the proxy: from a namespace (the node in it, or
// "" for the proxy's own, where clients and undelayed nodes live) to a node's echo port.
type RTT struct {
	From     string        `json:"from"`
	To       string        `json:"to"`
	Expected time.Duration `json:"expected_ns"`
	Min      time.Duration `json:"min_ns"`
	Median   time.Duration `json:"median_ns"`
	Max      time.Duration `json:"max_ns"`
	Samples  int           `json:"samples"`
	// OK: no round trip was shorter than configured (the proxy never releases early) and
	// the median exceeds it by at most CheckSlack.
	OK bool `json:"ok"`
}

// CheckSlack is how much longer than configured a median round trip may be and still pass:
// two extra loopback hops, timer wake-ups and a loaded two-core host.
func CheckSlack(expected time.Duration) time.Duration {
	return max(time.Millisecond, expected/20)
}

// Check measures the round trip from every namespace to every node in another one, through
// a running proxy configured by cfg, with count pings of 16 bytes each, interval apart. It
// opens each node's echo port in that node's namespace for the duration (nothing else
// listens there), so it must run as root while the proxy runs.
func Check(cfg *Config, count int, interval time.Duration) ([]RTT, error) {
	nw, err := cfg.Network()
	if err != nil {
		return nil, err
	}
	if count < 1 {
		return nil, fmt.Errorf("netdelay check: count %d: want at least 1", count)
	}
	ns, err := startNSSet(cfg)
	if err != nil {
		return nil, err
	}
	defer ns.stop()
	var out []RTT
	for _, n := range cfg.Nodes {
		if n.Echo == 0 {
			continue
		}
		addr := net.JoinHostPort(cfg.host(), strconv.Itoa(n.Echo))
		var ln net.Listener
		ns.do(n.Netns, func() { ln, err = net.Listen("tcp", addr) })
		if err != nil {
			return out, fmt.Errorf("netdelay check: echo port of %s (%s in namespace %q): %v", n.Name, addr, n.Netns, err)
		}
		go echo(ln)
		for _, r := range cfg.Routes() {
			if r.To != n.Name || r.Addr != addr {
				continue
			}
			var c net.Conn
			ns.do(r.ListenNS, func() { c, err = net.DialTimeout("tcp", addr, dialTimeout) })
			if err != nil {
				ln.Close()
				return out, fmt.Errorf("netdelay check: %s -> %s: %v (is the proxy running?)", nsLabel(r.ListenNS), n.Name, err)
			}
			samples, err := ping(c, count, interval)
			c.Close()
			if err != nil {
				ln.Close()
				return out, fmt.Errorf("netdelay check: %s -> %s: %v", nsLabel(r.ListenNS), n.Name, err)
			}
			want := nw.OneWay(r.From, r.To) + nw.OneWay(r.To, r.From)
			out = append(out, summarize(r.From, r.To, want, samples))
		}
		ln.Close()
	}
	return out, nil
}

func summarize(from, to string, want time.Duration, samples []time.Duration) RTT {
	slices.Sort(samples)
	r := RTT{From: from, To: to, Expected: want, Samples: len(samples),
		Min: samples[0], Median: samples[len(samples)/2], Max: samples[len(samples)-1]}
	r.OK = r.Min >= want && r.Median <= want+CheckSlack(want)
	return r
}

// echo answers every connection with what it sends.
func echo(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}

// ping sends count numbered 16-byte messages, each after the previous one's echo, and
// returns the round trips.
func ping(c net.Conn, count int, interval time.Duration) ([]time.Duration, error) {
	var out, in [16]byte
	samples := make([]time.Duration, 0, count)
	for i := range count {
		if i > 0 && interval > 0 {
			time.Sleep(interval)
		}
		binary.BigEndian.PutUint64(out[:], uint64(i))
		start := time.Now()
		binary.BigEndian.PutUint64(out[8:], uint64(start.UnixNano()))
		c.SetDeadline(start.Add(30 * time.Second))
		if _, err := c.Write(out[:]); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(c, in[:]); err != nil {
			return nil, fmt.Errorf("reading echo %d: %v", i, err)
		}
		rtt := time.Since(start)
		if in != out {
			return nil, fmt.Errorf("echo %d came back altered", i)
		}
		samples = append(samples, rtt)
	}
	return samples, nil
}

// String is one line of the check's table.
func (r RTT) String() string {
	from := r.From
	if from == "" {
		from = "(clients)"
	}
	verdict := "ok"
	if !r.OK {
		verdict = "OFF"
	}
	return fmt.Sprintf("%-10s -> %-4s  expected %8s  min %8s  median %8s  max %8s  (%d samples) %s",
		from, r.To, r.Expected, r.Min.Round(time.Microsecond), r.Median.Round(time.Microsecond), r.Max.Round(time.Microsecond), r.Samples, verdict)
}
