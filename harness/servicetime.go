package harness

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/replbench/replbench/internal/precise"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/servicetime"
	"github.com/replbench/replbench/results"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// costNodes builds every node's share of the service-time model from its resolved
// replbench.cost_profile (the flavour's built-in profile unless the user chose another, or
// none): the profile, a host of its own with the profile's cores, its log devices and its
// innodb_flush_log_at_trx_commit. A node whose profile charges nothing gets nil, which
// costs one nil check per stage. Profiles were validated when the point was resolved.
// The waits run on w (a precise timer in real time, Go's timers under synctest).
func costNodes(ps *PointSpec, w precise.Waiter) ([]*servicetime.Node, error) {
	out := make([]*servicetime.Node, len(ps.Cluster))
	shared := map[string]*servicetime.Host{}
	for i, n := range ps.Cluster {
		if n.Settings == nil {
			continue
		}
		name, ok := n.Settings.Params()[protocols.CostProfileParam]
		if !ok {
			continue
		}
		p, err := servicetime.Load(name)
		if err != nil {
			return nil, err
		}
		host := servicetime.NewHost(p.Host.Cores)
		if p.Host.SharedByNodes {
			if shared[p.Name] == nil {
				shared[p.Name] = host
			}
			host = shared[p.Name]
		}
		node := servicetime.NewNode(p, host, w)
		if node != nil {
			node.FlushAtCommit, _ = strconv.Atoi(n.EngineParams["innodb_flush_log_at_trx_commit"])
			if _, set := n.EngineParams["innodb_flush_log_at_trx_commit"]; !set {
				node.FlushAtCommit = 1
			}
		}
		out[i] = node
	}
	return out, nil
}

// noteServer records in the point which server flavour and cost profile every node ran
// (resolved, so the defaults are named too): "server: n1-n3 flavour mariadb-10.11, cost
// profile galera-4-mariadb-10.11". Nothing for a protocol without flavours.
func noteServer(p *results.Point, ps *PointSpec) {
	type pair struct{ flavor, profile string }
	var order []pair
	nodes := map[pair][]string{}
	for _, n := range ps.Cluster {
		if n.Settings == nil {
			continue
		}
		prm := n.Settings.Params()
		f, ok := prm[protocols.FlavorParam]
		if !ok {
			continue
		}
		k := pair{f, prm[protocols.CostProfileParam]}
		if _, seen := nodes[k]; !seen {
			order = append(order, k)
		}
		nodes[k] = append(nodes[k], n.Name)
	}
	for _, k := range order {
		p.Notes = append(p.Notes, fmt.Sprintf("server: %s flavour %s, cost profile %s", strings.Join(nodes[k], ","), k.flavor, k.profile))
	}
}

// needsCosts reports whether any node of the point charges service time.
func needsCosts(ps *PointSpec) bool {
	for _, n := range ps.Cluster {
		if n.Settings == nil {
			continue
		}
		if name, ok := n.Settings.Params()[protocols.CostProfileParam]; ok && name != servicetime.None {
			return true
		}
	}
	return false
}

// costDB charges what a client's statements cost a real server: the client-server round
// trip (latency) and the statement's CPU by kind on the node's host. The commit path's own
// stages (certification, engine commit, redo flush, ...) are the provider's to charge.
type costDB struct {
	inner workloads.DB
	n     *servicetime.Node
}

func withCosts(db workloads.DB, n *servicetime.Node) workloads.DB {
	if n == nil {
		return db
	}
	return costDB{db, n}
}

func (d costDB) Node() string        { return d.inner.Node() }
func (d costDB) Begin() workloads.Tx { return &costTx{inner: d.inner.Begin(), n: d.n} }

type costTx struct {
	inner      workloads.Tx
	n          *servicetime.Node
	autocommit bool
	began      bool
}

// stmt charges one statement whose real work (run) has already been done from start: the
// round trip, then its CPU, both booked from start, so the in-memory engine's own work
// overlaps them and the statement takes max(modelled, actual) rather than their sum. A
// statement of a transaction that is not autocommit first pays its BEGIN.
func (t *costTx) stmt(ctx context.Context, start time.Time, k servicetime.Kind, reads, writes int) {
	if !t.autocommit && !t.began {
		t.began = true
		t.charge(ctx, t.n.Start(), servicetime.Other, 0, 0)
		start = t.n.Start()
	}
	t.charge(ctx, start, k, reads, writes)
}

func (t *costTx) charge(ctx context.Context, start time.Time, k servicetime.Kind, reads, writes int) {
	rtt := servicetime.Us(t.n.P.Client.StatementRTTUs)
	_ = t.n.Statement(ctx, start.Add(rtt), k, reads, writes, false)
}

func (t *costTx) SetAutocommit(on bool) { t.autocommit = on; t.inner.SetAutocommit(on) }
func (t *costTx) Get(ctx context.Context, table string, pk ...storage.Value) (storage.Row, error) {
	start := t.n.Start()
	r, err := t.inner.Get(ctx, table, pk...)
	t.stmt(ctx, start, servicetime.Select, 1, 0)
	return r, err
}
func (t *costTx) GetForUpdate(ctx context.Context, table string, pk ...storage.Value) (storage.Row, error) {
	start := t.n.Start()
	r, err := t.inner.GetForUpdate(ctx, table, pk...)
	t.stmt(ctx, start, servicetime.Select, 1, 0)
	return r, err
}
func (t *costTx) Scan(ctx context.Context, table string, opt storage.ScanOptions, fn func(storage.Row) bool) error {
	rows := 0
	start := t.n.Start()
	err := t.inner.Scan(ctx, table, opt, func(r storage.Row) bool { rows++; return fn(r) })
	t.stmt(ctx, start, servicetime.Select, rows, 0)
	return err
}
func (t *costTx) Insert(ctx context.Context, table string, row storage.Row) (int64, error) {
	start := t.n.Start()
	id, err := t.inner.Insert(ctx, table, row)
	t.stmt(ctx, start, servicetime.Insert, 0, 1)
	return id, err
}
func (t *costTx) Update(ctx context.Context, table string, row storage.Row) error {
	start := t.n.Start()
	err := t.inner.Update(ctx, table, row)
	t.stmt(ctx, start, servicetime.Update, 1, 1)
	return err
}
func (t *costTx) Delete(ctx context.Context, table string, pk ...storage.Value) (bool, error) {
	start := t.n.Start()
	ok, err := t.inner.Delete(ctx, table, pk...)
	t.stmt(ctx, start, servicetime.Delete, 1, 1)
	return ok, err
}

// Commit charges the COMMIT statement of a transaction that is not autocommit (an
// autocommit statement's commit is part of the statement), then runs the commit path.
func (t *costTx) Commit(ctx context.Context) error {
	if !t.autocommit && t.began {
		t.charge(ctx, t.n.Start(), servicetime.Other, 0, 0)
	}
	return t.inner.Commit(ctx)
}
func (t *costTx) Rollback() { t.inner.Rollback() }

// Unwrap exposes the wrapped transaction (workloads.CommitID looks through wrappers).
func (t *costTx) Unwrap() workloads.Tx { return t.inner }

// costProfileOf names the cost profile a point's nodes run ("none" when the protocol has
// no flavours or the profile is off; several joined when nodes differ).
func costProfileOf(ps *PointSpec) string {
	var names []string
	for _, n := range ps.Cluster {
		name := servicetime.None
		if n.Settings != nil {
			if v, ok := n.Settings.Params()[protocols.CostProfileParam]; ok && v != "" {
				name = v
			}
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return strings.Join(names, "+")
}

// mixedProfileWarnings warns when a run puts protocols side by side that charge different
// server costs: a protocol whose flavour has a measured profile pays statement, commit and
// fsync time that one without a profile does not, so on a LAN their difference is mostly
// the profiles, not the protocols. byProtocol maps each protocol to the profiles its points ran.
func mixedProfileWarnings(byProtocol map[string][]string) []string {
	profiles := map[string][]string{}
	for proto, ps := range byProtocol {
		key := strings.Join(ps, ", ")
		profiles[key] = append(profiles[key], proto)
	}
	if len(profiles) < 2 {
		return nil
	}
	var parts []string
	for _, key := range slices.Sorted(maps.Keys(profiles)) {
		protos := profiles[key]
		slices.Sort(protos)
		parts = append(parts, strings.Join(protos, ", ")+": "+key)
	}
	return []string{"warning: the protocols compared run different cost profiles (" + strings.Join(parts, "; ") +
		"), so their figures differ by the server costs modelled as well as by the protocols; " +
		"--cost-profile none compares the protocols alone, --cost-profile NAME|FILE gives every node the same server"}
}
