package gen

import (
	"testing"

	"github.com/replbench/replbench/harness/history"
)

func TestGeneratedHistoriesAreValid(t *testing.T) {
	for _, w := range []Workload{ListAppend, RWRegister, Register} {
		for _, serial := range []bool{false, true} {
			h, final := Generate(Config{Workload: w, Seed: 9, Ops: 300, Serial: serial, PFail: 0.1, PInfo: 0.1})
			if err := history.Validate(h); err != nil {
				t.Fatalf("workload %d serial %v: %v", w, serial, err)
			}
			if len(h) != 300 || len(final.Lists)+len(final.Regs) == 0 {
				t.Fatalf("workload %d: %d ops, final %+v", w, len(h), final)
			}
			overlap := false
			for i := 1; i < len(h); i++ {
				if h[i].Invoke < h[i-1].Complete {
					overlap = true
				}
			}
			if overlap == serial {
				t.Errorf("workload %d serial=%v but overlap=%v", w, serial, overlap)
			}
		}
	}
}
