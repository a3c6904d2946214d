package harness

import (
	"slices"
	"time"

	"github.com/replbench/replbench/workloads"
)

// hasOption reports whether workload name defines option opt.
func hasOption(name, opt string) bool {
	d, err := workloads.Lookup(name)
	return err == nil && slices.ContainsFunc(d.Options, func(o workloads.Option) bool { return o.Name == opt })
}

// Overrides are command-line values that replace a scenario's fields. A nil or empty field
// leaves the scenario alone. A field that is also a sweep axis replaces the axis too, so
// `--threads 8` on a scenario that sweeps threads runs only 8; the network refinements
// (Egress, Links, Jitter, Loss) apply to every network of the run, on top of the preset.
type Overrides struct {
	// Protocols replaces the protocol: one name sets the scenario's protocol, several
	// (a list, or every registered one) become its protocol sweep.
	Protocols       []string
	Nodes           *int
	Workload        *string
	WorkloadOptions map[string]string
	Threads         IntList
	Queries         *int64
	Duration        *time.Duration
	Network         *string
	Egress          map[string]time.Duration
	Links           map[string]time.Duration
	Jitter          *string
	Loss            *float64
	Writers         Writers
	Params          map[string]string
	Seed            *int64
	Rate            *float64
	Warmup          *time.Duration
	Retries         *int
	RetryBackoff    *time.Duration
	RefusedBackoff  *time.Duration
	// Faults replace the scenario's fault timeline when not empty.
	Faults []FaultEvent
}

// Apply writes the overrides into s and remembers which flag set each field, so that a
// validation error points at the flag rather than at a line of the file.
func (s *Scenario) Apply(o Overrides) {
	switch len(o.Protocols) {
	case 0:
	case 1:
		s.Protocol, s.Sweep.Protocols = o.Protocols[0], nil
		s.markFlag("protocol", "--protocol")
	default:
		s.Protocol, s.Sweep.Protocols = "", slices.Clone(o.Protocols)
		s.markFlag("protocol", "--protocol")
		s.markFlag("sweep.protocols", "--protocol")
	}
	if o.Nodes != nil {
		s.Cluster.Nodes, s.Sweep.Nodes = *o.Nodes, nil
		s.markFlag("cluster.nodes", "--nodes")
	}
	if o.Workload != nil {
		if s.Workload.Name != *o.Workload {
			s.Workload = WorkloadSpec{Name: *o.Workload}
		}
		s.Sweep.Workloads = nil
		s.markFlag("workload", "--workload")
	}
	if len(o.WorkloadOptions) > 0 {
		// An option goes to the workloads that define it, so that --table-size on a sweep
		// of sysbench and TPC-C sizes sysbench only; an option no workload of the run
		// defines goes to all of them, for validation to name it.
		specs := []*WorkloadSpec{&s.Workload}
		for i := range s.Sweep.Workloads {
			specs = append(specs, &s.Sweep.Workloads[i])
		}
		if len(s.Sweep.Workloads) > 0 {
			specs = specs[1:]
		}
		for name, v := range o.WorkloadOptions {
			var takers []*WorkloadSpec
			for _, w := range specs {
				if hasOption(w.Name, name) {
					takers = append(takers, w)
				}
			}
			if len(takers) == 0 {
				takers = specs
			}
			for _, w := range takers {
				if w.Options == nil {
					w.Options = map[string]string{}
				}
				w.Options[name] = v
			}
		}
		s.markFlag("workload.options", "--workload-option")
		s.markFlag("sweep.workloads", "--workload-option")
	}
	if len(o.Threads) > 0 {
		s.Threads, s.Sweep.Threads = o.Threads, nil
		s.markFlag("threads", "--threads")
	}
	if o.Queries != nil {
		s.Queries = *o.Queries
		if o.Duration == nil {
			s.Duration = 0
		}
		s.markFlag("queries", "--queries")
	}
	if o.Duration != nil {
		s.Duration = Duration(*o.Duration)
		if o.Queries == nil {
			s.Queries = 0
			s.markFlag("queries", "--duration")
		}
	}
	if o.Network != nil {
		s.Network, s.Sweep.Networks = NetworkSpec{Preset: *o.Network}, nil
		s.markFlag("network", "--network")
	}
	refine := func(nw *NetworkSpec) {
		*nw = cloneNetworkSpec(*nw)
		mergeDurations(&nw.Egress, o.Egress)
		mergeDurations(&nw.Links, o.Links)
		if o.Jitter != nil {
			nw.Jitter = *o.Jitter
		}
		if o.Loss != nil {
			nw.Loss = *o.Loss
		}
		if len(o.Egress)+len(o.Links) > 0 || o.Jitter != nil || o.Loss != nil {
			nw.Name = "" // the label is derived again from the refined network
		}
	}
	refine(&s.Network)
	for i := range s.Sweep.Networks {
		refine(&s.Sweep.Networks[i])
	}
	for flag, set := range map[string]bool{"--delay": len(o.Egress) > 0, "--link": len(o.Links) > 0, "--jitter": o.Jitter != nil, "--loss": o.Loss != nil} {
		if set {
			s.markFlag("network", flag)
			s.markFlag("sweep.networks", flag)
		}
	}
	if len(o.Writers) > 0 {
		s.Writers, s.Sweep.Writers = o.Writers, nil
		s.markFlag("writers", "--writers")
	}
	if len(o.Params) > 0 {
		if s.Params == nil {
			s.Params = map[string]string{}
		}
		for k, v := range o.Params {
			s.Params[k] = v
			s.markFlag("params."+k, "--param "+k)
			for _, set := range s.Sweep.Params {
				delete(set, k)
			}
		}
	}
	if o.Seed != nil {
		s.Seed = *o.Seed
	}
	override(s, &s.Rate, o.Rate, "rate", "--rate")
	s.overrideDuration(&s.Warmup, o.Warmup, "warmup", "--warmup")
	override(s, &s.Retries, o.Retries, "retries", "--retries")
	s.overrideDuration(&s.RetryBackoff, o.RetryBackoff, "retry_backoff", "--retry-backoff")
	if o.RefusedBackoff != nil {
		d := Duration(*o.RefusedBackoff)
		s.RefusedBackoff = &d
		s.markFlag("refused_backoff", "--refused-backoff")
	}
	if len(o.Faults) > 0 {
		s.Faults = append([]FaultEvent(nil), o.Faults...)
		s.markFlag("faults", "--fault")
	}
}

// override sets *dst to *v when the flag was given (v not nil) and records the flag as
// the source of field, for validation errors.
func override[T any](s *Scenario, dst, v *T, field, flag string) {
	if v != nil {
		*dst = *v
		s.markFlag(field, flag)
	}
}

// overrideDuration is override for a time.Duration flag stored as a scenario Duration.
func (s *Scenario) overrideDuration(dst *Duration, v *time.Duration, field, flag string) {
	if v != nil {
		d := Duration(*v)
		override(s, dst, &d, field, flag)
	}
}

// mergeDurations writes src into *dst, allocating the map only when there is something
// to write, so a network without refinements keeps a nil map.
func mergeDurations(dst *map[string]Duration, src map[string]time.Duration) {
	for k, v := range src {
		if *dst == nil {
			*dst = map[string]Duration{}
		}
		(*dst)[k] = Duration(v)
	}
}
