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
	// Auth holds the external cluster's credentials and TLS files. Secrets in it or in
	// URL are never printed or written: String and every error redact them.
	Auth transport.NATSAuth
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
		return fmt.Errorf("--nats-url %s conflicts with --bus memory (accepted: --bus nats with --nats-url, or --bus memory alone)", transport.RedactURL(b.URL))
	}
	if b.Auth != (transport.NATSAuth{}) {
		if b.URL == "" {
			return fmt.Errorf("NATS credentials or TLS files without --nats-url (accepted: they go with an external NATS; the embedded server needs none)")
		}
		return b.Auth.Validate()
	}
	return nil
}

// String names the bus as the environment record does: "nats-embedded", the URL with any
// password or token redacted (and the kind of credentials, never their value), "memory".
func (b BusConfig) String() string {
	switch {
	case b.Kind == "memory":
		return "memory"
	case b.URL != "":
		if a := b.Auth.String(); a != "" {
			return transport.RedactURL(b.URL) + " (" + a + ")"
		}
		return transport.RedactURL(b.URL)
	}
	return "nats-embedded"
}

// open creates a fresh bus for one point.
func (b BusConfig) open() (transport.Bus, error) {
	if b.Kind == "memory" {
		return transport.NewMemBus(), nil
	}
	return openNATS(b.URL, b.Auth)
}
