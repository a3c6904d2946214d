package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/replbench/replbench/harness/netdelay"
)

const netdelayUsage = `usage:
  replbench netdelay run --config FILE [--pid-file FILE]
      run the delay proxy; SIGHUP re-reads FILE's delay and links, SIGTERM stops it
  replbench netdelay check --config FILE [--count N] [--interval DUR] [--json FILE]
      measure the round trip through the running proxy with a TCP echo (exit 1 if off)
  replbench netdelay routes --config FILE
      list the listeners the proxy opens

FILE is written by scripts/real-cluster.sh; harness/netdelay's Config documents it.`

// netdelayMain is `replbench netdelay`: the delay proxy between network namespaces that
// puts real servers at a distance (see harness/netdelay).
func netdelayMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, netdelayUsage)
		return ExitUsage
	}
	sub := args[0]
	fs := flag.NewFlagSet("replbench netdelay "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "the proxy's config file (required)")
	pidFile := fs.String("pid-file", "", "run: write the proxy's PID here")
	count := fs.Int("count", 20, "check: pings per path")
	interval := fs.Duration("interval", 5*time.Millisecond, "check: pause between pings")
	jsonOut := fs.String("json", "", "check: also write the measured round trips here as JSON")
	switch sub {
	case "run", "check", "routes":
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, netdelayUsage)
		return ExitOK
	default:
		fmt.Fprintf(stderr, "replbench netdelay: unknown subcommand %q (accepted: run, check, routes)\n", sub)
		return ExitUsage
	}
	if err := fs.Parse(args[1:]); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "replbench netdelay %s: unexpected arguments %q\n", sub, strings.Join(fs.Args(), " "))
		return ExitUsage
	}
	if *cfgPath == "" {
		fmt.Fprintf(stderr, "replbench netdelay %s: --config FILE is required\n", sub)
		return ExitUsage
	}
	cfg, err := netdelay.LoadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "replbench netdelay: %v\n", err)
		return ExitUsage
	}
	switch sub {
	case "routes":
		for _, r := range cfg.Routes() {
			kind := "direct"
			if r.Delayed {
				kind = "delayed"
			}
			fmt.Fprintf(stdout, "listen %-21s in %-14s -> %-4s in %-14s %s\n", r.Addr, nsName(r.ListenNS), r.To, nsName(r.TargetNS), kind)
		}
		return ExitOK
	case "check":
		if *count < 1 || *interval < 0 {
			fmt.Fprintf(stderr, "replbench netdelay check: --count %d --interval %v: want count >= 1 and interval >= 0\n", *count, *interval)
			return ExitUsage
		}
		rtts, err := netdelay.Check(cfg, *count, *interval)
		if err != nil {
			fmt.Fprintf(stderr, "replbench %v\n", err)
			return ExitFailure
		}
		ok := true
		for _, r := range rtts {
			fmt.Fprintln(stdout, r)
			ok = ok && r.OK
		}
		if *jsonOut != "" {
			b, _ := json.MarshalIndent(rtts, "", "  ")
			if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
				fmt.Fprintf(stderr, "replbench netdelay check: %v\n", err)
				return ExitFailure
			}
		}
		if !ok {
			fmt.Fprintln(stderr, "replbench netdelay check: a round trip is off by more than the slack (max(1ms, 5%)) or shorter than configured")
			return ExitFailure
		}
		return ExitOK
	}
	// run
	p, err := netdelay.Start(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "replbench netdelay run: %v\n", err)
		return ExitFailure
	}
	defer p.Close()
	if *pidFile != "" {
		if err := os.WriteFile(*pidFile, fmt.Appendf(nil, "%d\n", os.Getpid()), 0o644); err != nil {
			fmt.Fprintf(stderr, "replbench netdelay run: --pid-file: %v\n", err)
			return ExitFailure
		}
		defer os.Remove(*pidFile)
	}
	fmt.Fprintf(stdout, "netdelay: %d routes; %s\n", len(cfg.Routes()), describeDelays(cfg))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP, syscall.SIGTERM, os.Interrupt)
	for s := range sig {
		if s != syscall.SIGHUP {
			fmt.Fprintln(stdout, "netdelay: stopping")
			return ExitOK
		}
		next, err := netdelay.LoadConfig(*cfgPath)
		if err == nil {
			err = p.Reload(next)
		}
		if err != nil {
			fmt.Fprintf(stderr, "replbench netdelay: reload refused, delays unchanged: %v\n", err)
			continue
		}
		cfg = next
		fmt.Fprintf(stdout, "netdelay: reloaded; %s\n", describeDelays(cfg))
	}
	return ExitOK
}

func nsName(ns string) string {
	if ns == "" {
		return "(proxy's)"
	}
	return ns
}

func describeDelays(cfg *netdelay.Config) string {
	nw, _ := cfg.Network()
	var parts []string
	for _, n := range cfg.Nodes {
		if d := nw.Egress[n.Name]; d > 0 {
			parts = append(parts, fmt.Sprintf("%s=%v", n.Name, d))
		}
	}
	for _, l := range nw.LinkSpecs() {
		parts = append(parts, l.String())
	}
	if len(parts) == 0 {
		return "no delays"
	}
	return "delays " + strings.Join(parts, ", ")
}
