package protocols

import (
	"fmt"
	"slices"
	"strings"

	"github.com/replbench/replbench/protocols/servicetime"
)

// CostProfileParam names the node's cost profile for the service-time model
// (protocols/servicetime): a built-in name, a YAML file, or "none" for the pure protocol
// model. `--cost-profile X` is `--param replbench.cost_profile=X`. Its default is the
// flavour's built-in profile, so a plain run predicts that server, and the resolved value
// (recorded with every result's parameters) names the profile that was used.
const CostProfileParam = "replbench.cost_profile"

// FlavorParam is the parameter that names a node's server flavour. It is a model parameter
// (replbench.*) rather than a real server option because a flavour is which server you run,
// not a setting of it; `--flavor F` is `--param replbench.flavor=F`, and a per-node flavour
// (`--param n3:replbench.flavor=...`) is the same mechanism as any per-node parameter.
const FlavorParam = "replbench.flavor"

// Flavor is one server a protocol can stand for: MySQL 8.0 and MariaDB 10.11 run semi-sync
// with different commit pipelines and defaults (MariaDB waits AFTER_COMMIT and always for
// one ACK; MySQL waits AFTER_SYNC under LOCK_commit and has wait_for_slave_count), PXC and
// MariaDB Galera differ in their redo flush and defaults. A flavour changes defaults, refuses
// options its server does not have, and picks the built-in cost profile of the service-time
// model; the pipeline itself is the protocol's code, which reads the flavour from Settings.
type Flavor struct {
	// Name is the flavour's name as --flavor takes it: mysql-8.0, mysql-5.7, mariadb-10.11,
	// pxc-8.0.
	Name string
	// Summary is one line for listings: the server and what the flavour changes.
	Summary string
	// Defaults are the parameters whose default differs from the protocol's declaration,
	// by real name, with this server's compiled default.
	Defaults map[string]string
	// Lacks are the parameters this server does not have: setting one is refused with a
	// one-line error naming the flavours that have it.
	Lacks []string
	// Profile is the built-in cost profile (protocols/servicetime) a plain run on this
	// flavour uses, so that it predicts this server; "" means none.
	Profile string
}

// DefaultFlavor is the flavour a node runs when none is given: the first registered.
func (p *Protocol) DefaultFlavor() *Flavor {
	if len(p.Flavors) == 0 {
		return nil
	}
	return &p.Flavors[0]
}

// Flavor finds a flavour by name; the error lists the accepted ones.
func (p *Protocol) Flavor(name string) (*Flavor, error) {
	for i := range p.Flavors {
		if strings.EqualFold(p.Flavors[i].Name, name) {
			return &p.Flavors[i], nil
		}
	}
	return nil, fmt.Errorf("protocol %s has no flavour %q (accepted: %s)", p.Name, name, strings.Join(p.FlavorNames(), ", "))
}

// FlavorNames lists the protocol's flavours, the default first.
func (p *Protocol) FlavorNames() []string {
	out := make([]string, len(p.Flavors))
	for i, f := range p.Flavors {
		out[i] = f.Name
	}
	return out
}

// FlavorOf returns the flavour named in resolved parameters (the default when absent), or
// nil for a protocol without flavours.
func (p *Protocol) FlavorOf(ps Params) *Flavor {
	if f, err := p.Flavor(ps[FlavorParam]); err == nil {
		return f
	}
	return p.DefaultFlavor()
}

// ParamsFor returns the parameter declarations as flavour f shows them (`replbench params
// P --flavor F`): its defaults in place of the protocol's, the options it lacks left out.
// nil f gives the declarations unchanged.
func (p *Protocol) ParamsFor(f *Flavor) []Param {
	var out []Param
	for _, d := range p.withDefaults(f) {
		if f == nil || !slices.Contains(f.Lacks, d.Name) {
			out = append(out, d)
		}
	}
	return out
}

// withDefaults is every declaration with f's defaults. An option f lacks stays declared (at
// the protocol's default, which the user cannot change) so that Parse always finds every
// parameter it reads; the flavour's pipeline simply ignores it.
func (p *Protocol) withDefaults(f *Flavor) []Param {
	if f == nil {
		return p.Params
	}
	out := slices.Clone(p.Params)
	for i, d := range out {
		if v, ok := f.Defaults[d.Name]; ok {
			out[i].Default = v
		}
		if d.Name == CostProfileParam && f.Profile != "" {
			out[i].Default = f.Profile
		}
	}
	return out
}

// flavorParam declares FlavorParam for a protocol with flavours.
func flavorParam(p *Protocol) Param {
	var lines []string
	for _, f := range p.Flavors {
		lines = append(lines, f.Name+": "+f.Summary)
	}
	return Param{Name: FlavorParam, Default: p.Flavors[0].Name, Choices: p.FlavorNames(),
		Help: "the server this node stands for (--flavor): its pipeline, defaults and cost profile; " + strings.Join(lines, "; ")}
}

// costProfileParam declares CostProfileParam for a protocol with flavours.
func costProfileParam(p *Protocol) Param {
	def := p.Flavors[0].Profile
	if def == "" {
		def = servicetime.None
	}
	return Param{Name: CostProfileParam, Default: def,
		Help: "the service-time model's cost profile (--cost-profile): a built-in name (" + strings.Join(servicetime.Builtins(), ", ") + "), a YAML file, or none for the pure protocol model; the default is the flavour's built-in profile"}
}

// checkCostProfile refuses a cost profile that does not load, with the accepted values.
func checkCostProfile(ps Params) error {
	v, ok := ps[CostProfileParam]
	if !ok {
		return nil
	}
	if _, err := servicetime.Load(v); err != nil {
		return fmt.Errorf("parameter %s: %v", CostProfileParam, err)
	}
	return nil
}

// resolveFlavor picks the flavour user asks for and refuses a parameter it lacks. It
// returns the declarations to resolve user against.
func (p *Protocol) resolveFlavor(user map[string]string) ([]Param, error) {
	if len(p.Flavors) == 0 {
		return p.Params, nil
	}
	f := p.DefaultFlavor()
	if name, ok := user[FlavorParam]; ok {
		var err error
		if f, err = p.Flavor(name); err != nil {
			return nil, err
		}
	}
	for name := range user {
		d, ok := findDecl(p.Params, name)
		if !ok || !slices.Contains(f.Lacks, d.Name) {
			continue
		}
		var have []string
		for _, g := range p.Flavors {
			if !slices.Contains(g.Lacks, d.Name) {
				have = append(have, g.Name)
			}
		}
		return nil, fmt.Errorf("parameter %s: flavour %s has no such option (accepted with --flavor %s)", name, f.Name, strings.Join(have, ", "))
	}
	return p.withDefaults(f), nil
}

// findDecl finds a declaration by name or alias.
func findDecl(defs []Param, name string) (Param, bool) {
	for _, d := range defs {
		if d.Name == name || slices.Contains(d.Aliases, name) {
			return d, true
		}
	}
	return Param{}, false
}
