package machines

import (
	"sync"
	clock "time"
)

var mu sync.Mutex

// Loop reads the clock, starts a goroutine and selects: a driver's job.
func Loop(ch chan int) {
	_ = clock.Now()
	go func() {}()
	select {
	case <-ch:
	}
	mu.Lock()
}
