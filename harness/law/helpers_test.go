package law

import (
	"maps"
	"slices"
	"testing"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
)

// resolved is what the harness hands the law for a point: every member's parameters (all,
// then perNode on top) resolved by the protocol's own Parse and the engine's options, in
// member order. Tests build their inputs with it so that the law sees exactly the values a
// provider would run on. It fails t on a parameter either list refuses. Unless the
// parameters name one, the cost profile is none: these tests check the network mechanism,
// and local_test.go the local costs.
func resolved(t testing.TB, proto string, members []string, all map[string]string, perNode map[string]map[string]string) []Node {
	t.Helper()
	if proto == "standalone" {
		return nil // its model reads no settings
	}
	p, err := protocols.Lookup(proto)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]Node, len(members))
	for i, n := range members {
		user := maps.Clone(all)
		if user == nil {
			user = map[string]string{}
		}
		maps.Copy(user, perNode[n])
		if _, set := user[protocols.CostProfileParam]; !set && len(p.Flavors) > 0 {
			user[protocols.CostProfileParam] = "none"
		}
		mine, engine := map[string]string{}, map[string]string{}
		for k, v := range user {
			if slices.ContainsFunc(storage.Params, func(d protocols.Param) bool { return d.Name == k }) {
				engine[k] = v
			} else {
				mine[k] = v
			}
		}
		st, err := p.Resolve(mine)
		if err != nil {
			t.Fatalf("%s on %s: %v", proto, n, err)
		}
		ep, err := protocols.Resolve(storage.Params, engine)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		opts, err := storage.OptionsFromParams(n, "", ep)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		out[i] = Node{Settings: st, Engine: opts}
	}
	return out
}
