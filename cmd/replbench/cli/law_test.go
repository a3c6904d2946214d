package cli

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/replbench/replbench/protocols/servicetime"
)

func TestMainAllProtocols(t *testing.T) {
	var out, errb bytes.Buffer
	// --cost-profile none: the network's bounds alone (TestMainLocalCosts has the default).
	if rc := lawMain([]string{"--protocol", "all", "--nodes", "3", "--network", "wan-50", "--threads", "8", "--cost-profile", "none"}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d, stderr %q", rc, errb.String())
	}
	s := strings.Join(strings.Fields(out.String()), " ")
	for _, want := range []string{
		"a model, not a measurement",
		"galera commit floor 50.075 ms",
		"group-replication commit floor 50.05 ms",
		"semisync commit floor 50.05 ms",
		"async commit floor 0 ms",
		"standalone commit floor 0 ms",
		"8/50.075 ms = 160 tps",
		"1/50.075 ms = 20.0 modifications/s per row",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "  commit floor") || strings.HasPrefix(line, "  max tps") || strings.HasPrefix(line, "  hot row") {
			if !strings.Contains(line, "model") {
				t.Errorf("line not labelled as a model: %q", line)
			}
		}
	}
}

// By default each protocol's flavour brings its built-in cost profile, whose local commit
// path adds to the floor and is named in the derivation.
func TestMainLocalCosts(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := lawMain([]string{"--protocol", "galera,standalone", "--nodes", "3", "--network", "wan-50", "--threads", "8"}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d, stderr %q", rc, errb.String())
	}
	s := strings.Join(strings.Fields(out.String()), " ")
	// The standalone floor is the built-in profile's client round trip, cheapest write (its
	// CPU and wait) and redo fsync (innodb_flush_log_at_trx_commit=1), whatever its
	// calibration measured.
	prof, err := servicetime.Load("mariadb-10.11")
	if err != nil {
		t.Fatal(err)
	}
	st := prof.Statement
	floor := (prof.Client.StatementRTTUs + min(st.InsertUs+st.InsertWaitUs, st.UpdateUs+st.UpdateWaitUs, st.DeleteUs+st.DeleteWaitUs) + prof.Commit.RedoFsyncUs) / 1000
	for _, want := range []string{
		"n1->n2->n3->n1 = 50.075 ms plus the local commit path of cost profile galera-4-mariadb-10.11",
		"standalone commit floor " + strconv.FormatFloat(floor, 'g', 3, 64) + " ms",
		"the floor is the local commit path of cost profile mariadb-10.11",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}

func TestMainWhatIf(t *testing.T) {
	var out, errb bytes.Buffer
	rc := lawMain([]string{"--protocol", "semisync", "--delay", "n3=20ms", "--param", "rpl_semi_sync_master_wait_for_slave_count=2",
		"--param", "semisync.serialized=ON", "--threads", "32", "--hot-rows", "4", "--cost-profile", "none"}, &out, &errb)
	if rc != 0 {
		t.Fatalf("rc %d, stderr %q", rc, errb.String())
	}
	s := out.String()
	for _, want := range []string{"for its 2nd nearest replica n3: RTT 20.05 ms", "at most once per 20.05 ms = 49.9 tps whatever the 32 threads"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}

func TestMainBadInput(t *testing.T) {
	cases := [][]string{
		{"--protocol", "paxos"},
		{"--nodes", "0"},
		{"--network", "moon"},
		{"--delay", "n9=50ms"},
		{"--delay", "n2=-5ms"},
		{"--link", "n1=n2"},
		{"--param", "no_such_param=1"},
		{"--param", "noequals"},
		{"--protocol", "gr", "--writers", "n2"},
		{"--protocol", "semisync", "--param", "rpl_semi_sync_master_wait_for_slave_count=5"},
		{"--threads", "0", "--protocol", "galera"},
		{"--threads", "0"}, // every protocol: still one line, not five "not applicable" blocks
		{"--threads", "-3", "--protocol", "all"},
		{"--hot-rows", "-1"},
		{"--param", "n9:replbench.apply_delay=1ms"},
		{"--param", "n3:no_such_param=1"},
		{"--param", "n3:replbench.apply_delay=soon", "--protocol", "galera"},
		{"--bogus"},
		{"extra"},
	}
	for _, args := range cases {
		var out, errb bytes.Buffer
		rc := lawMain(args, &out, &errb)
		if rc != 2 {
			t.Errorf("%v: rc %d, want 2 (stdout %q)", args, rc, out.String())
		}
		if n := strings.Count(errb.String(), "\n"); n != 1 || !strings.HasPrefix(errb.String(), "replbench law: ") {
			t.Errorf("%v: want one stderr line, got %q", args, errb.String())
		}
		if out.Len() != 0 {
			t.Errorf("%v: bad input printed to stdout: %q", args, out.String())
		}
	}
}

func TestMainSlowNode(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := lawMain([]string{"--protocol", "galera,semisync", "--threads", "16", "--param", "n3:replbench.apply_delay=5ms"}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d, stderr %q", rc, errb.String())
	}
	s := strings.Join(strings.Fields(out.String()), " ")
	for _, want := range []string{"max tps 200 model: the slowest applier binds: n3", "n3 lags behind instead"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}
