package transport

import (
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// shortSleeper lets the precise dispatcher sleep for less than the Go timer's ~1 ms
// floor without spinning: ppoll on an eventfd with a nanosecond timeout, on a thread
// with its timer slack cut from the default 50 us to 1 ns.
// A sleeping thread is not penalised by the kernel scheduler the way a spinning one is,
// and it leaves the core to the nodes under test. Senders interrupt the sleep through the
// eventfd when they queue a message that is due sooner than the one slept for.
type shortSleeper struct {
	fd      int
	polling atomic.Bool
}

func newShortSleeper() *shortSleeper {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil // the dispatcher falls back to spinning
	}
	return &shortSleeper{fd: fd}
}

// bind runs on the dispatcher goroutine before its first sleep. The goroutine is not
// kept on one thread: waking a goroutine locked to its thread costs a thread hand-off
// (tens of us on a VM) every time the dispatcher goes idle, so each sleep pins the
// thread only while it sets the slack and polls.
func (s *shortSleeper) bind() {}

// arm announces a sleep; a poke after arm interrupts it. The caller re-reads the heap
// after arm, so a message queued before arm is seen and one queued after wakes it.
func (s *shortSleeper) arm() { s.polling.Store(true) }

// sleep blocks for d at most, or until poked.
func (s *shortSleeper) sleep(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
	runtime.LockOSThread()
	unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0) // per thread; harmless for the runtime's other uses
	unix.Ppoll(fds, &ts, nil)                      // EINTR (Go's preemption signal) just ends the sleep early
	runtime.UnlockOSThread()
	s.polling.Store(false)
	var buf [8]byte
	unix.Read(s.fd, buf[:])
}

func (s *shortSleeper) poke() {
	if s.polling.Load() {
		one := [8]byte{1}
		unix.Write(s.fd, one[:])
	}
}

func (s *shortSleeper) close() { unix.Close(s.fd) }
