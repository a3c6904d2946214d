package harness

import (
	"context"
	"strings"
	"testing"
	"time"
)

// haltedFake is three nodes where n3's replication stopped (a refused dump, 1236) at a
// position the others went past.
type haltedFake struct{}

func (haltedFake) positions() ([]int64, error) { return []int64{20, 20, 12}, nil }
func (haltedFake) checksums() ([]map[string]uint64, error) {
	return []map[string]uint64{{"t": 1}, {"t": 1}, {"t": 9}}, nil
}
func (haltedFake) halted() []string {
	return []string{"", "", "Last_IO_Errno 1236: Got fatal error 1236 from source when reading data from binary log: 'purged'"}
}

// A replica whose replication stopped on an error is reported as stopped, with its error,
// not waited for until the bound ("did not catch up" would say it was), and not called
// diverged.
func TestConvergeReportsAStoppedReplica(t *testing.T) {
	c := convergeOn(context.Background(), []string{"n1", "n2", "n3"}, haltedFake{}, 30*time.Second)
	if c.ok {
		t.Fatal("a stopped replica passed as converged")
	}
	if !strings.Contains(c.detail, "replication stopped on n3: Last_IO_Errno 1236") {
		t.Fatalf("detail %q does not name the stopped replica and its error", c.detail)
	}
	if strings.Contains(c.detail, "did not catch up") || strings.Contains(c.detail, "differs") {
		t.Fatalf("detail %q reports the stopped replica as behind or diverged", c.detail)
	}
}
