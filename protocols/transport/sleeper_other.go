//go:build !linux

package transport

import "time"

// shortSleeper is Linux-only; elsewhere the precise dispatcher spins for short waits.
type shortSleeper struct{}

func newShortSleeper() *shortSleeper        { return nil }
func (s *shortSleeper) bind()               {}
func (s *shortSleeper) arm()                {}
func (s *shortSleeper) sleep(time.Duration) {}
func (s *shortSleeper) poke()               {}
func (s *shortSleeper) close()              {}
