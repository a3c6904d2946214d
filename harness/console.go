package harness

import (
	"fmt"
	"github.com/replbench/replbench/results"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// This file is what a run prints while it runs, on stderr: the progress bar, the load
// progress and loud warnings (and timeseries.go's --report-interval lines through it),
// serialised so that they do not overwrite each other.

// loadReporter prints how far a workload's load has got, once a second, but only for a load
// that has already taken more than loadQuiet: a quick load stays silent.
func loadReporter(con *console, workload string, start time.Time) func(done, total int64) {
	var last time.Time
	return func(done, total int64) {
		now := time.Now()
		if now.Sub(start) < loadQuiet || (now.Sub(last) < time.Second && done < total) || total <= 0 {
			return
		}
		last = now
		con.printf("%s [%6.1fs] loading %s on n1: %3d%% (%d of %d rows)\n",
			now.Format("15:04:05.000"), now.Sub(start).Seconds(), workload, done*100/total, done, total)
	}
}

// loadQuiet is how long a load runs before it reports progress.
const loadQuiet = 1500 * time.Millisecond

// console serialises what goes to stderr during a run: the progress bar, the interval lines
// and loud warnings, so that they do not overwrite each other. It also keeps the interval
// lines, which Run writes into the run directory (IntervalsFile).
type console struct {
	mu     sync.Mutex
	w      io.Writer
	noBar  bool
	bar    *progressbar.ProgressBar
	points int
	// pcts are the latency percentiles the interval lines print (--percentile); nil means 95.
	pcts []float64
	// est is each point's estimated length (Estimate), in the bar's unit (barUnit); base is
	// the sum of the estimates of the points before the current one, cur its index and
	// began its start.
	est   []int64
	base  int64
	cur   int
	began time.Time
	// started is when the first point began, for the plain lines' estimate.
	started time.Time
	lines   []string // the interval lines, for IntervalsFile
	stop    chan struct{}
	wg      sync.WaitGroup
}

// barUnit is the progress bar's unit: it counts estimated time, not points, so that it
// moves within a long point and its prediction is the run's remaining time.
const barUnit = 100 * time.Millisecond

func newConsole(w io.Writer, points int, noBar bool) *console {
	return &console{w: w, points: points, noBar: noBar}
}

// plan sets up the progress for points: on a terminal a bar refreshed every second whose
// length is the estimated run time (points x duration, or queries at an assumed rate) and
// whose prediction is therefore the time left; elsewhere (a pipe, a CI log) one plain line
// as each point ends. pcts are the interval lines' percentiles.
func (c *console) plan(points []PointSpec, pcts []float64) {
	c.pcts = pcts
	c.points = len(points)
	var total int64
	for i := range points {
		e := max(int64(Estimate(points[i:i+1])/barUnit), 1)
		c.est = append(c.est, e)
		total += e
	}
	c.started = time.Now()
	if c.noBar || !isTerminal(c.w) || len(points) == 0 {
		return
	}
	w := c.w
	c.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(25),
		progressbar.OptionThrottle(500*time.Millisecond),
		progressbar.OptionSetDescription("starting"),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
	_ = c.bar.RenderBlank()
	c.stop = make(chan struct{})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
				c.tick()
			}
		}
	}()
}

// tick moves the bar within the current point, by its elapsed time, up to just short of
// the point's estimate (a point that runs longer than estimated waits at the end of its
// share).
func (c *console) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar == nil || c.bar.IsFinished() || c.cur >= len(c.est) || c.began.IsZero() {
		return
	}
	in := min(int64(time.Since(c.began)/barUnit), c.est[c.cur]*95/100)
	_ = c.bar.Set64(c.base + in)
}

// begin marks the start of point i, labelled label.
func (c *console) begin(i int, label string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur, c.began = i, time.Now()
	if c.bar != nil {
		c.bar.Describe(fmt.Sprintf("point %d/%d %s", i+1, c.points, label))
		_ = c.bar.Set64(c.base)
	}
}

// describe labels the current point (kept for callers that do not number points).
func (c *console) describe(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != nil {
		c.bar.Describe(s)
	}
}

// done marks the end of the current point; summary is what it measured, for the plain line.
func (c *console) done(summary string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur < len(c.est) {
		c.base += c.est[c.cur]
	}
	if c.bar != nil {
		_ = c.bar.Set64(c.base)
		return
	}
	if c.noBar || len(c.est) == 0 {
		return
	}
	left := ""
	if c.cur+1 < c.points {
		// Scale what is left of the estimate by how the estimate did so far.
		var rest int64
		for _, e := range c.est[c.cur+1:] {
			rest += e
		}
		el := time.Since(c.started)
		r := time.Duration(float64(rest) * float64(barUnit) * float64(el) / float64(max(c.base, 1)*int64(barUnit)))
		left = fmt.Sprintf(", ~%s left", r.Round(time.Second))
	}
	// Wrapped as the tables are, so a long label (five writers, a long network name)
	// does not run past the 120 columns of the rest of the output.
	fmt.Fprintln(c.w, results.Wrap(fmt.Sprintf("replbench: point %d/%d: %s%s", c.cur+1, c.points, summary, left), results.DefaultWidth, 4))
}

// step is done without a summary.
func (c *console) step() { c.done("") }

func (c *console) finish() {
	if c.stop != nil {
		close(c.stop)
		c.wg.Wait()
		c.stop = nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != nil && !c.bar.IsFinished() {
		_ = c.bar.Exit()
		fmt.Fprintln(c.w)
	}
}

func (c *console) printf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != nil {
		_ = c.bar.Clear()
	}
	fmt.Fprintf(c.w, format, args...)
	if c.bar != nil && !c.bar.IsFinished() {
		_ = c.bar.RenderBlank()
	}
}

// interval prints an interval line and keeps it for IntervalsFile.
func (c *console) interval(line string) {
	c.mu.Lock()
	c.lines = append(c.lines, line)
	c.mu.Unlock()
	c.printf("%s\n", line)
}

// intervals returns the interval lines printed so far, one per line.
func (c *console) intervals() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.lines) == 0 {
		return nil
	}
	return []byte(strings.Join(c.lines, "\n") + "\n")
}

// IntervalsFile is the name of the --report-interval lines in the run directory.
const IntervalsFile = "intervals.txt"

// isTerminal reports whether w is a terminal; the progress bar redraws itself with carriage
// returns, which only a terminal shows as one line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
