//go:build !linux

package precise

import "time"

// sleeper is Linux-only; elsewhere Go's timers are used.
type sleeper struct{}

func newSleeper() *sleeper               { return nil }
func (s *sleeper) arm()                  {}
func (s *sleeper) sleep(d time.Duration) { time.Sleep(d) }
func (s *sleeper) poke()                 {}
func (s *sleeper) close()                {}
