package galera

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/galera/gcs"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
)

// fakeApplier records applied write-sets; it stands in for storage where only the
// protocol's timing matters.
type fakeApplier struct {
	delay   time.Duration // a slow node's apply time per write-set
	prepare time.Duration // the engine's own work to apply a write-set's rows
	mu      sync.Mutex
	applied []int64
	incr    [2]int
}

func (f *fakeApplier) PrepareApply(ctx context.Context, ws *protocols.WriteSet) (protocols.Applied, error) {
	if f.prepare > 0 {
		time.Sleep(f.prepare)
	}
	return &fakeApplied{f: f, seqno: ws.Seqno}, nil
}
func (f *fakeApplier) SetAutoIncrement(i, o int)             { f.incr = [2]int{i, o} }
func (f *fakeApplier) Checksums() (map[string]uint64, error) { return nil, nil }
func (f *fakeApplier) Snapshot(io.Writer) error              { return nil }
func (f *fakeApplier) Restore(io.Reader) error               { return nil }

type fakeApplied struct {
	f     *fakeApplier
	seqno int64
}

func (a *fakeApplied) Commit() error {
	if a.f.delay > 0 {
		time.Sleep(a.f.delay)
	}
	a.f.mu.Lock()
	a.f.applied = append(a.f.applied, a.seqno)
	a.f.mu.Unlock()
	return nil
}
func (a *fakeApplied) Abort() {}

// testSettings resolves a node's parameters as the harness does (protocols.Protocol.Resolve).
func testSettings(t testing.TB, params map[string]string) *Settings {
	t.Helper()
	s, err := protocols.ResolveSettings(Params, ParseSettings, params)
	if err != nil {
		t.Fatal(err)
	}
	return s.(*Settings)
}

type vcluster struct {
	em   *transport.Emulator
	ps   []*Provider
	aps  []*fakeApplier
	name []string
}

// newVCluster starts n providers over the in-memory bus and the emulator in virtual mode.
// Call inside a synctest bubble; close with c.close().
func newVCluster(t *testing.T, n int, nw transport.Network, params map[string]string) *vcluster {
	t.Helper()
	c := &vcluster{em: transport.NewEmulator(transport.NewMemBus(), nw, transport.EmulatorOptions{Virtual: true, Seed: 1})}
	for i := range n {
		c.name = append(c.name, fmt.Sprintf("n%d", i+1))
	}
	for _, node := range c.name {
		ep, err := c.em.Attach(node)
		if err != nil {
			t.Fatal(err)
		}
		ap := &fakeApplier{}
		pr, err := New(protocols.Config{Node: node, Members: c.name, Endpoint: ep, Applier: ap, Settings: testSettings(t, params)})
		if err != nil {
			t.Fatal(err)
		}
		c.ps = append(c.ps, pr.(*Provider))
		c.aps = append(c.aps, ap)
	}
	for _, p := range c.ps {
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (c *vcluster) close() {
	for _, p := range c.ps {
		p.Close()
	}
	c.em.Close()
}

// commitRow replicates and commits a one-row write-set on p.
func commitRow(ctx context.Context, p *Provider, row string) error {
	ws := &protocols.WriteSet{
		Keys: []protocols.Key{{Table: "t", Row: []byte(row), Type: protocols.KeyExclusive}},
		Rows: []protocols.RowChange{{Table: "t", Op: protocols.OpUpdate, Row: []byte(row), After: []byte("v")}},
	}
	c, err := p.Replicate(ctx, ws)
	if err != nil {
		return err
	}
	return c.Apply(ctx, func() error { return nil })
}

func links(node string, members []string, d time.Duration) map[transport.Link]time.Duration {
	m := map[transport.Link]time.Duration{}
	for _, o := range members {
		if o != node {
			m[transport.Link{From: node, To: o}] = d
			m[transport.Link{From: o, To: node}] = d
		}
	}
	return m
}

func within(t *testing.T, what string, got, want time.Duration, tol float64) {
	t.Helper()
	if d := float64(got - want); d > tol*float64(want) || -d > tol*float64(want) {
		t.Fatalf("%s: %v, want %v within %.0f%%", what, got, want, tol*100)
	}
	t.Logf("%s: %v (want %v)", what, got, want)
}

// The latency claims, in virtual time: one writer (n1), three nodes, one-way delay
// D on some links; each commit costs the longest path n1 -> i -> j -> n1.
func TestCommitLatencyVirtualTime(t *testing.T) {
	const D = 50 * time.Millisecond
	members := []string{"n1", "n2", "n3"}
	cases := []struct {
		name  string
		links map[transport.Link]time.Duration
		want  time.Duration
	}{
		{"delay D on a non-writer's links: one RTT", links("n3", members, D), 2 * D},
		{"delay D on the writer's links: one RTT", links("n1", members, D), 2 * D},
		{"delay D between the two non-writers: D", map[transport.Link]time.Duration{{From: "n2", To: "n3"}: D, {From: "n3", To: "n2"}: D}, D},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newVCluster(t, 3, transport.Network{Name: "test", Links: tc.links}, nil)
				defer c.close()
				const n = 20
				start := time.Now()
				for i := range n {
					if err := commitRow(context.Background(), c.ps[0], fmt.Sprint(i)); err != nil {
						t.Fatal(err)
					}
				}
				within(t, "per commit", time.Since(start)/n, tc.want, 0.01)
				synctest.Wait()
			})
		})
	}
}

// N client threads on the writer give N commits per RTT while the user send window lets
// each write-set leave at once (N <= evs.user_send_window = 2). Beyond it, write-sets queue
// and leave aggregated when acks open the window, so throughput per RTT keeps growing with
// N but below N. Without aggregation the send window caps it at evs.send_window messages,
// i.e. write-sets, per RTT.
func TestThreadsPerRTT(t *testing.T) {
	const D = 50 * time.Millisecond
	run := func(t *testing.T, threads int, params map[string]string) float64 {
		var perRTT float64
		synctest.Test(t, func(t *testing.T) {
			c := newVCluster(t, 3, transport.Network{Links: links("n3", []string{"n1", "n2", "n3"}, D)}, params)
			defer c.close()
			const rtts = 40
			ctx, cancel := context.WithTimeout(context.Background(), rtts*2*D)
			defer cancel()
			var mu sync.Mutex
			done := 0
			var wg sync.WaitGroup
			for th := range threads {
				wg.Go(func() {
					for i := 0; ctx.Err() == nil; i++ {
						if commitRow(context.Background(), c.ps[0], fmt.Sprintf("%d-%d", th, i)) == nil && ctx.Err() == nil {
							mu.Lock()
							done++
							mu.Unlock()
						}
					}
				})
			}
			wg.Wait()
			perRTT = float64(done) / rtts
		})
		return perRTT
	}
	prev := 0.0
	for _, threads := range []int{1, 2, 4, 16, 64} {
		got := run(t, threads, nil)
		t.Logf("%2d threads: %.2f commits per RTT", threads, got)
		switch {
		case threads <= 2 && (got < 0.95*float64(threads) || got > float64(threads)):
			t.Fatalf("%d threads: %.2f commits per RTT, want %d", threads, got, threads)
		case threads > 2 && (got <= prev || got > float64(threads) || got < float64(threads)/2):
			t.Fatalf("%d threads: %.2f commits per RTT, want more than %.2f (fewer threads) and between N/2 and N", threads, got, prev)
		}
		prev = got
	}
	noAgg := run(t, 16, map[string]string{ParamUseAggregate: "false"})
	t.Logf("16 threads without aggregation: %.2f commits per RTT", noAgg)
	if noAgg > 4.05 {
		t.Fatalf("without aggregation %.2f commits per RTT; evs.send_window=4 allows at most 4", noAgg)
	}
}

// One slow node makes the whole cluster as slow as it: its receive queue passes the
// flow-control limit, its STOP pauses the writer on another node, and the writer's
// throughput falls to the slow node's apply rate.
func TestSlowNodePacesClusterThroughFlowControl(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newVCluster(t, 3, transport.Network{Base: 25 * time.Microsecond}, nil)
		defer c.close()
		const apply = 5 * time.Millisecond
		c.aps[2].delay = apply
		const secs = 10
		ctx, cancel := context.WithTimeout(context.Background(), secs*time.Second)
		defer cancel()
		var mu sync.Mutex
		done := 0
		var wg sync.WaitGroup
		for th := range 16 {
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					if commitRow(context.Background(), c.ps[0], fmt.Sprintf("%d-%d", th, i)) == nil {
						mu.Lock()
						done++
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		rate := float64(done) / secs
		limit := float64(time.Second / apply)
		t.Logf("writer: %.0f commits/s; slow node applies %.0f/s; n3 %s", rate, limit, statusOf(c.ps[2], "wsrep_flow_control_sent", "wsrep_local_recv_queue_avg"))
		t.Logf("n1 %s", statusOf(c.ps[0], "wsrep_flow_control_recv", "wsrep_flow_control_paused"))
		if rate > 1.1*limit {
			t.Fatalf("writer ran at %.0f/s, faster than the slow node can apply (%.0f/s)", rate, limit)
		}
		if rate < 0.8*limit {
			t.Fatalf("writer ran at %.0f/s, well below the slow node's rate %.0f/s", rate, limit)
		}
		if statusOf(c.ps[2], "wsrep_flow_control_sent") == "wsrep_flow_control_sent=0" {
			t.Fatal("the slow node sent no STOP")
		}
		if statusOf(c.ps[0], "wsrep_flow_control_recv") == "wsrep_flow_control_recv=0" {
			t.Fatal("the writer received no STOP")
		}
	})
}

func statusOf(p *Provider, names ...string) string {
	out := ""
	for _, v := range p.Status() {
		for _, n := range names {
			if v.Name == n {
				if out != "" {
					out += " "
				}
				out += n + "=" + v.Value
			}
		}
	}
	return out
}

func TestFlowControlLimitsScaleWithSqrtN(t *testing.T) {
	for _, tc := range []struct {
		n     int
		upper int64
	}{{1, 16}, {2, 23}, {3, 28}, {9, 48}} {
		u, l := gcsLimits(16, 1.0, tc.n, false)
		if u != tc.upper || l != tc.upper {
			t.Fatalf("N=%d: limits [%d, %d], want [%d, %d]", tc.n, l, u, tc.upper, tc.upper)
		}
	}
	if u, l := gcsLimits(16, 0.5, 3, false); u != 28 || l != 14 {
		t.Fatalf("fc_factor 0.5: [%d, %d], want [14, 28]", l, u)
	}
	if u, _ := gcsLimits(16, 1.0, 3, true); u != 16 {
		t.Fatalf("fc_single_primary: upper %d, want 16", u)
	}
}

var gcsLimits = gcs.Limits
