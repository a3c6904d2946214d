package precise

import (
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// sleeper sleeps for less than the Go timer's ~1 ms floor without spinning: ppoll on an
// eventfd with a nanosecond timeout, on a thread with its timer slack cut from the default
// 50 us to 1 ns. A poke through the eventfd ends the sleep early.
type sleeper struct {
	fd      int
	polling atomic.Bool
}

func newSleeper() *sleeper {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil
	}
	return &sleeper{fd: fd}
}

func (s *sleeper) arm() {
	if s != nil {
		s.polling.Store(true)
	}
}

func (s *sleeper) sleep(d time.Duration) {
	if s == nil {
		time.Sleep(d)
		return
	}
	ts := unix.NsecToTimespec(int64(d))
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
	runtime.LockOSThread()
	unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	unix.Ppoll(fds, &ts, nil) // EINTR (the runtime's preemption signal) just ends it early
	runtime.UnlockOSThread()
	s.polling.Store(false)
	var buf [8]byte
	unix.Read(s.fd, buf[:])
}

func (s *sleeper) poke() {
	if s != nil && s.polling.Load() {
		one := [8]byte{1}
		unix.Write(s.fd, one[:])
	}
}

func (s *sleeper) close() {
	if s != nil {
		unix.Close(s.fd)
	}
}
