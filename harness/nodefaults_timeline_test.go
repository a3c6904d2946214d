package harness

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/protocols"
)

func parseFaults(t *testing.T, ss ...string) []FaultEvent {
	t.Helper()
	var out []FaultEvent
	for _, s := range ss {
		f, err := ParseFault(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		out = append(out, f)
	}
	return out
}

// Every compound timeline is either accepted or refused before the run with the reason.
func TestCheckTimeline(t *testing.T) {
	members := []string{"n1", "n2", "n3"}
	for _, tc := range []struct {
		protocol string
		faults   []string
		want     string // "" : accepted
	}{
		// Node faults inside network faults: accepted.
		{"galera", []string{"1s:partition=n1|n2,n3", "1500ms:crash=n1", "2s:restart=n1", "3s:heal"}, ""},
		{"galera", []string{"1s:partition=n1|n2,n3", "1500ms:crash=n1", "2s:heal", "3s:restart=n1"}, ""},
		{"galera", []string{"1s:partition=n1|n2,n3", "1500ms:crash=all", "2s:restart=all", "3s:heal"}, ""},
		{"galera", []string{"1s:pause=n1", "1500ms:kill=n1", "2s:restart=n1"}, ""},
		{"galera", []string{"1s:pause=n1", "1500ms:kill=all", "2s:restart=all"}, ""},
		{"galera", []string{"1s:pause=n1", "1500ms:crash=n2", "2s:restart=n2", "3s:resume=n1"}, ""},
		{"galera", []string{"1s:oneway=n1>n2", "1500ms:stop=n2", "2s:restart=n2", "3s:heal"}, ""},
		{"galera", []string{"1s:crash=n1", "1500ms:restart=n1", "1600ms:pause=n1", "2s:resume=n1"}, ""},
		{"galera", []string{"1s:crash=n1", "1200ms:crash=all", "2s:restart=all"}, ""},
		{"galera", []string{"1s:clog=n1-n2", "1500ms:heal", "2s:kill=n1", "3s:restart=n1"}, ""},
		{"galera", []string{"1s:clog=n1-n2", "1500ms:unclog=n1-n2", "2s:kill=n2", "3s:restart=n2"}, ""},
		{"galera", []string{"1s:clog=n2>n3", "1500ms:kill=n1", "3s:restart=n1", "3s:heal"}, ""},
		{"semisync", []string{"1s:partition=n1|n2,n3", "1500ms:crash=n1", "2s:promote=n2", "3s:heal", "3s:restart=n1"}, ""},
		// Refused, each with its reason.
		{"galera", []string{"1s:crash=n1", "2s:pause=n1"}, "n1 is down since 1s:crash=n1: there is no process to freeze"},
		{"galera", []string{"1s:pause=n1", "2s:kill=n1", "3s:resume=n1"}, "n1's pause ended when it went down at 2s:kill=n1"},
		{"galera", []string{"1s:pause=n1", "2s:pause=n1"}, "n1 is paused already"},
		{"galera", []string{"1s:resume=n2"}, "n2 is not paused"},
		{"galera", []string{"1s:restart=n1"}, "n1 is not down"},
		{"galera", []string{"1s:restart=all"}, "no node is down"},
		{"galera", []string{"1s:kill=n1", "2s:crash=n1"}, "n1 is down already since 1s:kill=n1"},
		{"galera", []string{"1s:crash=all", "2s:stop=all"}, "every node is down already"},
		{"galera", []string{"1s:clog=n1-n2", "2s:crash=n1"}, "n1 has a clogged link since 1s:clog=n1-n2"},
		{"galera", []string{"1s:clog=n3>n2", "2s:kill=all"}, "has a clogged link since 1s:clog=n3>n2"},
		{"semisync", []string{"1s:crash=n2", "2s:promote=n2"}, "n2 is down since 1s:crash=n2"},
		{"semisync", []string{"1s:promote=n1"}, "n1 is the source already"},
		{"semisync", []string{"1s:promote=n2", "2s:promote=n2"}, "n2 is the source already"},
	} {
		name := tc.protocol + "/" + strings.Join(tc.faults, ",")
		p, err := protocols.Lookup(tc.protocol)
		if err != nil {
			t.Fatal(err)
		}
		err = checkTimeline(parseFaults(t, tc.faults...), members, *p)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s refused: %v", name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want a refusal saying %q", name, err, tc.want)
		}
	}
}

// Expand refuses a timeline that means nothing with one line naming the event, and the
// refusal of what a nemesis drew names the nemesis.
func TestExpandChecksTimeline(t *testing.T) {
	s := &Scenario{Protocol: "galera", Workload: WorkloadSpec{Name: "insert"}, Duration: Duration(10 * time.Second), Faults: parseFaults(t, "1s:crash=n1", "2s:pause=n1")}
	_, err := Expand(s)
	if err == nil || !strings.Contains(err.Error(), "fault 2s:pause=n1: n1 is down since 1s:crash=n1") || strings.Contains(err.Error(), "\n") {
		t.Errorf("crash then pause: %v", err)
	}
	// An explicit crash that the compound nemesis's schedule collides with.
	p, _ := protocols.Lookup("galera")
	drawn := NemesisCompound(1, 0, 10*time.Second, memberNames(3), *p)
	first := slices.IndexFunc(drawn, func(f FaultEvent) bool { return f.Kind == FaultKill || f.Kind == FaultCrash || f.Kind == FaultStop })
	clash := drawn[first]
	clash.At -= time.Millisecond
	s.Faults = append(parseFaults(t, "0s:random=1,compound"), clash)
	if clash.Node != AllNodes {
		clash.Node = AllNodes
		s.Faults[1] = clash
	}
	_, err = Expand(s)
	if err == nil || !strings.Contains(err.Error(), "the timeline includes what 0s:random=1,compound drew") {
		t.Errorf("explicit %s inside the nemesis: %v", clash, err)
	}
}

// The compound nemesis repeats by seed, passes checkTimeline for every seed, puts every
// node fault inside a network fault or a pause, and over a range of seeds draws every
// combination its distribution names: each outer fault with each inner fault, on the
// outer fault's node, on another node and on all, restarted inside and after the window.
func TestNemesisCompoundIsValid(t *testing.T) {
	for _, proto := range []string{"galera", "semisync", "gr"} {
		p, err := protocols.Lookup(proto)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{3, 5} {
			members := memberNames(n)
			seen := map[string]bool{}
			for seed := int64(1); seed <= 150; seed++ {
				a := NemesisCompound(seed, time.Second, 30*time.Second, members, *p)
				if b := NemesisCompound(seed, time.Second, 30*time.Second, members, *p); !slices.Equal(strs(a), strs(b)) {
					t.Fatalf("%s seed %d drew two schedules", proto, seed)
				}
				if err := checkTimeline(a, members, *p); err != nil {
					t.Fatalf("%s, %d nodes, seed %d: %v\n%s", proto, n, seed, err, strings.Join(strs(a), " "))
				}
				// Rounds: an outer fault, a node fault and its restart, then the undo
				// (none when the paused node itself went down).
				var outer FaultEvent
				var down FaultEvent
				for _, f := range a {
					if f.At < time.Second || f.At > 30*time.Second-nemesisTail {
						t.Fatalf("%s seed %d: %s outside the nemesis's window", proto, seed, f)
					}
					switch f.Kind {
					case FaultPartition, FaultOneWay, FaultPause:
						outer = f
					case FaultKill, FaultCrash, FaultStop:
						if outer.Kind == "" || f.At <= outer.At {
							t.Fatalf("%s seed %d: %s is not inside a network fault", proto, seed, f)
						}
						down = f
					case FaultRestart:
						if f.Node != down.Node {
							t.Fatalf("%s seed %d: %s restarts what %s did not take down", proto, seed, f, down)
						}
						x := outer.Node
						switch outer.Kind {
						case FaultPartition:
							x = outer.Groups[0][0]
						case FaultOneWay:
							x = outer.From
						}
						where := "other"
						switch down.Node {
						case AllNodes:
							where = "all"
						case x:
							where = "x"
						}
						undo := func(g FaultEvent) bool {
							return g.At > outer.At && (g.Kind == FaultHeal || (g.Kind == FaultResume && g.Node == outer.Node))
						}
						when := "after"
						switch {
						case outer.Kind == FaultPause && where != "other":
							// The paused node went down: no resume, so the schedule
							// does not show where the window ended.
							when = "-"
							if slices.ContainsFunc(a, func(g FaultEvent) bool { return undo(g) && g.At < f.At }) {
								t.Fatalf("%s seed %d: resume of %s after it went down", proto, seed, outer.Node)
							}
						case !slices.ContainsFunc(a, func(g FaultEvent) bool { return undo(g) && g.At < f.At }):
							when = "inside"
						}
						seen[fmt.Sprintf("%s/%s/%s/%s", outer.Kind, down.Kind, where, when)] = true
					}
				}
			}
			for _, o := range []FaultKind{FaultPartition, FaultOneWay, FaultPause} {
				for _, i := range []FaultKind{FaultKill, FaultCrash, FaultStop} {
					for _, w := range []string{"x", "other", "all"} {
						whens := []string{"inside", "after"}
						if o == FaultPause && w != "other" {
							whens = []string{"-"}
						}
						for _, when := range whens {
							if k := fmt.Sprintf("%s/%s/%s/%s", o, i, w, when); !seen[k] {
								t.Errorf("%s on %d nodes: 150 seeds never drew %s", proto, n, k)
							}
						}
					}
				}
			}
		}
	}
	// Without a restart the compound nemesis is the one-at-a-time one (every built-in
	// protocol restarts now, so a copy of standalone stands for one that cannot).
	p, _ := protocols.Lookup("standalone")
	norestart := *p
	norestart.Rejoins = false
	if a, b := NemesisCompound(3, 0, 20*time.Second, []string{"n1"}, norestart), NemesisSchedule(3, 0, 20*time.Second, []string{"n1"}, norestart); !slices.Equal(strs(a), strs(b)) {
		t.Error("a protocol that cannot restart: its compound nemesis is not its single-fault one")
	}
}

// random's options parse and print back.
func TestParseRandomOptions(t *testing.T) {
	for _, s := range []string{"0s:random", "1s:random=7", "1s:random=compound", "1s:random=7,compound"} {
		f, err := ParseFault(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if f.String() != s {
			t.Errorf("%s prints back as %s", s, f)
		}
		if f.Compound != strings.Contains(s, "compound") {
			t.Errorf("%s: compound %v", s, f.Compound)
		}
	}
	for _, s := range []string{"1s:random=compound,7", "1s:random=7,7", "1s:random=7,compound,compound", "1s:random=overlap"} {
		if _, err := ParseFault(s); err == nil || !strings.Contains(err.Error(), "random=7,compound") {
			t.Errorf("%s: %v, want a refusal naming the accepted forms", s, err)
		}
	}
}

// Compound faults end to end: a node fault inside a network fault is carried out, the node
// comes back (its rejoin waiting for the heal where it is cut off), nothing acknowledged is
// lost at innodb_flush_log_at_trx_commit=1 and the cluster converges; a crash of a node whose
// restart is still under way abandons that rejoin (recorded) and the next restart brings it
// back.
func TestCompoundFaultsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs clusters for seconds")
	}
	for _, tc := range []struct {
		protocol, writers string
		faults            []string
		record            string // a fault record line that must appear
	}{
		// Jepsen's crash during a partition; the restart while still partitioned.
		{"galera", "all", []string{"300ms:partition=n1|n2,n3", "600ms:crash=n1", "900ms:restart=n1", "1500ms:heal"}, "n1 serving again after crash"},
		// A coordinated crash of a split cluster, restarted while still split.
		{"galera", "all", []string{"300ms:partition=n1|n2,n3", "600ms:crash=all", "900ms:restart=all", "1500ms:heal"}, "n2 serving again after crash"},
		// A kill of a paused process ends the pause.
		{"semisync", "n1", []string{"300ms:pause=n2", "600ms:kill=n2", "1s:restart=n2"}, "n2 serving again after kill"},
		// The source crashes inside a partition and restarts while still cut off.
		{"semisync", "n1", []string{"300ms:partition=n1|n2,n3", "600ms:crash=n1", "900ms:restart=n1", "1500ms:heal"}, "n1 serving again after crash"},
		// A crash while the restart is still joining (its rejoin waits for the heal).
		{"galera", "all", []string{"300ms:partition=n3|n1,n2", "500ms:crash=n3", "700ms:restart=n3", "1s:crash=n3", "1500ms:heal", "1700ms:restart=n3"}, "crash n3 while it rejoined"},
	} {
		t.Run(tc.protocol+"/"+strings.Join(tc.faults, ","), func(t *testing.T) {
			r := runAcked(t, tc.protocol, nil, tc.writers, 2500*time.Millisecond, tc.faults...)
			v, desc := lostVerdict(t, r)
			if v.Valid != checker.True || !r.conv.ok || r.acked == 0 {
				t.Fatalf("%s: %s", v.Valid, desc)
			}
			if !slices.ContainsFunc(r.applied, func(s string) bool { return strings.Contains(s, tc.record) }) {
				t.Errorf("no %q in the record: %s", tc.record, desc)
			}
		})
	}
}
