package harness

import (
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
)

// EngineParams are the storage engine's parameters (storage.Params) that --param sets
// beside the protocol's, under InnoDB's names so that a setting copied from a my.cnf means
// the same here.
var EngineParams = storage.Params

// AllParams lists every parameter a point of protocol p accepts: the protocol's own, then
// the engine's.
func AllParams(p *protocols.Protocol) []protocols.Param {
	out := append([]protocols.Param(nil), p.Params...)
	for _, e := range EngineParams {
		if _, dup := findParam(out, e.Name); !dup {
			out = append(out, e)
		}
	}
	return out
}

// resolveNode resolves one node's user parameters into the protocol's settings (defaults
// applied, the protocol's Parse run, so its cross-parameter rules are checked) and the
// engine's options. A name both lists know goes to both. It is the only place a point's
// parameters are parsed: Expand runs it for every node of every point before a run starts.
func resolveNode(p *protocols.Protocol, node string, user map[string]string) (NodeSpec, error) {
	proto := map[string]string{}
	engine := map[string]string{}
	for k, v := range user {
		if _, ok := findParam(p.Params, k); ok {
			proto[k] = v
		}
		if _, ok := findParam(EngineParams, k); ok {
			engine[k] = v
		}
	}
	st, err := p.Resolve(proto)
	if err != nil {
		return NodeSpec{}, err
	}
	ep, err := protocols.Resolve(EngineParams, engine)
	if err != nil {
		return NodeSpec{}, err
	}
	opts, err := storage.OptionsFromParams(node, "", ep)
	if err != nil {
		return NodeSpec{}, err
	}
	return NodeSpec{Name: node, Settings: st, Engine: opts, EngineParams: ep}, nil
}

// AcceptsParam reports whether a point of protocol p accepts the parameter name (its own
// or the engine's, under its name or an alias).
func AcceptsParam(p *protocols.Protocol, name string) bool {
	_, ok := findParam(AllParams(p), name)
	return ok
}
