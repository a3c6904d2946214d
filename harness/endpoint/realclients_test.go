package endpoint

import (
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// TestServeForManualUse keeps a cluster with endpoints up for REPLBENCH_SERVE_FOR (a
// duration), printing the addresses, so the real clients can be pointed at it by hand:
//
//	REPLBENCH_SERVE_FOR=10m REPLBENCH_SERVE_PROTOCOL=galera go test ./harness/endpoint -run TestServeForManualUse -v
func TestServeForManualUse(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("REPLBENCH_SERVE_FOR"))
	if err != nil {
		t.Skip("set REPLBENCH_SERVE_FOR=10m to serve a cluster for the real clients")
	}
	proto, nodes := os.Getenv("REPLBENCH_SERVE_PROTOCOL"), 3
	if proto == "" {
		proto = "galera"
	}
	if proto == "standalone" {
		nodes = 1
	}
	listen := os.Getenv("REPLBENCH_SERVE_LISTEN")
	if listen == "" {
		listen = "127.0.0.1:3311"
	}
	tc := startTest(t, proto, nodes, nil, Config{Listen: listen})
	for _, e := range tc.set.Endpoints() {
		t.Logf("%s %s %s %s", e.Node, e.Addr, e.Role, e.State)
	}
	if path := os.Getenv("REPLBENCH_SERVE_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	time.Sleep(d)
}

// TestRealClients runs the Debian sysbench and mysqlslap against a 3-node Galera cluster
// served in the test (REPLBENCH_REAL=1; the binaries must be installed) and fails on any
// error other than the 1213s certification conflicts produce.
func TestRealClients(t *testing.T) {
	if os.Getenv("REPLBENCH_REAL") == "" {
		t.Skip("set REPLBENCH_REAL=1 to run sysbench and mysqlslap against the endpoints")
	}
	for _, bin := range []string{"sysbench", "mysqlslap", "mysql"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (apt-get install sysbench mariadb-client)", bin)
		}
	}
	tc := startTest(t, "galera", 3, nil, Config{})
	host, port, _ := strings.Cut(tc.set.Addrs()[0], ":")
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		t.Logf("$ %s %s\n%s", name, strings.Join(args, " "), out)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return string(out)
	}
	run("mysql", "-h", host, "-P", port, "-uroot", "-e", "CREATE DATABASE sbtest; CREATE DATABASE test")
	sb := []string{"--db-driver=mysql", "--mysql-host=" + host, "--mysql-port=" + port, "--mysql-user=root", "--mysql-db=sbtest", "--tables=2", "--table-size=1000"}
	for _, script := range []string{"oltp_read_write", "oltp_point_select"} {
		run("sysbench", append([]string{script, "prepare"}, sb...)...)
		out := run("sysbench", append([]string{script, "run", "--threads=8", "--time=5"}, sb...)...)
		if strings.Contains(out, "FATAL") {
			t.Errorf("sysbench %s reported a fatal error", script)
		}
		run("sysbench", append([]string{script, "cleanup"}, sb...)...)
	}
	run("mysql", "-h", host, "-P", port, "-uroot", "test", "-e", "CREATE TABLE t1 (id INT AUTO_INCREMENT PRIMARY KEY, a CHAR(5) DEFAULT NULL)")
	run("mysqlslap", "-h", host, "-P", port, "--user=root", "--delimiter=;", "--number-of-queries=500",
		"--create-schema=test", "--concurrency=8", "--query=insert into t1 set a='fooBa'")
	run("mysqlslap", "-h", host, "-P", port, "--user=root", "--concurrency=4", "--number-of-queries=500",
		"--auto-generate-sql", "--auto-generate-sql-load-type=write")
	if ok, detail := tc.live.Converge(t.Context(), 30*time.Second); !ok {
		t.Errorf("the cluster did not converge: %s", detail)
	}
}
