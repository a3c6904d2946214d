package harness

import (
	"strings"
	"testing"
)

// Every built-in scenario teaches: its explain: text says what mechanism it shows and what
// to look for ("Look for: ..."), and carries through to the run's results for the report.
func TestBuiltinsExplain(t *testing.T) {
	for _, name := range BuiltinNames() {
		s, err := Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(strings.Fields(s.Explain)) < 40 || !strings.Contains(s.Explain, "Look for:") {
			t.Errorf("%s: explain has %d words and no \"Look for:\": %q", name, len(strings.Fields(s.Explain)), s.Explain)
		}
		y, err := s.Marshal()
		if err != nil || !strings.Contains(string(y), "explain:") {
			t.Errorf("%s: scenario.yaml as run lacks explain: %v", name, err)
		}
	}
}
