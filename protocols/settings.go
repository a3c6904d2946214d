package protocols

// Settings is one node's parameters for one protocol, resolved once: defaults applied, every
// value checked against its declaration (name, kind, range) and every rule that ties several
// parameters together checked by the protocol's Parse. Each protocol exports its own typed
// struct (galera.Settings, groupreplication.Settings, semisync.Settings) and registers the
// function that builds it; the harness resolves every node of every point before anything
// starts, and the provider, the law (bounds) and the results all read the same value. That is
// what keeps a parameter from meaning one thing to the provider and another to the bound: it
// is parsed in one place, under one name table.
type Settings interface {
	// Params returns the resolved values under their real names (aliases folded), as results
	// record them and `replbench params` prints them.
	Params() Params
}

// ParamSettings is the Settings of a protocol that has no typed struct (standalone, test
// doubles): the resolved values and nothing else.
type ParamSettings Params

// Params implements Settings.
func (s ParamSettings) Params() Params { return Params(s) }

// ResolveSettings resolves user over defs and builds the typed Settings with parse (nil
// gives ParamSettings). It is what Protocol.Resolve does; protocols call it directly in tests
// and when a provider is built without the harness.
func ResolveSettings(defs []Param, parse func(Params) (Settings, error), user map[string]string) (Settings, error) {
	p, err := Resolve(defs, user)
	if err != nil {
		return nil, err
	}
	if parse == nil {
		return ParamSettings(p), nil
	}
	return parse(p)
}
