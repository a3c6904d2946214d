package transport

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestSchedule drives the emulator's core state machine step by step from
// testdata/schedule: explicit times in, decisions and due packets out, no goroutines and
// no clock. Commands:
//
//	network [seed=N]      body: lines "base D", "egress N=D", "link A-B=D", "jitter J", "loss P"
//	send t=D from=A to=B [n=K]
//	pop t=D               hands over everything due (and acknowledges it)
//	clog|unclog [t=D] from=A to=B
//	partition groups=(n1 n2|n3)   oneway from=A to=B   heal
func TestSchedule(t *testing.T) {
	datadriven.Walk(t, "testdata/schedule", func(t *testing.T, path string) {
		var s *schedule
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		at := func(td *datadriven.TestData) time.Time {
			for _, a := range td.CmdArgs {
				if a.Key == "t" {
					d, err := time.ParseDuration(a.Vals[0])
					if err != nil {
						td.Fatalf(t, "t: %v", err)
					}
					return t0.Add(d)
				}
			}
			return t0
		}
		arg := func(td *datadriven.TestData, key string) string {
			for _, a := range td.CmdArgs {
				if a.Key == key {
					return strings.Join(a.Vals, " ")
				}
			}
			return ""
		}
		rel := func(tm time.Time) string { return tm.Sub(t0).String() }
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			switch td.Cmd {
			case "network":
				var nw Network
				for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
					k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
					var err error
					switch k {
					case "":
					case "base":
						nw.Base, err = time.ParseDuration(v)
					case "egress":
						var n string
						var d time.Duration
						if n, d, err = ParseEgress(v); err == nil {
							nw.SetEgress(n, d)
						}
					case "link":
						var l LinkDelay
						if l, err = ParseLink(v); err == nil {
							l.Apply(&nw)
						}
					case "jitter":
						nw.Jitter, err = ParseJitter(v)
					case "loss":
						nw.Loss, err = ParseLoss(v)
					default:
						err = fmt.Errorf("unknown network line %q", line)
					}
					if err != nil {
						return "error: " + err.Error()
					}
				}
				seed, _ := strconv.ParseUint(arg(td, "seed"), 10, 64)
				if s == nil {
					s = newSchedule(nw, seed)
				} else {
					s.setNetwork(nw)
				}
				return "ok"
			case "send":
				n := 1
				if v := arg(td, "n"); v != "" {
					n, _ = strconv.Atoi(v)
				}
				var b strings.Builder
				for range n {
					p := &packet{link: Link{arg(td, "from"), arg(td, "to")}}
					d := s.send(at(td), p)
					switch {
					case d.drop != NotDropped:
						fmt.Fprintf(&b, "%s>%s dropped: %s\n", p.link.From, p.link.To, d.drop)
					case d.now:
						fmt.Fprintf(&b, "%s>%s #%d immediate\n", p.link.From, p.link.To, p.seq)
						s.done(p.link)
					default:
						fmt.Fprintf(&b, "%s>%s #%d due %s\n", p.link.From, p.link.To, p.seq, rel(d.due))
					}
				}
				return b.String()
			case "pop":
				out, dropped := s.pop(at(td), nil, nil)
				var b strings.Builder
				for _, p := range out {
					fmt.Fprintf(&b, "%s>%s #%d due %s", p.link.From, p.link.To, p.seq, rel(p.due))
					if !p.release.IsZero() {
						fmt.Fprintf(&b, " released %s", rel(p.release))
					}
					b.WriteString("\n")
					s.done(p.link)
				}
				for _, p := range dropped {
					fmt.Fprintf(&b, "%s>%s #%d dropped: partition\n", p.link.From, p.link.To, p.seq)
				}
				if nx, ok := s.next(); ok {
					fmt.Fprintf(&b, "next %s", rel(nx))
				} else {
					b.WriteString("idle")
				}
				if s.nheld > 0 {
					fmt.Fprintf(&b, ", %d held", s.nheld)
				}
				return b.String()
			case "clog":
				s.clog(arg(td, "from"), arg(td, "to"))
				return "ok"
			case "unclog":
				s.unclog(at(td), arg(td, "from"), arg(td, "to"))
				return "ok"
			case "partition":
				var groups [][]string
				for _, g := range strings.Split(arg(td, "groups"), "|") {
					groups = append(groups, strings.Fields(g))
				}
				s.partition(groups)
				return "ok"
			case "oneway":
				s.partitionOneWay(arg(td, "from"), arg(td, "to"))
				return "ok"
			case "heal":
				s.heal()
				return "ok"
			}
			td.Fatalf(t, "unknown command %s", td.Cmd)
			return ""
		})
	})
}
