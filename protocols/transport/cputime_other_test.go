//go:build !unix

package transport

import "time"

// cpuTime is not measured on this platform; cpu-ms/s reads 0.
func cpuTime() time.Duration { return 0 }
