package galera

import (
	"strings"
	"testing"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
)

// TestNewNeedsSettings: the provider reads the typed settings the harness resolved and
// nothing else; without them it refuses to start, naming what it needs.
func TestNewNeedsSettings(t *testing.T) {
	ep, err := transport.NewMemBus().Attach("n1")
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	for _, s := range []protocols.Settings{nil, protocols.ParamSettings{}} {
		_, err := New(protocols.Config{Node: "n1", Members: []string{"n1"}, Endpoint: ep, Applier: &fakeApplier{}, Settings: s})
		if err == nil || !strings.Contains(err.Error(), "*galera.Settings") {
			t.Fatalf("New with Settings %T: %v, want an error naming *galera.Settings", s, err)
		}
	}
}
