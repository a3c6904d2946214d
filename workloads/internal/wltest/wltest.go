// Package wltest holds what every workload's tests do: open a node (the real storage
// engine, in memory, no replicator), create a workload's schema, load it, run clients with
// the harness's retry rule, and compare checksums.
package wltest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// Node is one node of a test: a DB plus what the harness does to a node around a run.
type Node interface {
	workloads.DB
	CreateTable(storage.TableSchema) error
	Checksums() (map[string]uint64, error)
	SetAutoIncrement(increment, offset int)
}

// Backend opens nodes of one kind.
type Backend struct {
	Name string
	Open func(t testing.TB, node string) Node
}

// Backends returns the backends workload tests run on: the Pebble storage engine, in
// memory, with no replicator.
func Backends(t testing.TB) []Backend {
	return []Backend{{Name: "storage", Open: openEngine}}
}

type engineNode struct {
	workloads.DB
	e *storage.Engine
}

func (n engineNode) CreateTable(s storage.TableSchema) error { return n.e.CreateTable(s) }
func (n engineNode) Checksums() (map[string]uint64, error)   { return n.e.Checksums() }
func (n engineNode) SetAutoIncrement(inc, off int)           { n.e.SetAutoIncrement(inc, off) }

func openEngine(t testing.TB, node string) Node {
	e, err := storage.Open(storage.Options{Node: node})
	if err != nil {
		t.Fatalf("open engine %s: %v", node, err)
	}
	t.Cleanup(func() { e.Close() })
	return engineNode{workloads.OnEngine(e), e}
}

// Create creates impl's tables on n.
func Create(t testing.TB, impl workloads.Workload, n Node) {
	t.Helper()
	for _, s := range impl.Tables() {
		if err := n.CreateTable(s); err != nil {
			t.Fatalf("create %s: %v", s.Name, err)
		}
	}
}

// Load creates and loads impl's tables on n and returns the checksums.
func Load(t testing.TB, impl workloads.Workload, n Node) map[string]uint64 {
	t.Helper()
	Create(t, impl, n)
	var last, total int64
	if err := impl.Load(context.Background(), n, func(d, tot int64) { last, total = d, tot }); err != nil {
		t.Fatalf("load %s: %v", impl.Name(), err)
	}
	if total > 0 && last != total {
		t.Fatalf("load %s: progress ended at %d of %d", impl.Name(), last, total)
	}
	sums, err := n.Checksums()
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

// Outcome is what a run of clients did.
type Outcome struct {
	Committed map[string]int64 // by transaction type
	Aborted   map[protocols.Cause]int64
	Retries   int64
}

// Run runs clients concurrent clients of impl on db, txs transactions each, retrying a
// Retryable error up to 10 times with the same parameters as the harness does. An error of
// a cause not in allowed fails the test.
func Run(t testing.TB, impl workloads.Workload, db workloads.DB, clients, txs int, seed uint64, allowed ...protocols.Cause) Outcome {
	t.Helper()
	out := Outcome{Committed: map[string]int64{}, Aborted: map[protocols.Cause]int64{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for id := 0; id < clients; id++ {
		c := impl.NewClient(id, rand.New(rand.NewPCG(seed, uint64(id))))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < txs; i++ {
				typ, err := c.Next(context.Background(), db, false)
				for r := 0; err != nil && protocols.Retryable(err) && r < 10; r++ {
					mu.Lock()
					out.Retries++
					mu.Unlock()
					typ, err = c.Next(context.Background(), db, true)
				}
				mu.Lock()
				if err == nil {
					out.Committed[typ]++
				} else {
					cause := protocols.Classify(err)
					out.Aborted[cause]++
					ok := false
					for _, a := range allowed {
						ok = ok || a == cause
					}
					if !ok {
						mu.Unlock()
						errs <- fmt.Errorf("client %d tx %d (%s): unexpected %v", id, i, typ, err)
						return
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if err := errors.Join(all...); err != nil {
		t.Fatal(err)
	}
	return out
}

// Check runs impl's checks on the nodes and fails the test on a failed check.
func Check(t testing.TB, impl workloads.Workload, nodes ...workloads.DB) map[string]bool {
	t.Helper()
	res, err := impl.Check(context.Background(), nodes)
	if err != nil {
		t.Fatalf("check %s: %v", impl.Name(), err)
	}
	if len(res) == 0 {
		t.Fatalf("check %s: no checks ran", impl.Name())
	}
	for name, ok := range res {
		if !ok {
			t.Errorf("check %s: %s failed", impl.Name(), name)
		}
	}
	return res
}
