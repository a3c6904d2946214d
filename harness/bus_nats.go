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
func openNATS(url string) (transport.Bus, error) {
	prefix := fmt.Sprintf("replbench.%d.%d.%d", os.Getpid(), time.Now().UnixNano(), busSeq.Add(1))
	b, err := transport.NewNATSBus(transport.NATSOptions{URL: url, Prefix: prefix})
	if err != nil {
		if url != "" {
			return nil, fmt.Errorf("connect to NATS at %s: %w (check the URL, or drop --nats-url to use the embedded server)", url, err)
		}
		return nil, fmt.Errorf("start the embedded NATS server: %w (--bus memory avoids NATS)", err)
	}
	return b, nil
}
