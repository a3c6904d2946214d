package harness

import (
	"path/filepath"

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

// splitParams resolves one node's user parameters into the protocol's (defaults applied,
// cross-parameter rules checked) and the engine's options. A name both lists know goes to
// both. It creates nothing (dataDir only names the node's directory), so validation runs
// it on every node of every point before a run starts, and bring-up runs it again.
func splitParams(p *protocols.Protocol, node, dataDir string, user map[string]string) (protocols.Settings, storage.Options, error) {
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
	pp, err := p.Resolve(proto) // the protocol's cross-parameter rules too
	if err != nil {
		return nil, storage.Options{}, err
	}
	ep, err := protocols.Resolve(EngineParams, engine)
	if err != nil {
		return nil, storage.Options{}, err
	}
	dir := ""
	if dataDir != "" {
		dir = filepath.Join(dataDir, node)
	}
	opts, err := storage.OptionsFromParams(node, dir, ep)
	return pp, opts, err
}
