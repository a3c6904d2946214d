package galeratest

import (
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestInteraction runs the scripts in testdata/. Each script keys its claims, in comments,
// to the sentence of the source material (galera.md, real-servers.md, the seeds) it checks.
func TestInteraction(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var env *Env
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			out, err := Handle(&env, d)
			if err != nil {
				t.Fatalf("%s: %v", d.Pos, err)
			}
			return out
		})
	})
}
