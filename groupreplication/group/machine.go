package group

import (
	"time"

	"github.com/replbench/replbench/groupreplication/certifier"
	"github.com/replbench/replbench/groupreplication/flowcontrol"
	"github.com/replbench/replbench/groupreplication/membership"
)

// State is this member's MEMBER_STATE as it reports itself.
type State string

// The states a member reports about itself. UNREACHABLE is how it shows others it suspects.
const (
	Offline    State = "OFFLINE"    // not started, or shut down
	Recovering State = "RECOVERING" // joining: catching up before it serves
	Online     State = "ONLINE"     // in the group and serving
	Error      State = "ERROR"      // out of the group: super_read_only, auto-rejoin pending
)

// Config is what one member's machine is built from: who it is, and the settings that
// change what it decides. Durations are only compared with the instants ticks carry.
type Config struct {
	Self    int      // this member's index
	Members []string // every member's name, by index
	UUIDs   []string // every member's server_uuid, by index (elections break ties on it)

	SinglePrimary bool
	Consistency   Consistency // this member's sessions' level
	GTIDBlockSize int64
	FlowControl   flowcontrol.Config

	// Tick is the length of one Tick (0: 100 ms): retransmission waits are counted in ticks.
	Tick time.Duration
	// SuspectAfter is the silence after which a peer is UNREACHABLE (0: XCom's 5 s).
	SuspectAfter               time.Duration
	ExpelTimeout               time.Duration
	UnreachableMajorityTimeout time.Duration
	ExitAction                 string // READ_ONLY, OFFLINE_MODE or ABORT_SERVER
	AutorejoinTries            int
	MemberWeight               int
	// Incarnation tells this life of the member from its earlier ones: 0 at bootstrap,
	// a new value at every restart (the driver uses the clock). A restarted member
	// rebuilds its state from the agreed log, which holds its earlier lives' joins and
	// ONLINE messages too; only its own incarnation's count as its own.
	Incarnation int64
}

// Machine is one member's group state. Not safe for concurrent use: its driver serialises
// every call.
type Machine struct {
	cfg  Config
	cert *certifier.Certifier
	fc   *flowcontrol.Controller
	view *membership.View // changed only by agreed messages, so identical everywhere
	det  *membership.Detector

	state         State
	primary       int  // member index of the primary (-1 none); multi-primary: -1
	primaryChange bool // between NEW_PRIMARY and QUEUE_APPLIED
	everPrimary   bool // a primary has been set (bootstrap is over)
	lead          int  // raft leader's member index, -1 unknown

	unreachable    []bool // the detector's last report
	majorityLost   bool
	paused         bool      // out of the group: agreed messages are held (Effects.Held)
	joining        bool      // a rejoin is under way (RECOVERING)
	joined         bool      // this attempt's join was delivered (the view has this incarnation)
	joinRefused    bool      // the join was refused: the view holds an earlier incarnation
	leaving        bool      // STOP GROUP_REPLICATION: this member's own removal is proposed (Leave)
	left           bool      // that removal was delivered: OFFLINE, out of the view (Left)
	heardInc       []int64   // by member, the incarnation last heard from
	orphanSince    time.Time // a refused joiner has heard no view member since (checkOrphaned)
	rejoinAttempts int       // in the current stay in ERROR (reset once ONLINE)
	rejoinTotal    int64     // over the member's life
	exitTaken      bool      // auto-rejoin used up: the exit action holds
	errorReason    string
	lostLog        bool   // the log no longer reaches back to where this member is
	lostAt         uint64 // raft index of the last snapshot received instead of entries

	delivered []deliveredIDs // transaction/sync ids delivered, by origin (dedup.go)
	prepared  map[int64]*prepared
	waiting   map[int64]bool      // own transactions whose client waits for the verdict
	syncing   map[int64]bool      // own sync messages a client waits on
	pending   map[int64]*proposal // own transactions and syncs not yet delivered (retransmit.go)
	control   map[Kind]*proposal  // own control messages not yet delivered
	prepares  map[int64]*proposal // own AFTER prepares not yet delivered, by position
	rtt       rttEstimator
	ticks     int    // Tick calls so far
	campaign  int    // tick of the notifier's last campaign
	verdicts  uint64 // digest of every certification result, in order
	corrupt   int64  // agreed messages that did not decode
}

// prepared is one AFTER position: who has reported it prepared.
type prepared struct {
	from map[int]bool
	done bool
}

// New returns the machine of a member that has not started (OFFLINE). now is the instant
// its failure detector counts every member as last heard.
func New(cfg Config, now time.Time) *Machine {
	n := len(cfg.Members)
	m := &Machine{
		cfg:         cfg,
		cert:        certifier.New(cfg.GTIDBlockSize, !cfg.SinglePrimary),
		fc:          flowcontrol.New(cfg.FlowControl),
		view:        membership.NewView(cfg.UUIDs),
		state:       Offline,
		primary:     -1,
		lead:        -1,
		unreachable: make([]bool, n),
		heardInc:    make([]int64, n),
		delivered:   make([]deliveredIDs, n),
		prepared:    map[int64]*prepared{},
		waiting:     map[int64]bool{},
		syncing:     map[int64]bool{},
		pending:     map[int64]*proposal{},
		control:     map[Kind]*proposal{},
		prepares:    map[int64]*proposal{},
	}
	m.det = membership.NewDetector(membership.DetectorConfig{Self: cfg.Self, Members: n,
		SuspectAfter: cfg.SuspectAfter, ExpelTimeout: cfg.ExpelTimeout,
		UnreachableMajorityTimeout: cfg.UnreachableMajorityTimeout}, now)
	return m
}

// State returns this member's state.
func (m *Machine) State() State { return m.state }

// Primary returns the primary's member index (-1: none, and always in multi-primary mode).
func (m *Machine) Primary() int { return m.primary }

// Left reports whether this member left the group by its own Leave (STOP
// GROUP_REPLICATION), as opposed to being expelled or never having joined.
func (m *Machine) Left() bool { return m.left }

// Leaving reports whether this member's own removal is proposed and not yet delivered.
func (m *Machine) Leaving() bool { return m.leaving }

// Lead returns the raft leader's member index as last reported (-1: none).
func (m *Machine) Lead() int { return m.lead }

// MajorityLost reports whether this member's detector finds no majority reachable.
func (m *Machine) MajorityLost() bool { return m.majorityLost }

// Paused reports whether agreed messages are being held (this member is out of the group).
func (m *Machine) Paused() bool { return m.paused }

// CanDonate reports whether this member may serve a clone: ONLINE and processing messages.
func (m *Machine) CanDonate() bool { return m.state == Online && !m.paused }

// Certified returns the last position of the agreed order certified here.
func (m *Machine) Certified() int64 { return m.cert.Stats().Seqno }

// LostLog reports whether the log no longer reaches back to this member's position, and
// the raft index of the newest snapshot it was sent instead.
func (m *Machine) LostLog() (bool, uint64) { return m.lostLog, m.lostAt }

// Verdicts returns the digest of every certification result so far, in order: members that
// decided alike have equal digests.
func (m *Machine) Verdicts() uint64 { return m.verdicts }

// Admit counts one local transaction about to be sent and reports whether flow control
// lets it go now; if not, its writer waits for the next FlowStep.
func (m *Machine) Admit() bool { return m.fc.Admit() }

// Ready reports whether Start is over: ONLINE with a primary settled (single-primary) or a
// raft leader known (multi-primary); failed reports that the member went to ERROR instead.
func (m *Machine) Ready() (ready, failed bool) {
	ready = m.state == Online && (!m.cfg.SinglePrimary || (m.primary >= 0 && !m.primaryChange))
	return ready, m.state == Error
}

// GaveUp reports whether the auto-rejoin tries are used up (the exit action holds).
func (m *Machine) GaveUp() bool { return m.exitTaken }

// HoldsNewTransactions reports whether a new transaction must wait before its first
// statement: a newly elected primary with BEFORE_ON_PRIMARY_FAILOVER or stronger holds them
// until its backlog is applied.
func (m *Machine) HoldsNewTransactions() bool {
	return m.primaryChange && m.primary == m.cfg.Self && m.cfg.Consistency >= BeforeOnPrimaryFailover
}

// Status is a snapshot of what replication_group_members, replication_group_member_stats
// and the model's own counters show.
type Status struct {
	State         State
	Primary, Lead int
	ReadOnly      bool // super_read_only
	MajorityLost  bool
	RejoinTotal   int64
	ErrorReason   string
	// JoinRefused is set while a restarted member waits for its previous incarnation to
	// be expelled before it can join.
	JoinRefused bool
	// Incarnation is this member's incarnation (Config.Incarnation).
	Incarnation  int64
	ViewChanges  int64
	Quota        int64 // the flow-control quota (0: none)
	Cert         certifier.Stats
	GTIDExecuted string // GNO ranges of group_gtid_executed
	Corrupt      int64
}

// Status returns the snapshot.
func (m *Machine) Status() Status {
	return Status{
		State:        m.state,
		Primary:      m.primary,
		Lead:         m.lead,
		ReadOnly:     m.state != Online || (m.cfg.SinglePrimary && (m.primary != m.cfg.Self || m.primaryChange)),
		MajorityLost: m.majorityLost,
		RejoinTotal:  m.rejoinTotal,
		ErrorReason:  m.errorReason,
		JoinRefused:  m.joinRefused,
		Incarnation:  m.cfg.Incarnation,
		ViewChanges:  m.view.Changes(),
		Quota:        m.fc.Quota(),
		Cert:         m.cert.Stats(),
		GTIDExecuted: m.cert.GTIDExecutedSet(),
		Corrupt:      m.corrupt,
	}
}

// MemberRow is one row of performance_schema.replication_group_members as this member
// sees it.
type MemberRow struct {
	ID    string // MEMBER_ID (server_uuid)
	Host  string // MEMBER_HOST (node name)
	State string // MEMBER_STATE: ONLINE, RECOVERING, UNREACHABLE, ERROR, OFFLINE
	Role  string // MEMBER_ROLE: PRIMARY or SECONDARY
}

// Members returns replication_group_members as this member sees it. A member in ERROR or
// OFFLINE shows only itself, as the server does; otherwise every member of its view, with
// the ones it suspects shown UNREACHABLE.
func (m *Machine) Members() []MemberRow {
	self := m.cfg.Self
	role := func(i int) string {
		if !m.cfg.SinglePrimary || i == m.primary {
			return "PRIMARY"
		}
		return "SECONDARY"
	}
	if m.state == Error || m.state == Offline {
		return []MemberRow{{ID: m.cfg.UUIDs[self], Host: m.cfg.Members[self], State: string(m.state), Role: "SECONDARY"}}
	}
	var rows []MemberRow
	for i, node := range m.cfg.Members {
		if !m.view.In(i) && i != self {
			continue
		}
		st := m.view.State(i).String()
		switch {
		case i == self:
			st = string(m.state)
		case m.unreachable[i]:
			st = "UNREACHABLE"
		}
		rows = append(rows, MemberRow{ID: m.cfg.UUIDs[i], Host: node, State: st, Role: role(i)})
	}
	return rows
}
