package target

import (
	"strings"
	"testing"
)

const galeraFile = `
kind: galera
nodes:
  - {name: n1, host: 127.0.0.1, port: 13301, user: rb, password: rb}
  - {name: n2, host: 127.0.0.1, port: 13302, user: rb, password: rb}
settings: {innodb_flush_log_at_trx_commit: "1"}
network: {delay: {n2: 10ms}, links: [], netdelay_config: /x, rtt_file: ""}
`

func TestParseFile(t *testing.T) {
	f, err := ParseFile("t.yaml", []byte(galeraFile))
	if err != nil {
		t.Fatal(err)
	}
	if f.Database != "replbench" || f.Nodes[1].Role != "member" || f.Writer() != "n1" || f.Settings["innodb_flush_log_at_trx_commit"] != "1" {
		t.Fatalf("parsed %+v", f)
	}
	semi := "kind: semisync\nnodes:\n  - {name: n1, host: h, port: 1, user: u}\n  - {name: n2, host: h, port: 2, user: u, role: source}\n"
	if _, err := ParseFile("s.yaml", []byte(semi)); err == nil || !strings.Contains(err.Error(), "exactly one node with role source, found 2") {
		t.Fatalf("two sources: %v", err)
	}
	semi = "kind: semisync\nnodes:\n  - {name: n1, host: h, port: 1, user: u, role: replica}\n  - {name: n2, host: h, port: 2, user: u, role: source}\n"
	if f, err := ParseFile("s.yaml", []byte(semi)); err != nil || f.Writer() != "n2" {
		t.Fatalf("source n2: %v", err)
	}
}

func TestParseFileBadInput(t *testing.T) {
	node := "  - {name: n1, host: h, port: 1, user: u}\n"
	for _, tc := range []struct{ in, want string }{
		{"kind: mongo\nnodes:\n" + node, `kind "mongo" (accepted: galera, semisync, gr, standalone)`},
		{"kind: galera\n", "no nodes"},
		{"kind: galera\nnodes:\n  - {name: n2, host: h, port: 1, user: u}\n", `nodes[0] is named "n2", want "n1"`},
		{"kind: galera\nnodes:\n  - {name: n1, host: h, port: 0, user: u}\n", "port 0 out of range"},
		{"kind: galera\nnodes:\n  - {name: n1, port: 1, user: u}\n", "n1: no host"},
		{"kind: galera\nnodes:\n  - {name: n1, host: h, port: 1, user: u, role: source}\n", `role "source" for kind galera (accepted: member)`},
		{"kind: galera\nnodes:\n" + node + "colour: red\n", `t.yaml:4: unknown field "colour" (accepted: kind, database, nodes, settings, network)`},
		{"kind: galera\nnodes:\n  - {name: n1, host: h, port: x, user: u}\n", "t.yaml:3:"},
		{"kind: galera\ndatabase: 'a;drop'\nnodes:\n" + node, "database"},
		{"kind: standalone\nnodes:\n" + node + "  - {name: n2, host: h, port: 2, user: u}\n", "standalone has one node"},
	} {
		_, err := ParseFile("t.yaml", []byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line containing %q", tc.in, err, tc.want)
		}
	}
}

func TestClassifyAndDiff(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        Kind
	}{
		{"wsrep_replicated", "10", Counter},
		{"wsrep_local_cert_failures", "1", Counter},
		{"wsrep_last_committed", "12", Counter},
		{"wsrep_local_recv_queue", "0", Gauge},
		{"wsrep_local_recv_queue_avg", "0.5", Gauge},
		{"wsrep_flow_control_paused", "0.01", Gauge},
		{"wsrep_local_state_comment", "Synced", Gauge},
		{"wsrep_cluster_size", "3", Gauge},
		{"rpl_semi_sync_master_yes_tx", "3", Counter},
		{"rpl_semi_sync_master_tx_wait_time", "3000", Counter},
		{"rpl_semi_sync_master_clients", "2", Gauge},
		{"rpl_semi_sync_master_tx_avg_wait_time", "1500", Gauge},
		{"rpl_semi_sync_master_status", "ON", Gauge},
		{"gr_member_stats.count_transactions_checked", "4", Counter},
		{"gr_member_stats.count_transactions_in_queue", "0", Gauge},
		{"innodb_buffer_pool_pages_free", "100", Gauge},
		{"innodb_buffer_pool_pages_flushed", "100", Counter},
		{"threads_connected", "5", Gauge},
		{"com_commit", "5", Counter},
	} {
		if got := ClassifyStatus(tc.name, tc.value); got != tc.want {
			t.Errorf("%s=%s: %s, want %s", tc.name, tc.value, got, tc.want)
		}
	}
	before := []Snapshot{{Node: "n1", Status: map[string]string{"wsrep_replicated": "10", "wsrep_local_recv_queue": "3"}, Variables: map[string]string{"a": "1"}}}
	after := []Snapshot{{Node: "n1", Status: map[string]string{"wsrep_replicated": "25", "wsrep_local_recv_queue": "0"}, Variables: map[string]string{"a": "2"}}}
	d := Diff(before, after)
	if len(d) != 2 || d[0].Name != "wsrep_local_recv_queue" || d[0].Kind != Gauge || d[0].After != "0" || d[1].Delta != 15 {
		t.Fatalf("diff %+v", d)
	}
	if ch := VariableChanges(before, after); len(ch) != 1 || ch[0] != "n1 a: 1 -> 2" {
		t.Fatalf("variable changes %v", ch)
	}
	if s := Select(d, "wsrep_repl"); len(s) != 1 {
		t.Fatalf("select %v", s)
	}
}
