package semisync

import (
	"strings"
	"testing"

	"github.com/replbench/replbench/protocols/prototest"
)

// The source, replica and dependency machines hold no lock, start no goroutine and read no
// clock: every input, the time included, comes from the driver (driver*.go), so the same
// code runs in wall-clock time, in synctest's virtual time and in testdata/source.txt.
func TestMachinesArePure(t *testing.T) {
	if err := prototest.CheckMachines(".", func(f string) bool { return strings.HasPrefix(f, "driver") }); err != nil {
		t.Fatal(err)
	}
}
