package semisync

import (
	"slices"

	"github.com/replbench/replbench/protocols"
)

// This file is what a restarted or promoted node needs (protocols.Config.Rejoin, Source).
//
// A replica restarts from the position its engine recovered, as relay_log_recovery=ON
// does: the relay log after the last applied transaction is discarded and the dump stream
// is requested again from there, so what a crash lost of the relay log is fetched again.
//
// A source that restarts, or a replica promoted to source, starts a new binlog at the
// position its engine holds: positions up to there are not in it (the model keeps the
// binlog in memory, so a restarted source has none of its old binlog, and a promoted
// replica never wrote its relay log to a binlog of its own: log_replica_updates is not
// modelled). A replica further behind than that asks for purged positions; it is served
// from the new binlog's start, and the gap shows as a divergence in the convergence check,
// where a real replica stops with error 1236.

// sourceOf is the source of the topology: Config.Source after a promotion, else Members[0].
func sourceOf(cfg protocols.Config) string {
	if cfg.Source != "" {
		return cfg.Source
	}
	return cfg.Members[0]
}

// newSourceFor builds the source machine: empty at a first start, continuing from
// cfg.Position when the node rejoins.
func newSourceFor(cfg protocols.Config, st *Settings) *Source {
	src := sourceOf(cfg)
	var replicas []string
	for _, m := range cfg.Members {
		if m != src {
			replicas = append(replicas, m)
		}
	}
	s := NewSource(st.SourceConfig(slices.Clip(replicas)))
	if cfg.Rejoin && cfg.Position > 0 {
		s.base, s.commitPos, s.syncedPos = cfg.Position, cfg.Position, cfg.Position
	}
	return s
}
