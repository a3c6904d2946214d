package harness

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replbench/replbench/harness/checker"
)

// Issue 16, the semisync-fallback-crash scenario's mechanism: after
// rpl_semi_sync_master_timeout the source falls back to async and goes on acknowledging
// commits that only it has; when it then crashes and a replica is promoted, those commits
// are in no surviving replica, and the lost-acknowledged checker names every one of them
// as missing on both replicas (the old source, back as a replica, still holds them: errant
// transactions). Without the cut nothing is lost (TestNodeFaultsKeepAcknowledgedWrites,
// crash=n1 with promote=n2).
func TestSemisyncFallbackThenSourceCrashLosesAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster for seconds")
	}
	r := runAcked(t, "semisync", map[string]string{"rpl_semi_sync_master_timeout": "200"}, "n1", 2*time.Second,
		"500ms:partition=n1|n2,n3", "1200ms:crash=n1", "1400ms:promote=n2", "1600ms:heal")
	v, desc := lostVerdict(t, r)
	t.Log(desc)
	if v.Valid != checker.False || len(v.Lost) == 0 {
		t.Fatalf("want acknowledged commits reported lost after the fallback: %s: %s", v.Valid, desc)
	}
	for _, l := range v.Lost {
		if !slices.Contains(l.MissingOn, "n2") || !slices.Contains(l.MissingOn, "n3") {
			t.Fatalf("lost %s: want it missing on both replicas", l)
		}
		if l.AckedNs < int64(500*time.Millisecond) {
			t.Fatalf("lost %s: acknowledged before the cut, while semi-sync still waited for a replica", l)
		}
	}
	// Everything acknowledged before the cut (and the timeout) reached a replica: the
	// lost ones are at most what n1 could acknowledge between the fallback and its crash.
	if len(v.Lost) >= r.acked {
		t.Fatalf("%d of %d acknowledged commits lost: the ones before the cut must survive", len(v.Lost), r.acked)
	}
}

// Issue 16: sync_binlog is a knob of its own. An async source keeps committing while its
// replicas are cut off, then crashes and restarts (innodb_flush_log_at_trx_commit=1, so
// its engine keeps every commit). With sync_binlog=1 its binlog file kept every event too,
// and the replicas fetch them after the heal: nothing acknowledged is lost. With 0 the
// crash dropped the unsynced binlog (the OS writes it back only after
// vm.dirty_expire_centisecs, 30 s, longer than this run): the source still has the rows,
// but its binlog does not, so the replicas are refused (1236) and never receive them, and
// the checker names the commits as missing on both.
func TestSyncBinlogDecidesWhatReplicasGetAfterASourceCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs clusters for seconds")
	}
	for _, sb := range []string{"1", "0"} {
		t.Run("sync_binlog="+sb, func(t *testing.T) {
			r := runAcked(t, "async", map[string]string{"sync_binlog": sb}, "n1", 1500*time.Millisecond,
				"300ms:partition=n1|n2,n3", "1s:crash=n1", "1100ms:restart=n1", "1200ms:heal")
			v, desc := lostVerdict(t, r)
			t.Log(desc)
			if r.acked == 0 {
				t.Fatalf("nothing acknowledged: %s", desc)
			}
			if sb == "1" {
				if v.Valid != checker.True || !r.conv.ok {
					t.Fatalf("sync_binlog=1 lost acknowledged commits: %s", desc)
				}
				return
			}
			if v.Valid != checker.False || len(v.Lost) == 0 {
				t.Fatalf("sync_binlog=0: want the commits the binlog lost reported: %s: %s", v.Valid, desc)
			}
			for _, l := range v.Lost {
				if l.Node != "n1" || !slices.Contains(l.MissingOn, "n2") || !slices.Contains(l.MissingOn, "n3") || slices.Contains(l.MissingOn, "n1") {
					t.Fatalf("lost %s: want it on n1 only, missing on both replicas", l)
				}
			}
		})
	}
}

// A promote while another replica's restart is still joining the old source: the joining
// replica (n3, restarted while the source n1 is down, so its Start waits for n1's answer)
// is stopped and restarted as a replica of the promoted n2. Before, it kept asking n1 until
// the rejoin deadline and stayed down (or, had n1 come back, rejoined the old source).
func TestPromoteRepointsAJoiningReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a semi-sync cluster for 2 s")
	}
	p, s := checkedRun(t, "semisync", "list-append", map[string]string{"read": "for-update"}, nil, "all", 2*time.Second,
		"500ms:crash=n1", "600ms:crash=n3", "800ms:restart=n3", "1s:promote=n2")
	joined, repointed := false, false
	for _, f := range p.Faults {
		joined = joined || strings.Contains(f, "n3 serving again")
		repointed = repointed || strings.Contains(f, "n3 was still rejoining with n1 as the source: stopped and restarted as a replica of n2")
	}
	if !joined || !repointed || !p.Converged {
		t.Errorf("n3 repointed %v, serving again %v, converged %v (%s):%s", repointed, joined, p.Converged, p.ConvergenceDetail, describe(p, s))
	}
	if len(s.LostAcknowledged) != 0 {
		t.Errorf("%d acknowledged appends lost:%s", len(s.LostAcknowledged), describe(p, s))
	}
}
