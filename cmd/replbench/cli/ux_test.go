package cli

import (
	"strings"
	"testing"
	"time"
)

// A bare protocol run gets the default run length instead of asking for one, and the
// sysbench aliases and --repeats reach the points.
func TestPrepareDefaultsAndAliases(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		queries int64
		dur     time.Duration
		points  int
	}{
		{[]string{"--protocol", "galera", "--threads", "4"}, 0, defaultRunLength, 1},
		{[]string{"--protocol", "galera", "--events", "300"}, 300, 0, 1},
		{[]string{"--protocol", "galera", "--time", "3s"}, 0, 3 * time.Second, 1},
		{[]string{"--protocol", "galera", "--time", "3s", "--repeats", "3", "--threads", "1,2"}, 0, 3 * time.Second, 6},
	} {
		_, _, points, err := prepare(tc.args)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if len(points) != tc.points || points[0].Queries != tc.queries || points[0].Duration != tc.dur {
			t.Errorf("%v: %d points, queries %d, duration %s; want %d, %d, %s", tc.args, len(points), points[0].Queries, points[0].Duration, tc.points, tc.queries, tc.dur)
		}
	}
}

func TestVersionFlagAndScenarioExplain(t *testing.T) {
	if code, out, _ := run("--version"); code != ExitOK || !strings.HasPrefix(out, "replbench ") {
		t.Errorf("--version: exit %d, %q", code, out)
	}
	code, out, _ := run("scenarios", "hot-row-writers")
	if code != ExitOK || !strings.Contains(out, "What to look for:") || !strings.Contains(out, "points, about") {
		t.Errorf("scenarios hot-row-writers: exit %d, %q", code, out)
	}
	if code, _, errOut := run("scenarios", "nope"); code != ExitUsage || !strings.Contains(errOut, "unknown scenario") {
		t.Errorf("scenarios nope: exit %d, %q", code, errOut)
	}
}
