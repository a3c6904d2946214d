package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/replbench/replbench/results"
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

// With --json -, standard output is one JSON document and the tables go to standard error.
func TestJSONToStdoutKeepsStdoutJSON(t *testing.T) {
	run := &results.Run{Schema: results.Schema, Scenario: "adhoc", Points: []results.Point{{Protocol: "galera", Nodes: 3, Threads: 1, Committed: 10}}}
	var stdout, stderr bytes.Buffer
	u := &uxFlags{output: "table"}
	jsonToStdout(u.printer(), &stderr)(&stdout, run, results.TableOptions{})
	var back results.Run
	if err := json.Unmarshal(stdout.Bytes(), &back); err != nil || back.Schema != results.Schema || len(back.Points) != 1 {
		t.Fatalf("stdout is not the results file: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(stderr.String(), "galera") {
		t.Errorf("the tables did not reach standard error: %q", stderr.String())
	}
}
