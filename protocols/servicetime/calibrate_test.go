package servicetime

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The built-in profiles are exactly what `replbench calibrate` derives from the recorded
// single-node probes: nothing was edited by hand (or fitted to a cluster result) afterwards.
func TestBuiltinProfilesAreTheCalibration(t *testing.T) {
	read := func(names ...string) Probes {
		var ps Probes
		for _, n := range names {
			f, err := os.Open(calibrationDir + n)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseProbes(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			got.Renumber(ps)
			ps = append(ps, got...)
		}
		return ps
	}
	standalone := []string{"session1-standalone-probes.txt", "session2-standalone-flush2-probes.txt", "session3-standalone-probes.txt"}
	ps := read(standalone...)
	withCert := read(append(standalone, "session1-cert-probes.txt", "session3-cert-probes.txt")...)
	for name, server := range map[string]string{"mariadb-10.11": "standalone", "galera-4-mariadb-10.11": "galera"} {
		in := ps
		if server == "galera" {
			in = withCert
		}
		want, err := Calibrate(name, server, in, 2)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if *got != *want {
			t.Errorf("built-in %s differs from replbench calibrate's output:\n got %+v\nwant %+v", name, *got, *want)
		}
	}
	ins1, _ := ps.mean("standalone", 1, "insert")
	ins2, _ := ps.mean("standalone", 2, "insert")
	p, _ := Load("mariadb-10.11")
	if p.Commit.RedoFsyncUs != ins1-ins2 {
		t.Errorf("redo_fsync_us %g, want the flush=1 insert less the flush=2 one, %g", p.Commit.RedoFsyncUs, ins1-ins2)
	}
}

func TestCalibrateNamesWhatIsMissing(t *testing.T) {
	ps, err := ParseProbes(strings.NewReader("== standalone flush=2\nn1   ping          c=1      28931 ops/s  mean     34us  p50 21us\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Calibrate("x", "standalone", ps, 2); err == nil || !strings.Contains(err.Error(), "no insert probe") {
		t.Fatalf("err = %v, want one naming the missing insert probe", err)
	}
	if _, err := Calibrate("x", "mysql", ps, 2); err == nil || !strings.Contains(err.Error(), "accepted: standalone, galera") {
		t.Fatalf("err = %v", err)
	}
}

// standaloneProbes is a standalone server's probes: ping 30 us, insert 100 us at flush=2
// and 900 us at flush=1, so insert_us 70 and redo_fsync_us 800.
const standaloneProbes = `== standalone flush=1
n1 insert c=1 1000 ops/s mean 900us
== standalone flush=2
n1 ping c=1 20000 ops/s mean 30us
n1 point_select c=1 10000 ops/s mean 80us
n1 insert c=1 10000 ops/s mean 100us
n1 update c=1 8000 ops/s mean 120us
n1 commit c=1 3000 ops/s mean 330us
`

// What wsrep adds to a c=1 insert is split by the utilisation law at the highest client
// count both servers were probed at: on 2 cores, 10 000 and 20 000 inserts/s mean 200 and
// 100 us of CPU per commit, so 100 us of the one-member cluster's extra 150 us is CPU and
// 50 us is waiting. A CPU figure above the c=1 difference is capped by it, and without
// probes above one client everything stays CPU.
func TestCalibrateSplitsCertificationIntoCPUAndWait(t *testing.T) {
	base := standaloneProbes
	for _, c := range []struct {
		name       string
		extra      string
		cpu, wait  float64
		wantSource string
	}{
		{"split", "n1 insert c=16 20000 ops/s mean 800us\n== galera flush=2\nn1 insert c=1 4000 ops/s mean 250us\nn1 insert c=16 10000 ops/s mean 1600us\n", 100, 50, "c=16 insert ops/s galera 10000, standalone 20000"},
		{"capped", "n1 insert c=16 20000 ops/s mean 800us\n== galera flush=2\nn1 insert c=1 4000 ops/s mean 250us\nn1 insert c=16 2000 ops/s mean 8000us\n", 150, 0, "c=16"},
		{"one client only", "== galera flush=2\nn1 insert c=1 4000 ops/s mean 250us\n", 150, 0, "one-member galera insert 250"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ps, err := ParseProbes(strings.NewReader(base + c.extra))
			if err != nil {
				t.Fatal(err)
			}
			p, err := Calibrate("g", "galera", ps, 2)
			if err != nil {
				t.Fatal(err)
			}
			if p.Replication.CertifyUs != c.cpu || p.Replication.CertifyWaitUs != c.wait {
				t.Fatalf("certify_us %v, certify_wait_us %v; want %v and %v", p.Replication.CertifyUs, p.Replication.CertifyWaitUs, c.cpu, c.wait)
			}
			if !strings.Contains(p.Measured, c.wantSource) {
				t.Errorf("measured does not record the figures: %s", p.Measured)
			}
		})
	}
}

// The certification probe's rounds (wsrep_on=1 against wsrep_on=0 on one server) take
// precedence over a one-member figure against a separate standalone server: the medians over
// the rounds give the c=1 difference (90, 100, 120 -> 100 us) and the CPU at c=4 (2 cores x
// (1/8000 - 1/10000) s = 50 us each round), the rest is the wait. Two sessions read
// together keep their rounds apart (Renumber), and a figure probed in both is their median.
func TestCalibrateFromCertificationRounds(t *testing.T) {
	standalone := standaloneProbes
	round := func(r int, on, off float64) string {
		return fmt.Sprintf("== galera wsrep_on=1 round=%d flush=2\nn1 insert c=1 1 ops/s mean %.0fus\nn1 insert c=4 8000 ops/s mean 1us\n"+
			"== galera wsrep_on=0 round=%d flush=2\nn1 insert c=1 1 ops/s mean %.0fus\nn1 insert c=4 10000 ops/s mean 1us\n", r, on, r, off)
	}
	parse := func(text string) Probes {
		ps, err := ParseProbes(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	// A second standalone session whose insert is 140 us: the median of 100 and 140 is 120.
	second := strings.Replace(standalone, "mean 100us", "mean 140us", 1)
	ps := parse(standalone + "== galera flush=2\nn1 insert c=1 1 ops/s mean 5000us\n" + round(1, 250, 160) + round(2, 250, 150))
	more := parse(second + round(1, 270, 150))
	more.Renumber(ps)
	ps = append(ps, more...)
	p, err := Calibrate("g", "galera", ps, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p.Statement.InsertUs != 90 || p.Replication.CertifyUs != 50 || p.Replication.CertifyWaitUs != 50 || p.Replication.ApplyRowUs != 90 {
		t.Fatalf("insert %v, certify %v, wait %v, apply_row %v; want 90 (median 120 - 30), 50, 50, 90", p.Statement.InsertUs, p.Replication.CertifyUs, p.Replication.CertifyWaitUs, p.Replication.ApplyRowUs)
	}
	if !strings.Contains(p.Measured, "3 rounds") || !strings.Contains(p.Measured, "90, 100, 120, median 100") {
		t.Errorf("measured does not record the rounds: %s", p.Measured)
	}
	// Rounds with only one half are an error naming what is needed.
	if _, err := Calibrate("g", "galera", parse(standalone+"== galera wsrep_on=1 round=1 flush=2\nn1 insert c=1 1 ops/s mean 250us\n"), 2); err == nil || !strings.Contains(err.Error(), "both wsrep_on=1 and wsrep_on=0") {
		t.Errorf("err %v, want one naming the missing half", err)
	}
}

// calibrationDir holds the probe files the built-in profiles come from
// (scripts/calibrate-mariadb.sh's sessions; make-profiles.py there rebuilds the profiles).
const calibrationDir = "../../docs/measurements/calibration-2026-12-04b/"

// With every probe also run at 16 clients, each statement's CPU is the utilisation law's
// there (2 cores / X less the ping's 2 cores / 40 000/s = 50 us), at most its one-client
// figure, and the rest of the one-client figure is its wait: point select 2/25 000 s - 50 =
// 30 us of its 50 (wait 20), insert 100 - 50 = 50 of 70 (wait 20), update 160 - 50 = 110,
// capped at its 90 (no wait), BEGIN/COMMIT (400 - 160 - 2 x 50) / 2 = 70 of 75 (wait 5).
// The applier's row is the insert's CPU.
func TestCalibrateSplitsStatementsIntoCPUAndWait(t *testing.T) {
	ps, err := ParseProbes(strings.NewReader(standaloneProbes + `n1 ping c=16 40000 ops/s mean 400us
n1 point_select c=16 25000 ops/s mean 640us
n1 insert c=16 20000 ops/s mean 800us
n1 update c=16 12500 ops/s mean 1280us
n1 commit c=16 5000 ops/s mean 3200us
== galera flush=2
n1 insert c=1 4000 ops/s mean 250us
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Calibrate("g", "galera", ps, 2)
	if err != nil {
		t.Fatal(err)
	}
	st := p.Statement
	got := []float64{st.SelectUs, st.SelectWaitUs, st.InsertUs, st.InsertWaitUs, st.UpdateUs, st.UpdateWaitUs, st.DeleteUs, st.DeleteWaitUs, st.OtherUs, st.OtherWaitUs, p.Replication.ApplyRowUs}
	want := []float64{30, 20, 50, 20, 90, 0, 90, 0, 70, 5, 50}
	if !slices.Equal(got, want) {
		t.Fatalf("select, insert, update, delete, other (CPU, wait) and apply_row = %v, want %v", got, want)
	}
	if !strings.Contains(p.Measured, "utilisation law at c=16") {
		t.Errorf("measured does not record the split: %s", p.Measured)
	}
	// Without a core count nothing can be split: every figure stays CPU.
	p, err = Calibrate("g", "standalone", ps, 0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Statement.InsertUs != 70 || p.Statement.InsertWaitUs != 0 {
		t.Errorf("with no cores: insert %v wait %v, want 70 and 0", p.Statement.InsertUs, p.Statement.InsertWaitUs)
	}
}

// measuredBinlogUs is what the binlog (log_bin, sync_binlog=1) added to a c=1 insert on one
// MariaDB 10.11 server: the median of the rounds with it less the median of the rounds
// without, read from calibrationDir's session1-binlog.txt and session3-binlog.txt (the
// rule make-profiles.py applies).
func measuredBinlogUs(t *testing.T) float64 {
	t.Helper()
	line := regexp.MustCompile(`^binlog=(on|off) round=\d+ n1\s+insert\s+c=1\s+\S+ ops/s\s+mean\s+(\d+)us`)
	vals := map[string][]float64{}
	for _, f := range []string{"session1-binlog.txt", "session3-binlog.txt"} {
		data, err := os.ReadFile(calibrationDir + f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			if m := line.FindStringSubmatch(l); m != nil {
				v, _ := strconv.ParseFloat(m[2], 64)
				vals[m[1]] = append(vals[m[1]], v)
			}
		}
	}
	if len(vals["on"]) == 0 || len(vals["off"]) == 0 {
		t.Fatalf("no binlog rounds in %s: %v", calibrationDir, vals)
	}
	return math.Round(median(vals["on"]) - median(vals["off"]))
}

// The semi-sync built-ins are the calibrated mariadb-10.11 with only the measured binlog
// cost added (and their own name, flavour and source note), so that a recalibration of
// mariadb-10.11 cannot leave them behind.
func TestDerivedProfilesFollowTheCalibration(t *testing.T) {
	base, err := Load("mariadb-10.11")
	if err != nil {
		t.Fatal(err)
	}
	for name, flavor := range map[string]string{"semisync-mariadb-10.11": "mariadb-10.11", "semisync-mysql-8.0": "mysql-8.0"} {
		got, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		want := *base
		want.Name, want.Flavor, want.Measured = name, flavor, got.Measured
		want.Commit.BinlogFsyncUs = measuredBinlogUs(t)
		if *got != want {
			t.Errorf("%s is not mariadb-10.11 plus the measured binlog_fsync_us %g:\n got %+v\nwant %+v", name, want.Commit.BinlogFsyncUs, *got, want)
		}
		if !strings.Contains(got.Measured, "session1-binlog.txt") {
			t.Errorf("%s does not name the measurement of its binlog cost: %s", name, got.Measured)
		}
	}
}
