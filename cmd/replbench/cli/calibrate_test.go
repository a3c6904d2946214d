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
}

func (f *fakeServer) Describe(context.Context) (serverInfo, error) { return f.info, nil }
func (f *fakeServer) SetFlush(_ context.Context, v int) error {
	f.sets = append(f.sets, v)
	f.flush = v
	return nil
}
func (f *fakeServer) Prepare(context.Context) error { f.prepared = true; return nil }
func (f *fakeServer) Probe(_ context.Context, kind string, clients int, d time.Duration) (target.ProbeResult, error) {
	if kind == f.failAt {
		return target.ProbeResult{}, errors.New("connection lost")
	}
	mean := time.Duration(f.meanUs[f.flush][kind]*float64(clients)) * time.Microsecond
	return target.ProbeResult{Node: "n1", Kind: kind, Clients: clients, Ops: 100, Elapsed: d, Mean: mean,
		Throughput: float64(clients) / mean.Seconds()}, nil
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
		{[]string{"--target", galera, "--out", out}, "single standalone node"},
		{[]string{"--target", "galera:rb:rb@127.0.0.1:1,127.0.0.1:2", "--out", out}, "a galera target with 2 node(s)"},
		{[]string{"--target", "standalone:rb:rb@127.0.0.1:1", "--server", "galera", "--out", out}, "accepted: --server standalone"},
		{[]string{"--target", "standalone:rb:rb@127.0.0.1:1", "--clients", "4,16", "--out", out}, "lacks 1"},
		{[]string{"--target", "standalone:rb:rb@127.0.0.1:1", "--probe-time", "0s", "--out", out}, "positive duration"},
		{[]string{"--from", galera, "--target", "standalone:rb:rb@127.0.0.1:1", "--out", out}, "exclusive"},
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
