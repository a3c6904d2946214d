//go:build !linux

package netdelay

import "fmt"

type nsWorker struct{ name string }

func startNSWorker(name string) (*nsWorker, error) {
	return nil, fmt.Errorf("network namespace %q: namespaces need Linux", name)
}

func (w *nsWorker) do(fn func()) { fn() }
func (w *nsWorker) stop()        {}
