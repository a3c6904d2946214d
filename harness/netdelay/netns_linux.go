//go:build linux

package netdelay

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// netnsDir is where `ip netns add NAME` bind-mounts a namespace.
const netnsDir = "/var/run/netns"

// nsWorker runs functions on one OS thread that has entered a network namespace. A socket
// belongs to the namespace of the thread that created it, for life, so listeners and
// outgoing connections are made here and then used from any goroutine. The thread never
// leaves the namespace: it is locked and exits with the worker, so no other goroutine ever
// runs in a namespace it did not ask for.
type nsWorker struct {
	name string
	reqs chan func()
}

func startNSWorker(name string) (*nsWorker, error) {
	f, err := os.Open(filepath.Join(netnsDir, name))
	if err != nil {
		return nil, fmt.Errorf("network namespace %q: %v (create it with `ip netns add %s`; the proxy must run as root)", name, err, name)
	}
	w := &nsWorker{name: name, reqs: make(chan func())}
	ready := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			ready <- fmt.Errorf("entering network namespace %q: %v (the proxy must run as root)", name, err)
			return
		}
		ready <- nil
		for fn := range w.reqs {
			fn()
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return w, nil
}

// do runs fn in the namespace and waits for it.
func (w *nsWorker) do(fn func()) {
	done := make(chan struct{})
	w.reqs <- func() { fn(); close(done) }
	<-done
}

func (w *nsWorker) stop() { close(w.reqs) }
