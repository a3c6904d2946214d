package target

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads/sqldb"
)

// Probes are the single-node measurements a service-time calibration reads (issue 11):
// each is one kind of work repeated by c clients for a while on one node, through the same
// driver the benchmark uses, so what is measured is what a benchmark client pays.
const (
	ProbePing        = "ping"         // COM_PING: the client round trip and protocol cost alone
	ProbePointSelect = "point_select" // autocommit SELECT by primary key
	ProbeInsert      = "insert"       // autocommit INSERT, auto-increment id
	ProbeUpdate      = "update"       // autocommit UPDATE of a non-indexed column by primary key
	ProbeCommit      = "commit"       // BEGIN; UPDATE by primary key; COMMIT
)

// ProbeKinds lists the probes.
var ProbeKinds = []string{ProbePing, ProbePointSelect, ProbeInsert, ProbeUpdate, ProbeCommit}

// ProbeTable is the table the probes use; ProbeRows rows are loaded before the point
// selects and updates, which pick rows uniformly.
var ProbeTable = storage.TableSchema{
	Name: "rb_probe",
	Columns: []storage.Column{
		{Name: "id", Type: storage.Int, AutoIncrement: true},
		{Name: "k", Type: storage.Int},
		{Name: "c", Type: storage.String, Size: 120},
	},
	PrimaryKey: []int{0},
}

// ProbeRows is how many rows the probe table starts with.
const ProbeRows = 10000

// ProbeResult is one probe at one concurrency.
type ProbeResult struct {
	Node       string                  `json:"node"`
	Kind       string                  `json:"kind"`
	Clients    int                     `json:"clients"`
	Ops        int                     `json:"ops"`
	Elapsed    time.Duration           `json:"elapsed_ns"`
	Throughput float64                 `json:"ops_per_sec"`
	Mean       time.Duration           `json:"mean_ns"`
	P50        time.Duration           `json:"p50_ns"`
	P95        time.Duration           `json:"p95_ns"`
	P99        time.Duration           `json:"p99_ns"`
	Errors     map[protocols.Cause]int `json:"errors,omitempty"`
}

func (r ProbeResult) String() string {
	us := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/1e3) }
	return fmt.Sprintf("%-4s %-13s c=%-3d %8.0f ops/s  mean %6sus  p50 %6sus  p95 %6sus  p99 %6sus  (%d ops, errors %v)",
		r.Node, r.Kind, r.Clients, r.Throughput, us(r.Mean), us(r.P50), us(r.P95), us(r.P99), r.Ops, r.Errors)
}

// PrepareProbe creates and fills the probe table on node (any node of a cluster works; the
// rows replicate). The Target must have been connected with ProbeTable among its tables.
func (t *Target) PrepareProbe(ctx context.Context, node string) error {
	n := t.Node(node)
	if n == nil {
		return fmt.Errorf("probe: no node %s", node)
	}
	if err := n.CreateTables(ctx, true); err != nil {
		return err
	}
	c, err := n.Loader(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	tx := c.Begin()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := int64(1); i <= ProbeRows; i++ {
		if _, err := tx.Insert(ctx, ProbeTable.Name, storage.Row{i, rng.Int64N(ProbeRows), probeValue(rng)}); err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	return t.WaitAppliers(ctx, time.Minute)
}

func probeValue(rng *rand.Rand) string {
	b := make([]byte, 119)
	for i := range b {
		b[i] = byte('0' + rng.IntN(10))
	}
	return string(b)
}

// Probe runs one probe with clients connections on node for d.
func (t *Target) Probe(ctx context.Context, node, kind string, clients int, d time.Duration) (ProbeResult, error) {
	res := ProbeResult{Node: node, Kind: kind, Clients: clients, Errors: map[protocols.Cause]int{}}
	n := t.Node(node)
	if n == nil {
		return res, fmt.Errorf("probe: no node %s", node)
	}
	if !slices.Contains(ProbeKinds, kind) || clients < 1 || d <= 0 {
		return res, fmt.Errorf("probe %s c=%d d=%v: want a kind among %v, at least one client and a positive duration", kind, clients, d, ProbeKinds)
	}
	cs := make([]*sqldb.Client, clients)
	for i := range cs {
		c, err := n.Client(ctx)
		if err != nil {
			return res, err
		}
		defer c.Close()
		cs[i] = c
	}
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(d)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			var lat []time.Duration
			errs := map[protocols.Cause]int{}
			for time.Now().Before(stop) && ctx.Err() == nil {
				t0 := time.Now()
				if err := probeOnce(ctx, c, kind, rng); err != nil {
					errs[protocols.Classify(err)]++
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			for k, v := range errs {
				res.Errors[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Ops = len(all)
	if len(all) == 0 {
		return res, fmt.Errorf("probe %s on %s: nothing completed (errors %v)", kind, node, res.Errors)
	}
	slices.Sort(all)
	var sum time.Duration
	for _, l := range all {
		sum += l
	}
	res.Throughput = float64(len(all)) / res.Elapsed.Seconds()
	res.Mean = sum / time.Duration(len(all))
	q := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	res.P50, res.P95, res.P99 = q(0.50), q(0.95), q(0.99)
	return res, ctx.Err()
}

func probeOnce(ctx context.Context, c *sqldb.Client, kind string, rng *rand.Rand) error {
	id := 1 + rng.Int64N(ProbeRows)
	tx := c.Begin()
	switch kind {
	case ProbePing:
		return c.Ping(ctx)
	case ProbePointSelect:
		tx.SetAutocommit(true)
		_, err := tx.Get(ctx, ProbeTable.Name, id)
		tx.Rollback()
		return err
	case ProbeInsert:
		tx.SetAutocommit(true)
		_, err := tx.Insert(ctx, ProbeTable.Name, storage.Row{nil, id, probeValue(rng)})
		if err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit(ctx)
	case ProbeUpdate, ProbeCommit:
		tx.SetAutocommit(kind == ProbeUpdate)
		err := tx.Update(ctx, ProbeTable.Name, storage.Row{id, rng.Int64N(ProbeRows), probeValue(rng)})
		if err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit(ctx)
	}
	return nil
}
