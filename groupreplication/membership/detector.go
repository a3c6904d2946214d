package membership

import "time"

// DefaultSuspectAfter is how long a member may be silent before the others suspect it
// (XCom's detector: 5 s, not configurable in the server).
const DefaultSuspectAfter = 5 * time.Second

// Majority is how many members of a view of n a decision needs: floor(n/2)+1. A view change
// (an expulsion included) and every agreed message need that many; a member that reaches
// fewer, itself counted, blocks. The bounds (harness/law) count the same majority.
func Majority(n int) int { return n/2 + 1 }

// DetectorConfig configures one member's failure detector.
type DetectorConfig struct {
	// Self is this member's index; Members is the configured group size.
	Self, Members int
	// SuspectAfter is the silence after which a peer is suspected (UNREACHABLE).
	SuspectAfter time.Duration
	// ExpelTimeout is group_replication_member_expel_timeout: how long a peer stays
	// suspected before the notifier proposes its expulsion.
	ExpelTimeout time.Duration
	// UnreachableMajorityTimeout is group_replication_unreachable_majority_timeout: how
	// long this member waits without a majority before it gives up (rolls back what is
	// pending and goes to ERROR). 0 waits for ever, which is the server's default.
	UnreachableMajorityTimeout time.Duration
}

// Detector is one member's failure detector. Its inputs are Heard (any message from a
// peer), SetView (the group view changed) and Tick (time passed); its output is the Report
// that Tick returns. Not safe for concurrent use.
type Detector struct {
	cfg          DetectorConfig
	heard        []time.Time
	suspected    []time.Time // when the suspicion began; zero: not suspected
	proposed     []time.Time // when this member last proposed the peer's expulsion
	inView       []bool
	lostSince    time.Time // when this member lost the majority; zero: it has one
	timeoutFired bool
}

// Report is what the detector concludes at one Tick.
type Report struct {
	// Unreachable marks, by member index, the view members this member suspects.
	Unreachable []bool
	// Expel lists the members whose expel timeout has run out, when this member is the
	// notifier (the lowest-numbered view member it does not suspect) and can still reach
	// a majority: the caller proposes their expulsion through the log. A proposal is
	// repeated every SuspectAfter until the view changes, in case the first one was lost.
	Expel []int
	// MajorityLost reports that this member cannot reach a majority of the view (which
	// still counts suspected members until they are expelled): nothing it proposes can be
	// agreed, so its commits block.
	MajorityLost bool
	// Notifier is the member that proposes expulsions as this member sees it (-1 if it
	// has no majority).
	Notifier int
	// GiveUp is set once, at the Tick where UnreachableMajorityTimeout has run out: the
	// member rolls back its pending transactions and goes to ERROR.
	GiveUp bool
}

// NewDetector returns a detector that has just heard from every member.
func NewDetector(cfg DetectorConfig, now time.Time) *Detector {
	if cfg.SuspectAfter <= 0 {
		cfg.SuspectAfter = DefaultSuspectAfter
	}
	d := &Detector{cfg: cfg,
		heard:     make([]time.Time, cfg.Members),
		suspected: make([]time.Time, cfg.Members),
		proposed:  make([]time.Time, cfg.Members),
		inView:    make([]bool, cfg.Members),
	}
	for i := range d.inView {
		d.inView[i] = true
	}
	d.Reset(now)
	return d
}

// Reset forgets every suspicion and counts every member as heard at now: a member that
// (re)joins the group starts with a clean slate.
func (d *Detector) Reset(now time.Time) {
	for i := range d.heard {
		d.heard[i] = now
		d.suspected[i] = time.Time{}
		d.proposed[i] = time.Time{}
	}
	d.lostSince = time.Time{}
	d.timeoutFired = false
}

// Heard records a message from member m. A suspect that is heard from again before it is
// expelled is no longer suspected (it catches up from the log as the same incarnation).
func (d *Detector) Heard(m int, now time.Time) {
	if m < 0 || m >= len(d.heard) || m == d.cfg.Self {
		return
	}
	if now.After(d.heard[m]) {
		d.heard[m] = now
	}
	d.suspected[m] = time.Time{}
	d.proposed[m] = time.Time{}
}

// SetView tells the detector which members are in the group view. Members outside it are
// neither suspected nor counted for the majority.
func (d *Detector) SetView(inView []bool) {
	for i := range d.inView {
		in := i < len(inView) && inView[i]
		if in != d.inView[i] {
			d.proposed[i] = time.Time{}
			if !in {
				d.suspected[i] = time.Time{}
			}
		}
		d.inView[i] = in
	}
}

// Tick advances the detector to now and reports.
func (d *Detector) Tick(now time.Time) Report {
	r := Report{Unreachable: make([]bool, len(d.heard))}
	size, reachable := 0, 0
	for i := range d.heard {
		if !d.inView[i] {
			continue
		}
		size++
		if i == d.cfg.Self {
			reachable++
			continue
		}
		if d.suspected[i].IsZero() && now.Sub(d.heard[i]) >= d.cfg.SuspectAfter {
			d.suspected[i] = d.heard[i].Add(d.cfg.SuspectAfter)
		}
		if d.suspected[i].IsZero() {
			reachable++
		} else {
			r.Unreachable[i] = true
		}
	}
	r.MajorityLost = size > 0 && reachable < Majority(size)
	if !r.MajorityLost {
		d.lostSince, d.timeoutFired = time.Time{}, false
	} else if d.lostSince.IsZero() {
		d.lostSince = now
	}
	if r.MajorityLost && d.cfg.UnreachableMajorityTimeout > 0 && !d.timeoutFired &&
		now.Sub(d.lostSince) >= d.cfg.UnreachableMajorityTimeout {
		d.timeoutFired, r.GiveUp = true, true
	}
	r.Notifier = -1
	if !r.MajorityLost {
		r.Notifier = d.notifier()
	}
	if r.Notifier != d.cfg.Self {
		return r
	}
	for i, since := range d.suspected {
		if since.IsZero() || !d.inView[i] || now.Sub(since) < d.cfg.ExpelTimeout {
			continue
		}
		if !d.proposed[i].IsZero() && now.Sub(d.proposed[i]) < d.cfg.SuspectAfter {
			continue
		}
		d.proposed[i] = now
		r.Expel = append(r.Expel, i)
	}
	return r
}

// notifier is the member that proposes expulsions as this member sees it: the lowest
// index in the view that it does not suspect. XCom also picks the notifier by node number.
func (d *Detector) notifier() int {
	for i := range d.inView {
		if d.inView[i] && (i == d.cfg.Self || d.suspected[i].IsZero()) {
			return i
		}
	}
	return -1
}
