package harness

import (
	"fmt"
	"strings"

	"github.com/replbench/replbench/protocols/transport"
)

// BusConfig chooses the message bus under the emulator. Embedded NATS is the default because
// it is what a multi-machine run uses too (only the URL changes); the in-memory bus skips
// NATS's encoding and routing and serves tests and quick looks.
type BusConfig struct {
	Kind string // "nats" (embedded, the default) or "memory"
	URL  string // an external NATS cluster; implies Kind "nats"
}

// BusKinds are the accepted values of --bus.
var BusKinds = []string{"nats", "memory"}

// Validate checks the kind.
func (b BusConfig) Validate() error {
	switch b.Kind {
	case "", "nats", "memory":
	default:
		return fmt.Errorf("unknown bus %q (accepted: %s)", b.Kind, strings.Join(BusKinds, ", "))
	}
	if b.URL != "" && b.Kind == "memory" {
		return fmt.Errorf("--nats-url %s conflicts with --bus memory (accepted: --bus nats with --nats-url, or --bus memory alone)", b.URL)
	}
	return nil
}

// String names the bus as the environment record does: "nats-embedded", the URL, "memory".
func (b BusConfig) String() string {
	switch {
	case b.Kind == "memory":
		return "memory"
	case b.URL != "":
		return b.URL
	}
	return "nats-embedded"
}

// open creates a fresh bus for one point.
func (b BusConfig) open() (transport.Bus, error) {
	if b.Kind == "memory" {
		return transport.NewMemBus(), nil
	}
	return openNATS(b.URL)
}
