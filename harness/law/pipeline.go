package law

import (
	"fmt"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/servicetime"
)

// commitPath is the commit-path time T of a single-row autocommit write on member n under
// its cost profile (replbench.cost_profile): from its write-set's SAFE delivery to the
// client's next write-set, the certification, the engine commit, the redo flush (an fsync
// with innodb_flush_log_at_trx_commit=1), the reply and the next statement (its round trip
// and CPU), all uncontended. 0 for profile none or a protocol without profiles. It is the
// T of the EVS window rule (galera/gcs window_test.go).
func (m model) commitPath(n string) (time.Duration, string) {
	nd, ok := m.nodes[n]
	if !ok || nd.Settings == nil {
		return 0, ""
	}
	name, ok := nd.Settings.Params()[protocols.CostProfileParam]
	if !ok || name == servicetime.None {
		return 0, ""
	}
	p, err := servicetime.Load(name)
	if err != nil || p.IsZero() {
		return 0, ""
	}
	us := p.Replication.CertifyUs + p.Replication.CertifyKeyUs + p.Commit.EngineUs +
		p.Client.StatementRTTUs + p.Statement.InsertUs
	if nd.Engine.Sync {
		us += p.Commit.RedoFsyncUs
	} else {
		us += p.Commit.RedoWriteUs
	}
	return servicetime.Us(us), p.Name
}

// galeraWindowRule is the mean commit latency the EVS sending rules give one writer with
// more threads than evs.user_send_window and commit-path time T, R being its floor: when
// the writer is the far member (every message it receives answers one of its own, R after
// it sent it) the clients split into two batches half a round apart and each waits for the
// other's answer, R + max(0, R/2 - T); when the far member is another node, the near
// members' answers carry a queued write-set as soon as the far member's answer has opened
// the window, R. Checked exactly in virtual time by galera/gcs TestWindowRuleWithCommitPathTime.
func (m model) galeraWindowRule(w string, floor, T time.Duration) (time.Duration, bool) {
	near := time.Duration(-1)
	for _, j := range m.in.Members {
		if j == w {
			continue
		}
		if r := m.rtt(w, j); near < 0 || r < near {
			near = r
		}
	}
	writerFar := near >= 0 && 2*near > floor
	if !writerFar {
		return floor, false
	}
	return floor + max(0, floor/2-T), true
}

// galeraPipelineNote is the sentence the window rule adds for a single writer.
func (m model) galeraPipelineNote(w string, floor time.Duration, threads int, uwin int64) string {
	T, prof := m.commitPath(w)
	lat, far := m.galeraWindowRule(w, floor, T)
	where := "another member is the far one, so by the EVS sending rules alone the near members' answers carry queued write-sets once the far member's answer opens the window, about one floor per commit (the full model, with the provider's own EVS traffic and a commit path of about a millisecond, measures up to 1.6 floors)"
	if far {
		where = fmt.Sprintf("the writer is the far member, so queued write-sets wait for answers to its own sends: R + max(0, R/2 - T) = %s per commit", fmtD(lat))
	}
	src := "profile none: T = 0"
	if prof != "" {
		src = fmt.Sprintf("cost profile %s: T = %s of certification, commit, redo flush, reply and next statement", prof, fmtD(T))
	}
	return fmt.Sprintf(" Pipeline (EVS window with commit-path time T, %s): with %d threads over evs.user_send_window=%d, %s, about %s tps.", src, threads, uwin, where, FormatTPS(float64(threads)/lat.Seconds()))
}
