package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replbench/replbench/harness/target"
	"github.com/replbench/replbench/protocols/servicetime"
)

// fakeServer is a prober with fixed mean latencies per probe kind and redo flush setting,
// recording the flush settings it was given.
type fakeServer struct {
	info     serverInfo
	flush    int
	sets     []int
	prepared bool
	meanUs   map[int]map[string]float64 // flush -> kind -> mean at one client
	failAt   string                     // a probe kind that fails
	// For a Galera member: what its wsrep_on=1 sessions add to an insert at one client, and
	// the throughputs of both kinds of session above one client (0: clients/mean).
	wsrepUs         float64
	onOps, offOps   float64
	unreplicatedOps int // probes run in wsrep_on=0 sessions
}

func (f *fakeServer) Describe(context.Context) (serverInfo, error) { return f.info, nil }
func (f *fakeServer) SetFlush(_ context.Context, v int) error {
	f.sets = append(f.sets, v)
	f.flush = v
	return nil
}
func (f *fakeServer) Prepare(context.Context) error { f.prepared = true; return nil }
func (f *fakeServer) Probe(_ context.Context, kind string, clients int, d time.Duration) (target.ProbeResult, error) {
	return f.probe(kind, clients, d, f.wsrepUs, f.onOps)
}
func (f *fakeServer) ProbeUnreplicated(_ context.Context, kind string, clients int, d time.Duration) (target.ProbeResult, error) {
	f.unreplicatedOps++
	return f.probe(kind, clients, d, 0, f.offOps)
}
func (f *fakeServer) probe(kind string, clients int, d time.Duration, addUs, ops float64) (target.ProbeResult, error) {
	if kind == f.failAt {
		return target.ProbeResult{}, errors.New("connection lost")
	}
	base := f.meanUs[f.flush][kind]
	if kind == target.ProbeInsert {
		base += addUs
	}
	mean := time.Duration(base*float64(clients)) * time.Microsecond
	x := float64(clients) / mean.Seconds()
	if clients > 1 && ops > 0 {
		x = ops
	}
	return target.ProbeResult{Node: "n1", Kind: kind, Clients: clients, Ops: 100, Elapsed: d, Mean: mean, Throughput: x}, nil
}

func newFake(flush int) *fakeServer {
	lat := func(ins float64) map[string]float64 {
		return map[string]float64{"ping": 30, "point_select": 80, "insert": ins, "update": 120, "commit": 330}
	}
	return &fakeServer{info: serverInfo{Version: "10.11.19-MariaDB", Flush: flush}, flush: flush,
		meanUs: map[int]map[string]float64{2: lat(100), 1: lat(900)}}
}

// The remote calibration runs every probe at flush=2 and then flush=1, restores the
// server's own setting, and its probes give the profile the local calibration would: the
// statement costs from the flush=2 means less the ping, the redo fsync from the insert's
// difference between the two settings.
func TestProbeServerCalibratesAStandaloneNode(t *testing.T) {
	f := newFake(1)
	ps, note, err := probeServer(context.Background(), f, []int{1, 4}, time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !f.prepared || !slices.Equal(f.sets, []int{2, 1, 1}) {
		t.Fatalf("prepared %v, flush settings %v; want the table prepared and 2, 1, then the server's own 1", f.prepared, f.sets)
	}
	if want := 2 * len(target.ProbeKinds) * 2; len(ps) != want {
		t.Fatalf("%d probes, want %d (kinds x clients x two flush settings)", len(ps), want)
	}
	p, err := servicetime.Calibrate("remote", "standalone", ps, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p.Client.StatementRTTUs != 30 || p.Statement.InsertUs != 70 || p.Statement.UpdateUs != 90 || p.Commit.RedoFsyncUs != 800 {
		t.Fatalf("profile rtt %v insert %v update %v redo fsync %v; want 30, 70, 90, 800", p.Client.StatementRTTUs, p.Statement.InsertUs, p.Statement.UpdateUs, p.Commit.RedoFsyncUs)
	}
	if !strings.Contains(note, "10.11.19-MariaDB") || !strings.Contains(note, "innodb_flush_log_at_trx_commit=1 restored") {
		t.Errorf("note %q does not say what was probed", note)
	}
}

// A server that replicates is refused before anything is changed on it, and a probe that
// fails still leaves the server's flush setting as it was.
func TestProbeServerRefusesAndRestores(t *testing.T) {
	f := newFake(2)
	f.info.Replicating = "wsrep_on=ON: a Galera member"
	_, _, err := probeServer(context.Background(), f, []int{1}, time.Second, io.Discard)
	var r *refusal
	if !errors.As(err, &r) || !strings.Contains(err.Error(), "single standalone node") || len(f.sets) != 0 || f.prepared {
		t.Fatalf("err %v, flush settings %v, prepared %v: want a refusal naming what is accepted and nothing changed", err, f.sets, f.prepared)
	}
	f = newFake(2)
	f.failAt = "update"
	if _, _, err := probeServer(context.Background(), f, []int{1}, time.Second, io.Discard); err == nil || errors.As(err, &r) {
		t.Fatalf("err %v, want the probe's failure (not a refusal)", err)
	}
	if f.flush != 2 {
		t.Fatalf("flush left at %d, want the server's own 2 restored", f.flush)
	}
}

// The certification probe alternates wsrep_on=1 and wsrep_on=0 sessions round after round
// at flush=2 on a one-member cluster and restores the server's flush setting; with the
// standalone probes its rounds give the galera profile: the statement costs of the
// standalone server, certify_us the CPU by the utilisation law at the highest client count
// (2 cores x (1/8000 - 1/10000) s = 50 us), certify_wait_us the rest of the c=1 difference.
func TestProbeCertification(t *testing.T) {
	standalone, _, err := probeServer(context.Background(), newFake(2), []int{1, 4}, time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	g := newFake(1)
	g.info.Replicating, g.info.ClusterSize = "wsrep_on=ON: a Galera member", 1
	g.wsrepUs, g.onOps, g.offOps = 120, 8000, 10000
	var log strings.Builder
	cert, note, err := probeCertification(context.Background(), g, []int{1, 4}, 3, time.Second, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !g.prepared || !slices.Equal(g.sets, []int{2, 1}) || g.unreplicatedOps != 6 || len(cert) != 12 {
		t.Fatalf("prepared %v, flush settings %v, %d unreplicated probes, %d probes; want the table prepared, flush 2 then the server's own 1, 3 rounds x 2 clients each way", g.prepared, g.sets, g.unreplicatedOps, len(cert))
	}
	if !strings.Contains(log.String(), "== galera wsrep_on=0 round=3 flush=2") || !strings.Contains(note, "3 rounds") {
		t.Errorf("log %q / note %q do not name the rounds", log.String(), note)
	}
	// The probe lines read back as calibrate --from reads them.
	again, err := servicetime.ParseProbes(strings.NewReader(log.String()))
	if err != nil || len(again) != len(cert) {
		t.Fatalf("the printed rounds parse to %d probes (%v), want %d", len(again), err, len(cert))
	}
	p, err := servicetime.Calibrate("g", "galera", append(standalone, again...), 2)
	if err != nil {
		t.Fatal(err)
	}
	if p.Statement.InsertUs != 70 || p.Replication.CertifyUs != 50 || p.Replication.CertifyWaitUs != 70 || p.Replication.ApplyRowUs != 70 {
		t.Fatalf("insert %v certify %v wait %v apply_row %v; want 70, 50, 70, 70", p.Statement.InsertUs, p.Replication.CertifyUs, p.Replication.CertifyWaitUs, p.Replication.ApplyRowUs)
	}

	// A member of a bigger cluster, or a server without wsrep, is refused untouched.
	for _, info := range []serverInfo{{Replicating: "wsrep_on=ON: a Galera member", ClusterSize: 3, Flush: 1}, {Flush: 1}} {
		f := newFake(1)
		f.info = info
		_, _, err := probeCertification(context.Background(), f, []int{1}, 1, time.Second, io.Discard)
		var r *refusal
		if !errors.As(err, &r) || !strings.Contains(err.Error(), "one-member Galera cluster") || len(f.sets) != 0 || f.prepared {
			t.Errorf("%+v: err %v, flush settings %v, prepared %v; want a refusal and nothing changed", info, err, f.sets, f.prepared)
		}
	}
}

// Bad input to calibrate --target is one line, exit 2, and nothing is written; a target
// that is not one standalone node is refused from its file before anything connects.
func TestCalibrateTargetBadInput(t *testing.T) {
	dir := t.TempDir()
	galera := filepath.Join(dir, "galera.yaml")
	if err := os.WriteFile(galera, []byte("kind: galera\nnodes:\n  - {name: n1, host: 127.0.0.1, port: 1, user: rb, password: rb}\n  - {name: n2, host: 127.0.0.1, port: 2, user: rb, password: rb}\n  - {name: n3, host: 127.0.0.1, port: 3, user: rb, password: rb}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "p.yaml")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--target", galera, "--out", out}, "calibrate probes one node"},
		{[]string{"--target", "galera:rb:rb@127.0.0.1:1,127.0.0.1:2", "--out", out}, "a galera target with 2 node(s)"},
		{[]string{"--target", "galera:rb:rb@127.0.0.1:1", "--out", out}, "give the standalone server's probes with --from"},
		{[]string{"--target", "galera:rb:rb@127.0.0.1:1", "--from", galera, "--server", "standalone", "--out", out}, "with a galera --target"},
		{[]string{"--target", "standalone:rb:rb@127.0.0.1:1", "--server", "galera", "--out", out}, "accepted: --server standalone"},
		{[]string{"--target", "standalone:rb:rb@127.0.0.1:1", "--rounds", "2", "--out", out}, "--rounds goes with a one-member galera"},
		{[]string{"--target", "standalone:rb:rb@127.0.0.1:1", "--clients", "4,16", "--out", out}, "lacks 1"},
		{[]string{"--target", "standalone:rb:rb@127.0.0.1:1", "--probe-time", "0s", "--out", out}, "positive duration"},
		{[]string{"--target", "galera:rb:rb@127.0.0.1:1", "--from", galera, "--rounds", "0", "--out", out}, "positive number of rounds"},
		{[]string{"--from", galera, "--target", "standalone:rb:rb@127.0.0.1:1", "--out", out}, "--from with a standalone --target"},
		{[]string{"--from", galera, "--clients", "1", "--out", out}, "go with --target"},
		{[]string{"--out", out}, "give --from PROBES or --target"},
	} {
		code, stdout, stderr := run(append([]string{"calibrate"}, c.args...)...)
		if code != ExitUsage || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and one line containing %q", c.args, code, stdout, stderr, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%v: wrote %s on bad input", c.args, out)
		}
	}
}
