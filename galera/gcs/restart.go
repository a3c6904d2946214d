package gcs

// Restarted makes a new member a restarted process: gcomm starts it in a non-primary view
// of itself, and it merges with whichever members it hears (the view change of view.go),
// so a node that comes back after a kill or a crash joins the running group as a healed
// partition does. last is the primary component it restores as the last one it knew
// (pc.recovery=true: the view gvwstate.dat saved), so that when the members of that view
// meet again, all of them and no one else, the primary component is restored (Quorum); a
// zero PrimView (no saved
// state: pc.recovery=false, or a clean shutdown removed the file) restores none, and then
// no view this member is in can be primary until some member bootstraps one (Bootstrap) or
// brings a primary component it knows. No peer counts as heard until one of its messages
// arrives.
func (e *EVS) Restarted(last PrimView) {
	for i := range e.members {
		e.members[i] = i == e.cfg.Self
	}
	e.primary = false
	e.prim = last
	e.restored = last.Members != nil
	e.view = ViewID{Seq: 0, Rep: e.cfg.Self}
	for i := range e.lastHeard {
		if i != e.cfg.Self {
			e.lastHeard[i] = e.now - int64(e.cfg.SuspectTicks) - 1
		}
	}
}

// Bootstrap is pc.bootstrap (--wsrep-new-cluster, galera_new_cluster): this member declares
// itself a primary component of its own, newer than any it knew, and starts a view change
// so that the next view carries it; members with no primary component of their own then
// join it (Quorum: every member of that one-member component is present).
func (e *EVS) Bootstrap() {
	e.prim = PrimView{ID: e.view, ConfID: e.prim.ConfID + 1, Members: []int{e.cfg.Self}, Weights: []int{max(e.cfg.Weight, 0)}}
	e.restored = false
	// pc.bootstrap forms a primary component of the view the member is in (pc_proto's
	// send_install(true)), whatever the others restored: its JOIN counts as coming from a
	// primary component, so Quorum's have_quorum applies and every member that joins it is
	// kept.
	e.bootstrapping = true
	e.startGather()
}

// BootstrapPrim is the primary component a freshly configured cluster starts in: every
// configured member, conf 1, weight 1 except this member's own pc.weight. It is what a
// restarted member restores when nothing else is known (the tests of the replicator).
func (e *EVS) BootstrapPrim() PrimView {
	p := PrimView{ConfID: 1}
	for i := range e.cfg.N {
		p.Members = append(p.Members, i)
		p.Weights = append(p.Weights, 1)
	}
	if e.cfg.Weight >= 0 && e.cfg.Self < e.cfg.N {
		p.Weights[e.cfg.Self] = e.cfg.Weight
	}
	return p
}

// NoPrimarySinceRestart reports whether this member restarted (Restarted) and has not been
// in a primary component since: it knows none, or only the one gvwstate.dat saved. Once
// every configured member is in one non-primary view in this state, no rule of Quorum will
// ever make it primary (pc.recovery wanted exactly the saved view's members, all restored
// from it, and they are all here), so only an operator's bootstrap can; the replicator
// carries that procedure out (replicator/bootstrap.go).
func (e *EVS) NoPrimarySinceRestart() bool {
	return !e.primary && (e.prim.Members == nil || e.restored)
}
