package law

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/galera"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/prototest"
	"github.com/replbench/replbench/protocols/servicetime"
	"github.com/replbench/replbench/protocols/transport"
)

// galeraRun runs threads clients on the first member of a virtual-time Galera cluster (the
// real provider over the emulator, profile none), each committing a row of its own and
// waiting think before the next, and returns the commits completed in [warm, warm+span).
func galeraRun(t *testing.T, net transport.Network, members []string, nodes []Node, threads int, think, warm, span time.Duration) int {
	t.Helper()
	return providerRun(t, galera.New, net, members, nodes, threads, think, warm, span)
}

// providerRun is galeraRun for any protocol's provider (newProvider builds one member's):
// threads clients on the first member, each committing a row of its own and waiting think
// before the next; it returns the commits completed in [warm, warm+span).
func providerRun(t *testing.T, newProvider func(protocols.Config) (protocols.Provider, error), net transport.Network, members []string, nodes []Node, threads int, think, warm, span time.Duration) int {
	t.Helper()
	var done int
	synctest.Test(t, func(t *testing.T) {
		em := transport.NewEmulator(transport.NewMemBus(), net, transport.EmulatorOptions{Seed: 1, Virtual: true})
		defer em.Close()
		var provs []protocols.Provider
		for i, n := range members {
			ep, err := em.Attach(n)
			if err != nil {
				t.Fatal(err)
			}
			pv, err := newProvider(protocols.Config{Node: n, Members: members, Endpoint: ep, Applier: nullApplier{}, Settings: nodes[i].Settings, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			provs = append(provs, pv)
		}
		defer prototest.CloseAll(provs)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := prototest.StartAll(ctx, provs); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var mu sync.Mutex
		var wg sync.WaitGroup
		for th := range threads {
			wg.Go(func() {
				for i := 0; ; i++ {
					row := fmt.Sprintf("%d-%d", th, i)
					ws := &protocols.WriteSet{
						Keys: []protocols.Key{{Table: "t", Row: []byte(row), Type: protocols.KeyExclusive}},
						Rows: []protocols.RowChange{{Table: "t", Op: protocols.OpUpdate, Row: []byte(row), After: []byte("v")}},
					}
					cm, err := provs[0].Replicate(context.Background(), ws)
					if err == nil {
						err = cm.Apply(context.Background(), func() error { return nil })
					}
					if err != nil {
						t.Error(err)
						return
					}
					at := time.Since(start)
					if at >= warm+span {
						return
					}
					if at >= warm {
						mu.Lock()
						done++
						mu.Unlock()
					}
					time.Sleep(think)
				}
			})
		}
		wg.Wait()
	})
	return done
}

// The Galera window rule as the bound states it, against the Galera provider itself in
// virtual time (its EVS with its own keepalives and gap messages, certification and commit
// order, over the emulator): 8 clients on n1 over evs.user_send_window=2, each waiting the
// commit-path time T after its commit, and the bound read with a profile whose whole local
// path is T. The provider never beats the bound; with the delay on the writer and T below
// half a round trip it reaches the window rule's figure (within 3 %), below threads/floor;
// with the delay on a non-writer the bound is threads/floor, and the provider's own
// traffic can cost more there (the derivation says so), so only the bound is checked.
func TestGaleraWindowRuleAgainstTheProvider(t *testing.T) {
	const threads = 8
	ms := time.Millisecond
	for _, c := range []struct {
		name      string
		preset    string
		mods      []func(*transport.Network)
		writerFar bool
	}{
		{"delay on the writer", "wan-50", nil, true},
		{"delay on a non-writer", "lan", []func(*transport.Network){egress("n3", 50*ms)}, false},
	} {
		for _, T := range []time.Duration{ms, 12500 * time.Microsecond} {
			t.Run(fmt.Sprintf("%s/T=%v", c.name, T), func(t *testing.T) {
				net, members := nw(t, c.preset, 3, c.mods...)
				f := commitPathProfile(t, T)
				e, err := Explain(Input{Network: net, Members: members, Protocol: "galera", Nodes: resolved(t, "galera", members, map[string]string{protocols.CostProfileParam: f}, nil), Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				floor := time.Duration(e.Bound.CommitFloorMs * float64(ms))
				// The provider runs with profile none: the clients' sleep is the commit path.
				nodes := resolved(t, "galera", members, nil, nil)
				span := 100 * floor
				n := galeraRun(t, net, members, nodes, threads, T, 10*floor, span)
				tps := float64(n) / span.Seconds()
				t.Logf("%d commits in %v: %.1f tps = %.3f of the bound %.1f (%s); threads/floor %.1f", n, span, tps, tps/e.Bound.MaxTPS, e.Bound.MaxTPS, e.Bound.Limit, threads/floor.Seconds())
				if tps > e.Bound.MaxTPS*1.02 {
					t.Fatalf("the provider reached %.1f tps, above the bound %.1f (%s)", tps, e.Bound.MaxTPS, e.Throughput)
				}
				if c.writerFar {
					if e.Bound.Limit != "pipeline" {
						t.Fatalf("limit %s, want pipeline: %s", e.Bound.Limit, e.Throughput)
					}
					if tps < 0.97*e.Bound.MaxTPS {
						t.Fatalf("the provider reached %.1f tps, more than 3 %% below the window rule's %.1f", tps, e.Bound.MaxTPS)
					}
				}
			})
		}
	}
}

// commitPathProfile writes a cost profile whose whole local commit path is T (charged as the
// client's statement round trip) and returns its file, for the window-rule tests that vary T.
func commitPathProfile(t *testing.T, T time.Duration) string {
	t.Helper()
	p := &servicetime.Profile{Name: "commit-path", Host: servicetime.HostCosts{Cores: 2}}
	p.Client.StatementRTTUs = float64(T.Microseconds())
	data, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "commit-path.yaml")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}
