package galera

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/replbench/replbench/galera/cert"
	"github.com/replbench/replbench/galera/gcs"
	"github.com/replbench/replbench/galera/replicator"
	"github.com/replbench/replbench/protocols"
)

// Settings is one Galera node's parameters, resolved once (protocols.Protocol.Resolve runs
// ParseSettings) and read by the provider, the bound calculation and the results alike. Every
// field is the typed value of one parameter of Params, under the parameter's meaning in the
// real server; durations stay durations here, and the conversion to the model's EVS ticks is
// one method (EVSConfig), so nobody re-derives it. Build it with ParseSettings (or
// protocols.ResolveSettings(Params, ParseSettings, user)), never by hand: the
// cross-parameter rules are checked there.
type Settings struct {
	SlaveThreads      int           // wsrep_slave_threads (alias wsrep_applier_threads)
	RetryAutocommit   int           // wsrep_retry_autocommit
	SyncWait          int64         // wsrep_sync_wait, a bitmask: 1 reads, 2 UPDATE/DELETE, 4 INSERT/REPLACE
	AutoIncControl    bool          // wsrep_auto_increment_control
	CommitOrder       int           // repl.commit_order: 0 BYPASS, 1 OOOC, 2 LOCAL_OOOC, 3 NO_OOOC
	CausalReadTimeout time.Duration // repl.causal_read_timeout

	UserSendWindow  int           // evs.user_send_window
	SendWindow      int           // evs.send_window
	UseAggregate    bool          // evs.use_aggregate
	MaxPacket       int           // gcs.max_packet_size, in bytes
	Keepalive       time.Duration // evs.keepalive_period
	CausalKeepalive time.Duration // evs.causal_keepalive_period
	SuspectTimeout  time.Duration // evs.suspect_timeout
	InactiveTimeout time.Duration // evs.inactive_timeout
	JoinRetrans     time.Duration // evs.join_retrans_period
	Tick            time.Duration // replbench.evs_tick: the model's EVS timer tick

	Weight     int   // pc.weight
	GCacheSize int64 // gcache.size, in bytes
	PCRecovery bool  // pc.recovery
	Bootstrap  bool  // pc.bootstrap on a restart (--wsrep-new-cluster)

	CertMaxLength    int64 // cert.max_length
	CertLengthCheck  int64 // cert.length_check
	CertOptimisticPA bool  // cert.optimistic_pa

	FC gcs.FCParams // gcs.fc_limit, gcs.fc_factor, gcs.fc_single_primary (gcs.fc_master_slave)

	params protocols.Params
}

// ParseSettings builds Settings from one node's resolved parameters (each already within its
// declared range) and refuses the combinations Galera's own configuration check refuses:
// evs.user_send_window above evs.send_window, evs.keepalive_period above a third of
// evs.suspect_timeout (peers would be suspected between keepalives), evs.inactive_timeout
// shorter than evs.suspect_timeout, and a gcache.size that is not a size. It is the
// protocol's registered Parse, so the harness runs it before any node starts.
func ParseSettings(p protocols.Params) (protocols.Settings, error) {
	s := &Settings{
		SlaveThreads:      int(max(1, p.Int(ParamSlaveThreads))),
		RetryAutocommit:   int(p.Int(ParamRetryAutocommit)),
		SyncWait:          p.Int(ParamSyncWait),
		AutoIncControl:    p.Bool(ParamAutoIncControl),
		CommitOrder:       int(p.Int(ParamCommitOrder)),
		CausalReadTimeout: p.Duration(ParamCausalReadTimeout),
		UserSendWindow:    int(p.Int(ParamUserSendWindow)),
		SendWindow:        int(p.Int(ParamSendWindow)),
		UseAggregate:      p.Bool(ParamUseAggregate),
		MaxPacket:         int(p.Int(ParamMaxPacket)),
		Keepalive:         p.Duration(ParamKeepalive),
		CausalKeepalive:   p.Duration(ParamCausalKeepalive),
		SuspectTimeout:    p.Duration(ParamSuspectTimeout),
		InactiveTimeout:   p.Duration(ParamInactiveTimeout),
		JoinRetrans:       p.Duration(ParamJoinRetrans),
		Tick:              p.Duration(ParamRetransmitInterval),
		Weight:            int(p.Int(ParamWeight)),
		CertMaxLength:     p.Int(ParamCertMaxLength),
		CertLengthCheck:   p.Int(ParamCertLengthCheck),
		CertOptimisticPA:  p.Bool(ParamCertOptimisticPA),
		PCRecovery:        p.Bool(ParamPCRecovery),
		Bootstrap:         p.Bool(ParamPCBootstrap),
		FC: gcs.FCParams{Limit: p.Int(ParamFCLimit), Factor: p.Float(ParamFCFactor),
			SinglePrimary: p.Bool(ParamFCSinglePrimary)},
		params: p,
	}
	if s.UserSendWindow > s.SendWindow {
		return nil, fmt.Errorf("galera: %s (%d) must not exceed %s (%d): raise %s or lower %s",
			ParamUserSendWindow, s.UserSendWindow, ParamSendWindow, s.SendWindow, ParamSendWindow, ParamUserSendWindow)
	}
	if s.InactiveTimeout < s.SuspectTimeout {
		return nil, fmt.Errorf("galera: %s (%s) must not be shorter than %s (%s)",
			ParamInactiveTimeout, p.String(ParamInactiveTimeout), ParamSuspectTimeout, p.String(ParamSuspectTimeout))
	}
	if s.Keepalive > s.SuspectTimeout/3 {
		return nil, fmt.Errorf("galera: %s (%s) must be at most a third of %s (%s), or peers are suspected between keepalives",
			ParamKeepalive, p.String(ParamKeepalive), ParamSuspectTimeout, p.String(ParamSuspectTimeout))
	}
	var err error
	if s.GCacheSize, err = parseSize(p.String(ParamGCacheSize)); err != nil {
		return nil, fmt.Errorf("galera: %s: %w", ParamGCacheSize, err)
	}
	return s, nil
}

// DefaultSettings returns the settings of a node with every parameter at its default.
func DefaultSettings() *Settings {
	s, err := protocols.ResolveSettings(Params, ParseSettings, nil)
	if err != nil {
		panic("galera: the defaults fail: " + err.Error()) // Register refuses such a list first
	}
	return s.(*Settings)
}

// Params implements protocols.Settings: the resolved values under their real names.
func (s *Settings) Params() protocols.Params { return s.params }

// FCLimits is the flow-control interval [lower, upper] in a primary component of members
// nodes (gcs.Limits): upper = gcs.fc_limit scaled by sqrt(members) unless
// gcs.fc_single_primary, lower = upper*gcs.fc_factor.
func (s *Settings) FCLimits(members int) (lower, upper int64) { return s.FC.Limits(members) }

// SerialRemoteCommit reports whether remote write-sets commit one at a time in seqno order
// (repl.commit_order 2 or 3), so that more applier threads overlap only their apply, not
// their commit: the rate of a slow applier is then 1/commit time whatever
// wsrep_slave_threads says.
func (s *Settings) SerialRemoteCommit() bool { return s.CommitOrder == 2 || s.CommitOrder == 3 }

// SerialLocalCommit reports whether local transactions also commit in seqno order
// (repl.commit_order 3, NO_OOOC).
func (s *Settings) SerialLocalCommit() bool { return s.CommitOrder == 3 }

// Ticks converts a duration to whole EVS ticks (replbench.evs_tick), rounding up, at least
// one for a positive duration: a timer shorter than a tick still fires, on the next tick.
func (s *Settings) Ticks(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(max(1, (d+s.Tick-1)/s.Tick))
}

// EVSConfig is member self's EVS configuration in a group of n: the windows, aggregation
// and packet size as set, every timer in ticks.
func (s *Settings) EVSConfig(self, n int) gcs.Config {
	c := gcs.DefaultConfig(self, n)
	c.UserSendWindow = s.UserSendWindow
	c.SendWindow = s.SendWindow
	c.Aggregate = s.UseAggregate
	c.MaxPacket = s.MaxPacket
	c.KeepaliveTicks = s.Ticks(s.Keepalive)
	c.CausalKeepaliveTicks = s.Ticks(s.CausalKeepalive)
	c.SuspectTicks = s.Ticks(s.SuspectTimeout)
	c.JoinRetransTicks = s.Ticks(s.JoinRetrans)
	c.InactiveTicks = s.Ticks(s.InactiveTimeout)
	c.Weight = s.Weight
	return c
}

// CertConfig is the certifier's configuration.
func (s *Settings) CertConfig() cert.Config {
	c := cert.DefaultConfig()
	c.MaxLength = s.CertMaxLength
	c.LengthCheck = s.CertLengthCheck
	c.OptimisticPA = s.CertOptimisticPA
	return c
}

// stateRetry is how long a member whose state-transfer request found no donor waits before
// asking again.
const stateRetry = time.Second

// ReplicatorConfig is member self's replicator configuration in a group of n.
func (s *Settings) ReplicatorConfig(self, n int) replicator.Config {
	return replicator.Config{EVS: s.EVSConfig(self, n), Cert: s.CertConfig(), FC: s.FC, GCacheSize: s.GCacheSize,
		AutoIncControl: s.AutoIncControl, StateRetryTicks: s.Ticks(stateRetry)}
}

// parseSize reads a byte size as Galera's options do: a number with an optional K, M or G
// suffix (powers of 1024).
func parseSize(v string) (int64, error) {
	mult := int64(1)
	num := strings.TrimSpace(v)
	if k := len(num); k > 0 {
		switch num[k-1] {
		case 'k', 'K':
			mult, num = 1<<10, num[:k-1]
		case 'm', 'M':
			mult, num = 1<<20, num[:k-1]
		case 'g', 'G':
			mult, num = 1<<30, num[:k-1]
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("invalid size %q (accepted: bytes with an optional K, M or G suffix, such as 128M)", v)
	}
	return n * mult, nil
}
