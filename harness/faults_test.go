package harness

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/workloads"
)

// The --fault syntax: every event parses to what it says and prints back to the same text,
// and every malformed one is refused with one line naming the problem.
func TestParseFault(t *testing.T) {
	good := []struct{ in, canon, applied string }{
		{"5s:partition=n1,n2|n3", "5s:partition=n1,n2|n3", "5.000s partition n1,n2|n3"},
		{"1.5s:partition=n1|n2|n3", "1.5s:partition=n1|n2|n3", "1.500s partition n1|n2|n3"},
		{"2s:oneway=n1>n3", "2s:oneway=n1>n3", "2.000s oneway n1>n3"},
		{"10s:heal", "10s:heal", "10.000s heal"},
		{"0s:clog=n1>n2", "0s:clog=n1>n2", "0.000s clog n1>n2"},
		{"3s:clog=n1-n2", "3s:clog=n1-n2", "3.000s clog n1-n2"},
		{"4s:unclog=n2-n1", "4s:unclog=n2-n1", "4.000s unclog n2-n1"},
		{"1s:delay=n3=50ms", "1s:delay=n3=50ms", "1.000s delay n3=50ms"},
		{"1s:link=n1-n2=40ms", "1s:link=n1-n2=40ms", "1.000s link n1-n2=40ms"},
		{"1s:link=n1>n2=40ms", "1s:link=n1>n2=40ms", "1.000s link n1>n2=40ms"},
		{"1s:loss=5%", "1s:loss=0.05", "1.000s loss 0.05"},
	}
	for _, g := range good {
		f, err := ParseFault(g.in)
		if err != nil {
			t.Errorf("%s: %v", g.in, err)
			continue
		}
		if f.String() != g.canon {
			t.Errorf("%s: prints as %s, want %s", g.in, f, g.canon)
		}
		if a := f.Applied(f.At); a != g.applied {
			t.Errorf("%s: recorded as %q, want %q", g.in, a, g.applied)
		}
		again, err := ParseFault(f.String())
		if err != nil || again.String() != f.String() {
			t.Errorf("%s: does not round-trip: %v %v", g.in, again, err)
		}
	}
	bad := []struct{ in, want string }{
		{"heal", "expected AT:EVENT"},
		{"x:heal", "bad time"},
		{"-1s:heal", "bad time"},
		{"5:heal", "bad time"},
		{"1s:explode", "unknown fault event"},
		{"1s:heal=n1", "takes no argument"},
		{"1s:partition=n1,n2", "at least two groups"},
		{"1s:partition=n1|n1,n2", "in two groups"},
		{"1s:partition=n1,|n2", "empty node name"},
		{"1s:partition", "needs an argument"},
		{"1s:oneway=n1-n3", "expected FROM>TO"},
		{"1s:clog=n1", "expected A>B"},
		{"1s:clog=n1>n1", "two different"},
		{"1s:delay=n3", "expected NODE=DELAY"},
		{"1s:link=n1-n2", "missing '='"},
		{"1s:loss=2", "out of range"},
		{"1s:loss=100%", "is a partition"},
	}
	for _, b := range bad {
		_, err := ParseFault(b.in)
		if err == nil || !strings.Contains(err.Error(), b.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line containing %q", b.in, err, b.want)
		}
	}
}

// Node names and times are checked against each point's cluster and run length before
// anything runs, and the error names the flag.
func TestExpandChecksFaults(t *testing.T) {
	base := func() *Scenario {
		return &Scenario{Name: "f", Protocol: "semisync", Workload: WorkloadSpec{Name: "insert"}, Duration: Duration(10 * time.Second)}
	}
	cases := []struct {
		fault, want string
	}{
		{"1s:partition=n1,n2|n4", "--fault: fault 1s:partition=n1,n2|n4: unknown node n4"},
		{"1s:delay=n9=5ms", "unknown node n9"},
		{"10s:heal", "bad time 10s"},
		{"12s:heal", "bad time 12s"},
	}
	for _, c := range cases {
		s := base()
		f, err := ParseFault(c.fault)
		if err != nil {
			t.Fatal(err)
		}
		s.Apply(Overrides{Faults: []FaultEvent{f}})
		_, err = Expand(s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.fault, err, c.want)
		}
	}
	// A run of a number of queries has no known end: any time is accepted.
	s := base()
	s.Duration, s.Queries = 0, 100
	f, _ := ParseFault("1h:heal")
	s.Faults = []FaultEvent{f}
	if _, err := Expand(s); err != nil {
		t.Errorf("a timed fault on a --queries run: %v", err)
	}
	// The points carry the timeline sorted by time, equal times in the order written.
	s = base()
	for _, v := range []string{"6s:heal", "2s:partition=n1,n2|n3", "6s:partition=n1|n2,n3"} {
		f, _ := ParseFault(v)
		s.Faults = append(s.Faults, f)
	}
	pts, err := Expand(s)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range pts[0].Faults {
		got = append(got, f.String())
	}
	if want := "2s:partition=n1,n2|n3 6s:heal 6s:partition=n1|n2,n3"; strings.Join(got, " ") != want {
		t.Errorf("timeline %v, want %s", got, want)
	}
}

// A scenario file's faults: list reads the same syntax, with the line of a bad entry.
func TestScenarioFaultsYAML(t *testing.T) {
	s, err := ParseScenario("f.yaml", []byte("name: f\nprotocol: galera\nworkload: {name: insert}\nduration: 5s\nfaults:\n  - 1s:partition=n1,n2|n3\n  - 3s:heal\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Faults) != 2 || s.Faults[0].Kind != FaultPartition || s.Faults[1].At != 3*time.Second {
		t.Fatalf("faults %+v", s.Faults)
	}
	y, err := s.Marshal()
	if err != nil || !strings.Contains(string(y), "- 1s:partition=n1,n2|n3") {
		t.Errorf("scenario.yaml does not replay the faults: %v\n%s", err, y)
	}
	_, err = ParseScenario("f.yaml", []byte("name: f\nfaults:\n  - 1s:partition=n1\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "f.yaml:3: ") {
		t.Errorf("bad fault: %v, want f.yaml:3: ...", err)
	}
}

// recorder is a faultTarget that records each call with its virtual time.
type recorder struct {
	mu    sync.Mutex
	start time.Time
	calls []string
	nw    transport.Network
}

func (r *recorder) log(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("%s ", time.Since(r.start))+fmt.Sprintf(format, args...))
}
func (r *recorder) Partition(groups ...[]string)    { r.log("partition %v", groups) }
func (r *recorder) PartitionOneWay(from, to string) { r.log("oneway %s>%s", from, to) }
func (r *recorder) Clog(from, to string)            { r.log("clog %s>%s", from, to) }
func (r *recorder) Unclog(from, to string)          { r.log("unclog %s>%s", from, to) }
func (r *recorder) Heal()                           { r.log("heal") }
func (r *recorder) Network() transport.Network      { return r.nw.Clone() }
func (r *recorder) SetNetwork(nw transport.Network) {
	r.nw = nw
	r.log("network egress=%v loss=%g links=%d", nw.Egress, nw.Loss, len(nw.Links))
}

// In virtual time, each event fires exactly at its time from the start of the phase, in
// order; events after the phase ends never fire and are returned as pending; the timeline
// reports whether a cut is still in force for the harness to heal before convergence.
func TestTimelineFiresOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var evs []FaultEvent
		for _, v := range []string{"1s:partition=n1,n2|n3", "1500ms:clog=n1-n2", "2s:delay=n3=50ms", "2s:link=n1>n2=5ms", "2500ms:loss=1%", "3s:heal", "4s:oneway=n1>n3", "9s:heal"} {
			f, err := ParseFault(v)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, f)
		}
		r := &recorder{start: time.Now()}
		var announced []string
		tl := startTimeline(evs, r, r.start, func(at time.Duration, f FaultEvent) { announced = append(announced, f.Applied(at)) })
		time.Sleep(5 * time.Second)
		applied, pending, cut := tl.stop()
		want := []string{
			"1s partition [[n1 n2] [n3]]",
			"1.5s clog n1>n2", "1.5s clog n2>n1",
			"2s network egress=map[n3:50ms] loss=0 links=0",
			"2s network egress=map[n3:50ms] loss=0 links=1",
			"2.5s network egress=map[n3:50ms] loss=0.01 links=1",
			"3s heal",
			"4s oneway n1>n3",
		}
		if strings.Join(r.calls, "; ") != strings.Join(want, "; ") {
			t.Errorf("calls\n%s\nwant\n%s", strings.Join(r.calls, "\n"), strings.Join(want, "\n"))
		}
		wantApplied := "1.000s partition n1,n2|n3; 1.500s clog n1-n2; 2.000s delay n3=50ms; 2.000s link n1>n2=5ms; 2.500s loss 0.01; 3.000s heal; 4.000s oneway n1>n3"
		if strings.Join(applied, "; ") != wantApplied || strings.Join(announced, "; ") != wantApplied {
			t.Errorf("recorded %q\nannounced %q\nwant %q", applied, announced, wantApplied)
		}
		if len(pending) != 1 || pending[0].String() != "9s:heal" {
			t.Errorf("pending %v, want the 9s heal", pending)
		}
		if !cut {
			t.Error("the one-way cut at 4s is in force at the end, but the timeline says none is")
		}
	})
}

// blockingClient commits its first n transactions in service time each and then blocks in
// its next one until its context ends (a commit waiting for a quorum that never comes), or
// for ever when deaf (a provider that ignores cancellation).
type blockingClient struct {
	n       int
	service time.Duration
	deaf    bool
	forever chan struct{}
}

func (b *blockingClient) Next(ctx context.Context, _ workloads.DB, _ bool) (string, error) {
	if b.n > 0 {
		b.n--
		time.Sleep(b.service)
		return "t", nil
	}
	if b.deaf {
		<-b.forever
		return "t", nil
	}
	<-ctx.Done()
	return "t", ctx.Err()
}

// A phase whose clients stop making progress ends one stall bound after the last finished
// transaction, with the stuck clients counted per node; the cancelled transactions are
// neither commits nor aborts; clients that ignore the cancellation are abandoned after the
// grace period rather than waited for. A phase that makes progress, however slowly, never
// trips the watchdog.
func TestPhaseEndsOnStall(t *testing.T) {
	for _, deaf := range []bool{false, true} {
		t.Run(fmt.Sprintf("deaf=%v", deaf), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				forever := make(chan struct{})
				defer close(forever)
				mk := func(id int, node string, n int) *client {
					return &client{id: id, node: node, wl: &blockingClient{n: n, service: 100 * time.Millisecond, deaf: deaf, forever: forever}, stats: newClientStats()}
				}
				cs := []*client{mk(0, "n1", 10), mk(1, "n2", 20), mk(2, "n1", 5)}
				start := time.Now()
				r := runPhase(context.Background(), cs, load{queries: 300, stall: 3 * time.Second})
				took := time.Since(start)
				if !r.stalled || r.stuck["n1"] != 2 || r.stuck["n2"] != 1 {
					t.Fatalf("stalled %v stuck %v, want stalled with 2 on n1 and 1 on n2", r.stalled, r.stuck)
				}
				// The last transaction finished at 20 x 100 ms; the watchdog checks every
				// bound/20 = 150 ms, so it gives up between 3 s and 3.15 s later.
				if r.elapsed != 2*time.Second {
					t.Errorf("elapsed %s, want 2s (up to the last finished transaction)", r.elapsed)
				}
				wantTook := 5 * time.Second
				if deaf {
					wantTook += min(abandonGrace, 3*time.Second)
					if r.abandoned != 3 {
						t.Errorf("abandoned %d, want 3", r.abandoned)
					}
				} else if r.abandoned != 0 {
					t.Errorf("abandoned %d, want 0", r.abandoned)
				}
				if took < wantTook || took > wantTook+200*time.Millisecond {
					t.Errorf("the phase took %s, want %s plus at most one watchdog tick", took, wantTook)
				}
				p := pointOf(cs)
				if p.Committed != 35 || p.TotalAborts() != 0 {
					t.Errorf("committed %d aborts %v, want 35 and none", p.Committed, p.Aborts)
				}
			})
		})
	}
	t.Run("slow but moving", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := &client{node: "n1", wl: &fakeClient{service: []time.Duration{2 * time.Second}}, stats: newClientStats()}
			r := runPhase(context.Background(), []*client{c}, load{queries: 5, stall: 3 * time.Second})
			if r.stalled || r.elapsed != 10*time.Second {
				t.Errorf("stalled %v elapsed %s, want a 10 s phase and no stall", r.stalled, r.elapsed)
			}
		})
	})
}
