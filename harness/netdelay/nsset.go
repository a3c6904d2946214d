package netdelay

// nsSet is one worker per namespace a config names; "" (the process's own) runs inline.
type nsSet map[string]*nsWorker

func startNSSet(cfg *Config) (nsSet, error) {
	s := nsSet{}
	for _, n := range cfg.Nodes {
		if n.Netns == "" {
			continue
		}
		w, err := startNSWorker(n.Netns)
		if err != nil {
			s.stop()
			return nil, err
		}
		s[n.Netns] = w
	}
	return s, nil
}

// do runs fn in namespace ns and waits for it.
func (s nsSet) do(ns string, fn func()) {
	if ns == "" {
		fn()
		return
	}
	s[ns].do(fn)
}

func (s nsSet) stop() {
	for _, w := range s {
		w.stop()
	}
}
