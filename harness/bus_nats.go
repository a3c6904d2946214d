package harness

import (
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/replbench/replbench/protocols/transport"
)

var busSeq atomic.Int64

// openNATS opens the NATS bus of one point: an embedded server (url "") or an external
// cluster. Every point gets its own subject prefix, so two points, or two runs sharing an
// external cluster, never see each other's messages.
func openNATS(url string, auth transport.NATSAuth) (transport.Bus, error) {
	prefix := fmt.Sprintf("replbench.%d.%d.%d", os.Getpid(), time.Now().UnixNano(), busSeq.Add(1))
	b, err := transport.NewNATSBus(transport.NATSOptions{URL: url, Prefix: prefix, Auth: auth})
	if err != nil {
		if url != "" {
			return nil, fmt.Errorf("connect to NATS at %s: %w (check the URL and credentials, or drop --nats-url to use the embedded server)", transport.RedactURL(url), err)
		}
		return nil, fmt.Errorf("start the embedded NATS server: %w (--bus memory avoids NATS)", err)
	}
	return b, nil
}

// busLost reports a point whose bus lost a connection while it ran: the events for the
// notes, and a reason that makes the point not converged (NATS core delivery is at most
// once, so a message sent across the outage may be gone, and a replica that agrees with
// the others after such a point proves nothing).
func busLost(b transport.Bus) (events []string, lost error) {
	if h, ok := b.(transport.Health); ok {
		return h.ConnectionEvents()
	}
	return nil, nil
}
