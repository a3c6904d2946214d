package all

import (
	"slices"
	"strings"
	"testing"

	"github.com/replbench/replbench/workloads"
)

func TestEveryWorkloadIsRegistered(t *testing.T) {
	want := []string{"bank", "hotspot", "insert", "list-append", "oltp_delete", "oltp_insert", "oltp_point_select", "oltp_read_only",
		"oltp_read_write", "oltp_update_index", "oltp_update_non_index", "oltp_write_only", "register", "rw-register", "tpcc"}
	if got := workloads.Names(); !slices.Equal(got, want) {
		t.Fatalf("registered %v, want %v", got, want)
	}
	for _, n := range want {
		d, err := workloads.Lookup(n)
		if err != nil {
			t.Fatal(err)
		}
		if d.Summary == "" {
			t.Errorf("%s has no summary", n)
		}
		for _, o := range d.Options {
			if o.Help == "" || o.Name == "" || strings.HasPrefix(o.Name, "-") {
				t.Errorf("%s: option %+v needs a name without dashes and a help text", n, o)
			}
		}
		// Defaults alone must configure every workload.
		w, err := d.New(nil, workloads.Env{Nodes: 3, Writers: []string{"n1", "n2", "n3"}, Threads: 4, Seed: 1})
		if err != nil {
			t.Fatalf("%s with defaults: %v", n, err)
		}
		if w.Name() != n || len(w.Tables()) == 0 {
			t.Errorf("%s: name %q, %d tables", n, w.Name(), len(w.Tables()))
		}
	}
}

func TestOptionErrorsNameTheOptionAndTheAcceptedValues(t *testing.T) {
	env := workloads.Env{Nodes: 3, Writers: []string{"n1"}, Seed: 1}
	cases := []struct {
		workload string
		opts     map[string]string
		mention  []string
	}{
		{"oltp_read_write", map[string]string{"table-sise": "10"}, []string{"table-sise", "table-size"}},
		{"oltp_read_write", map[string]string{"table-size": "ten"}, []string{"table-size", "integer"}},
		{"oltp_read_write", map[string]string{"rand-type": "normal"}, []string{"rand-type", "special", "uniform"}},
		{"oltp_read_write", map[string]string{"skip-trx": "maybe"}, []string{"skip-trx", "on, off"}},
		{"tpcc", map[string]string{"scale": "2"}, []string{"scale", "0.001 to 1"}},
		{"tpcc", map[string]string{"mix": "50,50,1,1,1"}, []string{"mix", "100"}},
		{"hotspot", map[string]string{"mode": "queue"}, []string{"mode", "counter", "users-groups"}},
		{"hotspot", map[string]string{"hot-rows": "500"}, []string{"hot-rows", "1 to 300"}},
		{"hotspot", map[string]string{"hot-nodes": "n7"}, []string{"hot-nodes", "n7"}},
		{"hotspot", map[string]string{"hot-nodes": "n2"}, []string{"n2", "writers"}},
		{"insert", map[string]string{"rows": "5"}, []string{"rows"}},
	}
	for _, c := range cases {
		d, err := workloads.Lookup(c.workload)
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.New(c.opts, env)
		if err == nil {
			t.Errorf("%s %v: accepted", c.workload, c.opts)
			continue
		}
		for _, m := range c.mention {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("%s %v: error %q does not mention %q", c.workload, c.opts, err, m)
			}
		}
	}
	if _, err := workloads.Lookup("tpc-c"); err == nil || !strings.Contains(err.Error(), "tpcc") {
		t.Errorf("Lookup of an unknown name: %v, want the accepted names listed", err)
	}
}

func TestSettingsRecordTheDistribution(t *testing.T) {
	d, _ := workloads.Lookup("oltp_read_write")
	w, err := d.New(map[string]string{"rand-type": "zipfian"}, workloads.Env{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := w.(workloads.Configured).Settings()
	if s["rand-type"] != "zipfian" || s["table-size"] != "10000" {
		t.Fatalf("settings %v, want rand-type zipfian and the default table-size 10000", s)
	}
	w, _ = d.New(nil, workloads.Env{Seed: 1})
	if got := w.(workloads.Configured).Settings()["rand-type"]; got != "special" {
		t.Fatalf("default rand-type %q, want special (sysbench 1.0)", got)
	}
}
