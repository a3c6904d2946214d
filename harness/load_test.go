package harness

import (
	"bytes"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// A quick load stays silent; a long one reports about once a second, and its last report
// says 100%.
func TestLoadReporter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		report := loadReporter(newConsole(&out, 1, true), "tpcc", time.Now())
		for done := int64(0); done <= 1000; done += 100 {
			report(done, 1000) // every 500 ms: 0 .. 5 s
			time.Sleep(500 * time.Millisecond)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		// silent before 1.5 s; then at 1.5, 2.5, 3.5, 4.5 s and the final 100% at 5 s
		if len(lines) != 5 || !strings.Contains(lines[0], "30% (300 of 1000 rows)") || !strings.Contains(lines[4], "100% (1000 of 1000 rows)") {
			t.Fatalf("load progress lines:\n%s", out.String())
		}
	})
}
