package servicetime

import (
	"os"
	"strings"
	"testing"
)

// The built-in profiles are exactly what `replbench calibrate` derives from the recorded
// single-node probes: nothing was edited by hand (or fitted to a cluster result) afterwards.
func TestBuiltinProfilesAreTheCalibration(t *testing.T) {
	f, err := os.Open("../../docs/measurements/calibration-mariadb-10.11-probes.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ps, err := ParseProbes(f)
	if err != nil {
		t.Fatal(err)
	}
	for name, server := range map[string]string{"mariadb-10.11": "standalone", "galera-4-mariadb-10.11": "galera"} {
		want, err := Calibrate(name, server, ps, 2)
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
