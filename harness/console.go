package harness

import (
	"fmt"
	"io"
	"os"
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

// console serialises what goes to stderr during a run: the progress bar for multi-point
// runs, the interval lines and loud warnings, so that they do not overwrite each other.
type console struct {
	mu  sync.Mutex
	w   io.Writer
	bar *progressbar.ProgressBar
}

func newConsole(w io.Writer, points int, noBar bool) *console {
	c := &console{w: w}
	if points > 1 && !noBar && isTerminal(w) {
		c.bar = progressbar.NewOptions(points,
			progressbar.OptionSetWriter(w),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSetDescription("points"),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
		_ = c.bar.RenderBlank()
	}
	return c
}

func (c *console) describe(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != nil {
		c.bar.Describe(s)
	}
}

func (c *console) step() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != nil {
		_ = c.bar.Add(1)
	}
}

func (c *console) finish() {
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

// isTerminal reports whether w is a terminal; the progress bar redraws itself with carriage
// returns, which only a terminal shows as one line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
