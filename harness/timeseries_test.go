package harness

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols"
)

// fcProvider reports Galera-style flow-control counters that grow by pausedPerSec of pause
// and one STOP message per second of virtual time since start.
type fcProvider struct {
	protocols.Provider
	start        time.Time
	pausedPerSec time.Duration
}

func (f *fcProvider) Status() []protocols.StatusVar {
	secs := int64(time.Since(f.start) / time.Second)
	return []protocols.StatusVar{
		{Name: statusFCPausedNs, Value: strconv.FormatInt(secs*int64(f.pausedPerSec), 10)},
		{Name: statusFCSent, Value: strconv.FormatInt(secs, 10)},
	}
}

// In virtual time the series is exact: two clients finishing a transaction every 7 ms (no
// finish falls on a whole second, so no tie with the sampler's tick) give the multiples of
// 7 ms in each second, the first client's five certification failures land in the first
// sample by cause, the flow-control counters become per-interval pauses with the sending
// node named, the half-second remainder at the end of the phase is a sample of its own, and
// every report line names the point.
func TestSeriesRecorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		mk := func(failures int) *client {
			return &client{node: "n1", wl: &fakeClient{service: []time.Duration{7 * time.Millisecond}, failures: failures, err: protocols.ErrCertification()}, stats: newClientStats()}
		}
		cs := []*client{mk(5), mk(0)}
		var out bytes.Buffer
		con := &console{w: &out}
		provs := []protocols.Provider{&fcProvider{start: start}, &fcProvider{start: start}, &fcProvider{start: start, pausedPerSec: 250 * time.Millisecond}}
		rec := startSeries(con, cs, providerStatus(provs), []string{"n1", "n2", "n3"}, "galera 3n lan insert t=2", start, time.Second)
		ph := runPhase(context.Background(), cs, load{duration: 3503 * time.Millisecond})
		s := rec.stop(start.Add(ph.elapsed))
		if s == nil || s.IntervalS != 1 || len(s.Samples) != 4 {
			t.Fatalf("series %+v, want 4 samples of 1 s", s)
		}
		// finished(a, b) is how many multiples of 7 ms fall in (a, b] ms.
		finished := func(a, b int64) int64 { return b/7 - a/7 }
		for i, smp := range s.Samples[:3] {
			want := 2 * finished(int64(i)*1000, int64(i+1)*1000)
			if i == 0 {
				want -= 5 // the first client's first 5 attempts failed certification
			}
			if smp.T != float64(i+1) || smp.SpanS != 1 || smp.Committed != want || smp.TPS != float64(want) {
				t.Errorf("sample %d: %+v, want %d commits at t=%d", i, smp, want, i+1)
			}
			if smp.Latency.P50 < 6.9 || smp.Latency.P50 > 7.1 {
				t.Errorf("sample %d p50 %v ms, want 7", i, smp.Latency.P50)
			}
			if smp.FCPausedMs != 250 || smp.FCSent != 3 || strings.Join(smp.FCSenders, ",") != "n1,n2,n3" {
				t.Errorf("sample %d flow control %v ms, %d sent by %v", i, smp.FCPausedMs, smp.FCSent, smp.FCSenders)
			}
		}
		if a := s.Samples[0].Aborts["certification"]; a != 5 || len(s.Samples[1].Aborts) != 0 {
			t.Errorf("aborts by cause %v then %v, want 5 certification in the first second only", s.Samples[0].Aborts, s.Samples[1].Aborts)
		}
		// The phase ends with the transaction in flight at 3.503 s: at 3.507 s, the 501st.
		last := s.Samples[3]
		if want := 2 * finished(3000, 3507); last.T != 3.507 || last.SpanS != 0.507 || last.Committed != want {
			t.Errorf("last sample %+v, want %d commits over the last 0.507 s", last, want)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 4 {
			t.Fatalf("%d report lines, want 4:\n%s", len(lines), out.String())
		}
		for _, l := range lines {
			if !strings.Contains(l, "galera 3n lan insert t=2: tps ") {
				t.Errorf("line does not name the point: %s", l)
			}
		}
		if !strings.Contains(lines[0], "err/s 5.0 aborts 5 (certification 5)") || !strings.Contains(lines[0], "lat ms p95 ") || !strings.Contains(lines[0], "fc paused 250 ms") {
			t.Errorf("first line %s", lines[0])
		}
	})
}

// A short remainder at the end of the phase joins the last full sample instead of reading
// as a spike, and a report interval under a second becomes the sampling interval.
func TestSeriesStepAndFold(t *testing.T) {
	for _, c := range []struct {
		report  time.Duration
		step    time.Duration
		perLine int
	}{{0, time.Second, 0}, {time.Second, time.Second, 1}, {5 * time.Second, time.Second, 5},
		{500 * time.Millisecond, 500 * time.Millisecond, 1}, {1500 * time.Millisecond, 1500 * time.Millisecond, 1}} {
		if s, n := seriesStep(c.report); s != c.step || n != c.perLine {
			t.Errorf("seriesStep(%s) = %s, %d; want %s, %d", c.report, s, n, c.step, c.perLine)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		c := &client{node: "n1", wl: &fakeClient{service: []time.Duration{7 * time.Millisecond}}, stats: newClientStats()}
		fc := []protocols.Provider{&fcProvider{start: start, pausedPerSec: 100 * time.Millisecond}}
		rec := startSeries(&console{w: &bytes.Buffer{}}, []*client{c}, providerStatus(fc), []string{"n1"}, "p", start, 0)
		ph := runPhase(context.Background(), []*client{c}, load{duration: 2103 * time.Millisecond})
		s := rec.stop(start.Add(ph.elapsed))
		if len(s.Samples) != 2 {
			t.Fatalf("%d samples, want 2 (the 0.1 s remainder folded into the second)", len(s.Samples))
		}
		// The last transaction finishes at 2.107 s (7 ms x 301): 158 of them after 1 s.
		if l := s.Samples[1]; l.T != 2.107 || l.SpanS != 1.107 || l.Committed != 301-142 {
			t.Errorf("folded sample %+v, want %d commits over 1.107 s", l, 301-142)
		}
		// The pause counted between 1 s and the end (100 ms at the 2 s mark) stays with it.
		if l := s.Samples[1]; l.FCPausedMs != 100 {
			t.Errorf("folded sample paused %v ms, want 100", l.FCPausedMs)
		}
	})
}

// A point's label names writers only when they are not n1 alone, and every member as "all",
// as the tables do; a repeat after the first is numbered.
func TestLabelOf(t *testing.T) {
	for _, tc := range []struct {
		writers []string
		repeat  int
		want    string
	}{
		{[]string{"n1"}, 0, "galera 3n lan insert t=4"},
		{[]string{"n1", "n2"}, 0, "galera 3n lan insert w=n1,n2 t=4"},
		{[]string{"n1", "n2", "n3"}, 1, "galera 3n lan insert w=all t=4 run 2"},
		{[]string{"n2"}, 0, "galera 3n lan insert w=n2 t=4"},
	} {
		if got := labelOf("galera", 3, "lan", "insert", tc.writers, 4, tc.repeat); got != tc.want {
			t.Errorf("labelOf(%v, %d) = %q, want %q", tc.writers, tc.repeat, got, tc.want)
		}
	}
}
