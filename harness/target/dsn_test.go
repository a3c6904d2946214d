package target

import (
	"strings"
	"testing"
)

func TestParseDSNList(t *testing.T) {
	f, err := ParseDSNList("semisync:rb:secret@127.0.0.1:13301,127.0.0.1:13302,[::1]:13303")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Nodes) != 3 || f.Nodes[2].Host != "::1" || f.Nodes[2].Port != 13303 || f.Nodes[0].Password != "secret" {
		t.Errorf("nodes %+v", f.Nodes)
	}
	if f.Writer() != "n1" || f.Nodes[0].Role != "source" || f.Nodes[1].Role != "replica" {
		t.Errorf("roles %+v, writer %s: want n1 the source", f.Nodes, f.Writer())
	}
	for _, c := range []struct{ in, want string }{
		{"galera", "want KIND:USER:PASSWORD@HOST:PORT"},
		{"galera:rb@127.0.0.1", "is not HOST:PORT"},
		{"oracle:rb:rb@127.0.0.1:1", `kind "oracle"`},
		{"standalone:rb:rb@127.0.0.1:1,127.0.0.1:2", "standalone has one node"},
	} {
		if _, err := ParseDSNList(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to say %q", c.in, err, c.want)
		}
	}
}
