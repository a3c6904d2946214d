package gcs

// Restarted makes a new member a restarted process: gcomm starts it in a non-primary view
// of itself, and it merges with whichever members it hears (the view change of view.go),
// so a node that comes back after a kill or a crash joins the running group as a healed
// partition does. It keeps the bootstrap primary component as the last one it knew, so
// that when every member restarts and they all meet again the quorum rule restores the
// primary component, as pc.recovery does from gvwstate.dat. No peer counts as heard until
// one of its messages arrives.
func (e *EVS) Restarted() {
	for i := range e.members {
		e.members[i] = i == e.cfg.Self
	}
	e.primary = false
	e.view = ViewID{Seq: 0, Rep: e.cfg.Self}
	for i := range e.lastHeard {
		if i != e.cfg.Self {
			e.lastHeard[i] = e.now - int64(e.cfg.SuspectTicks) - 1
		}
	}
}
