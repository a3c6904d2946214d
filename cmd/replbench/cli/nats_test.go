package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// A password in --nats-url (or in --nats-password) reaches the server but no output: not
// stdout, stderr, results.json or any other file of the run directory. Wrong credentials
// are a usage error before anything is written.
func TestNATSSecretsNeverPrintedOrWritten(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, Username: "rb", Password: "Sekr1t-pw"})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("NATS not ready")
	}
	defer ns.Shutdown()
	u := strings.Replace(ns.ClientURL(), "nats://", "nats://rb:Sekr1t-pw@", 1)

	out := t.TempDir()
	code, stdout, stderr := run("run", "--protocol", "galera", "--workload", "insert", "--threads", "2", "--queries", "200",
		"--nats-url", u, "--out", out, "--no-progress")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout+stderr, "Sekr1t-pw") {
		t.Error("the password is printed")
	}
	n := 0
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		if b, _ := os.ReadFile(p); strings.Contains(string(b), "Sekr1t-pw") {
			t.Errorf("%s contains the password", p)
		}
		return nil
	})
	if n == 0 {
		t.Fatal("the run wrote no files")
	}

	bad := t.TempDir()
	code, _, stderr = run("run", "--nats-url", ns.ClientURL(), "--nats-user", "rb", "--nats-password", "nope-Pw", "--out", bad)
	if code != ExitUsage || strings.Contains(stderr, "nope-Pw") || !strings.Contains(stderr, "Authorization") {
		t.Errorf("wrong password: exit %d, stderr %q: want exit 2 naming the refusal without the password", code, stderr)
	}
	if ents, _ := os.ReadDir(bad); len(ents) != 0 {
		t.Errorf("wrong password wrote %d entries", len(ents))
	}
}
