package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/harness/checker/bank"
	"github.com/replbench/replbench/harness/checker/elle"
	"github.com/replbench/replbench/harness/checker/linear"
	"github.com/replbench/replbench/harness/checker/lost"
	"github.com/replbench/replbench/harness/history"
	"github.com/replbench/replbench/results"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// linearTimeout bounds porcupine's search per point; past it the verdict is unknown.
const linearTimeout = 20 * time.Second

// pointFileDir is where a point's history, pictures and visualisation go: the run
// directory for a run of one point, a p<N> directory under it otherwise, so that the files
// of two points never overwrite each other.
func pointFileDir(runDir string, points int, ps *PointSpec) (dir, rel string) {
	if points <= 1 {
		return runDir, ""
	}
	rel = fmt.Sprintf("p%d", ps.Index+1)
	return filepath.Join(runDir, rel), rel
}

// checkHistory runs the history checkers a checker workload asks for, on the history its
// clients recorded and on every node's final data read from the node's engine directly
// (not through the protocol's gate, so a non-Primary or lagging node is still checked),
// whether or not the point converged. It writes history.jsonl, the witness pictures and
// porcupine's visualisation into the point's directory, and fills the point's verdicts
// (one per checker: pass, fail or unknown, with the witness as evidence) and Checkers
// (the summary under stable names). A workload that records no history gets nothing.
func checkHistory(ctx context.Context, c *cluster, ps *PointSpec, runDir string, points int, p *results.Point) {
	defer c.releaseCheckNodes()
	nodes, notes := c.checkNodes()
	p.Notes = append(p.Notes, notes...)
	hw, ok := c.workload.(workloads.Historian)
	if !ok {
		if c.acked != nil {
			ackVerdict(ctx, c.acked, nodes, ps, p)
		}
		return
	}
	if runDir == "" {
		return
	}
	h := hw.History()
	var live, down []checker.NodeState
	for _, n := range nodes {
		s, err := hw.State(ctx, namedDB{workloads.OnEngineLocal(n.e), n.name})
		if err != nil {
			p.Notes = append(p.Notes, fmt.Sprintf("final state of %s not read: %v", n.name, err))
			continue
		}
		if n.live {
			live = append(live, s)
		} else {
			down = append(down, s)
		}
	}
	judgeHistory(hw, c.workload, h, live, down, ps, runDir, points, p)
}

// judgeHistory writes a point's history into its directory and runs the checkers hw
// names on it and on the nodes' final states (live ones, and the surviving storage of the
// nodes still down), in one process or gathered from node processes (bus_history.go).
func judgeHistory(hw workloads.Historian, w workloads.Workload, h []history.Op, live, down []checker.NodeState, ps *PointSpec, runDir string, points int, p *results.Point) {
	dir, rel := pointFileDir(runDir, points, ps)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.Notes = append(p.Notes, "history checkers did not run: "+err.Error())
		return
	}
	if err := history.WriteFile(filepath.Join(dir, history.FileName), h); err != nil {
		p.Notes = append(p.Notes, "history not written: "+err.Error())
	} else {
		p.HistoryFile = filepath.Join(rel, history.FileName)
	}
	var vs []checker.Verdict
	for _, name := range hw.Checkers() {
		v, err := runChecker(name, h, live, down, dir, w)
		if err != nil {
			v = checker.Verdict{Checker: name, Valid: checker.Unknown, Note: "could not run: " + err.Error()}
		}
		judgeExpected(ps, p.Faults, &v)
		if name == checker.LinearizableName {
			// The checker names its picture relative to dir; the point names it relative to
			// the run directory, once.
			v.Files = slices.DeleteFunc(v.Files, func(f string) bool { return f == linear.FileName })
			if _, err := os.Stat(filepath.Join(dir, linear.FileName)); err == nil {
				v.Files = append(v.Files, filepath.Join(rel, linear.FileName))
			}
		}
		vs = append(vs, v)
	}
	if _, err := checker.WritePictures(dir, vs); err != nil {
		p.Notes = append(p.Notes, "witness pictures not written: "+err.Error())
	}
	if rel != "" { // pictures are named relative to the point's directory
		for i := range vs {
			for j, f := range vs[i].Files {
				if !strings.HasPrefix(f, rel+string(filepath.Separator)) {
					vs[i].Files[j] = filepath.Join(rel, f)
				}
			}
		}
	}
	finishVerdicts(p, vs)
}

// ackVerdict runs the lost-acknowledged-writes check of a workload without a history on
// nodes and puts its verdict into the point.
func ackVerdict(ctx context.Context, acked *ackLog, nodes []checkNode, ps *PointSpec, p *results.Point) {
	v := acked.check(ctx, nodes)
	judgeExpected(ps, p.Faults, &v)
	finishVerdicts(p, []checker.Verdict{v})
}

// finishVerdicts puts the verdicts into the point: the summary under stable names, and one
// report verdict per checker.
func finishVerdicts(p *results.Point, vs []checker.Verdict) {
	sum := checker.Summarize(vs...)
	if b, err := json.Marshal(sum); err == nil {
		p.Checkers = b
	}
	for i := range vs {
		p.Verdicts = append(p.Verdicts, resultVerdict(p.Protocol, &vs[i]))
	}
}

// logAcked returns db with its acknowledged writes logged, for a workload that records no
// history of its own.
func (c *cluster) logAcked(db workloads.DB) workloads.DB {
	if _, ok := c.workload.(workloads.Historian); ok {
		return db
	}
	if c.acked == nil {
		c.acked = newAckLog(c.workload.Tables())
	}
	return c.acked.wrap(db)
}

// checkNode is one node as the end-of-run checks read it.
type checkNode struct {
	name string          // as the verdicts name it: "n2", or "n2 (down: surviving storage)"
	e    *storage.Engine // read directly, never through the protocol's gate
	live bool
	read imageReader // the acknowledged-write check's reads when e is not here (a node process); nil: e
}

// downSuffix marks, in a verdict, a node read from its surviving storage.
const downSuffix = " (down: surviving storage)"

// checkNodes is every node as the end-of-run checks read it. A live node is its engine,
// read directly (not through the protocol's gate, so a non-Primary or lagging node is
// still checked). A node still down (killed, crashed or stopped and not restarted, or
// whose restart failed) is what its restart would recover: the engine a failed rejoin had
// already recovered, else a copy of its surviving image opened as recovery opens it
// (storage.Recovered), so that the image a later restart would use stays untouched. The
// checkers then judge the live nodes and, when every node is down, what survived (see
// harness/checker/lost). The copies are opened once per point and closed by
// releaseCheckNodes; notes say what could not be read.
func (c *cluster) checkNodes() ([]checkNode, []string) {
	if c.checked != nil {
		return c.checked.nodes, nil
	}
	c.checked = &checkedNodes{}
	var notes []string
	for i, m := range c.members {
		e := c.engines[i]
		var img *vfs.MemFS
		if c.faults != nil {
			img = c.faults.downImage(m)
		}
		switch {
		case img == nil && !e.Halted():
			c.checked.nodes = append(c.checked.nodes, checkNode{name: m, e: e, live: true})
		case !e.Halted():
			c.checked.nodes = append(c.checked.nodes, checkNode{name: m + downSuffix, e: e})
		case img == nil:
			notes = append(notes, fmt.Sprintf("%s: its engine is closed and no surviving image is kept; not checked", m))
		default:
			r, err := storage.Recovered(c.opts[i], img)
			if err != nil {
				notes = append(notes, fmt.Sprintf("%s is down and its surviving storage could not be recovered for the checks: %v", m, err))
				continue
			}
			c.checked.opened = append(c.checked.opened, r)
			c.checked.nodes = append(c.checked.nodes, checkNode{name: m + downSuffix, e: r})
		}
	}
	return c.checked.nodes, notes
}

// checkedNodes caches checkNodes for one point.
type checkedNodes struct {
	nodes  []checkNode
	opened []*storage.Engine // recovered copies, closed by releaseCheckNodes
}

// releaseCheckNodes closes the recovered copies checkNodes opened.
func (c *cluster) releaseCheckNodes() {
	if c.checked == nil {
		return
	}
	for _, e := range c.checked.opened {
		_ = e.Close()
	}
	c.checked = nil
}

// localDBs is every node checkNodes reads, as a DB of the node's own data: for the
// workloads' end-of-run checks.
func (c *cluster) localDBs() []workloads.DB {
	nodes, _ := c.checkNodes()
	out := make([]workloads.DB, len(nodes))
	for i, n := range nodes {
		out[i] = namedDB{workloads.OnEngineLocal(n.e), n.name}
	}
	return out
}

// namedDB is a DB under the name the verdicts give its node.
type namedDB struct {
	workloads.DB
	name string
}

func (d namedDB) Node() string { return d.name }

// runChecker runs one checker on the history and the nodes' final states: live ones, and
// the surviving storage of the nodes still down. lost-acknowledged judges them by its
// rule; the bank's totals must hold on every copy, live or recovered, since a recovered
// copy holds whole transactions or none.
func runChecker(name string, h []history.Op, live, down []checker.NodeState, dir string, w workloads.Workload) (checker.Verdict, error) {
	states := append(slices.Clone(live), down...)
	switch name {
	case checker.LostName:
		return lost.Check(h, live, lost.Options{Down: down})
	case checker.ListAppendName:
		return elle.CheckListAppend(h, elle.Options{})
	case checker.RWRegisterName:
		return elle.CheckRWRegister(h, elle.RegisterOptions{})
	case checker.LinearizableName:
		return linear.Check(h, linear.Options{Timeout: linearTimeout, Dir: dir})
	case checker.BankName:
		b, ok := w.(workloads.Banker)
		if !ok {
			return checker.Verdict{}, fmt.Errorf("workload %s names no accounts", w.Name())
		}
		keys, total := b.Accounts()
		return bank.Check(h, states, bank.Options{Accounts: keys, Total: total})
	}
	return checker.Verdict{}, fmt.Errorf("unknown checker %q", name)
}

// resultVerdict is a checker verdict in the report's form: the outcome, one line of what was
// checked or found, and the first witness of each class and every lost write as evidence.
func resultVerdict(protocol string, v *checker.Verdict) results.Verdict {
	out := results.Verdict{Checker: v.Checker, Outcome: results.VerdictUnknown}
	switch v.Valid {
	case checker.True:
		out.Outcome = results.VerdictPass
	case checker.False:
		out.Outcome = results.VerdictFail
	}
	var parts []string
	if e := expectationText(protocol, v); e != "" {
		parts = append(parts, e)
	}
	for _, a := range v.Anomalies {
		parts = append(parts, fmt.Sprintf("%s ×%d", a.Class, a.Count))
	}
	if v.Models != nil {
		parts = append(parts, "consistent with "+orNone(v.Models.ConsistentWith))
	}
	if len(parts) == 0 {
		for k, n := range v.Checked {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
		slices.Sort(parts)
	}
	if v.Note != "" {
		parts = append(parts, v.Note)
	}
	out.Detail = strings.Join(parts, "; ")
	for _, a := range v.Anomalies {
		if len(a.Witnesses) == 0 {
			continue
		}
		out.Evidence = append(out.Evidence, a.Class+":")
		for _, line := range strings.Split(strings.TrimRight(a.Witnesses[0].Text, "\n"), "\n") {
			out.Evidence = append(out.Evidence, "  "+line)
		}
		if pic := a.Witnesses[0].Picture; pic != "" {
			out.Evidence = append(out.Evidence, "  picture: "+pic)
		}
	}
	for i, l := range v.Lost {
		if i == 10 {
			out.Evidence = append(out.Evidence, fmt.Sprintf("... and %d more lost writes (results.json)", len(v.Lost)-10))
			break
		}
		out.Evidence = append(out.Evidence, "lost: "+l.String())
	}
	if v.Explanation != "" {
		out.Evidence = append(out.Evidence, "why: "+v.Explanation)
	}
	return out
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none of the models checked"
	}
	return strings.Join(s, ", ")
}

// allowance is one mechanism by which a protocol, under a point's settings and faults,
// produces anomaly classes that its documented guarantees allow: what the checker finds
// there is the protocol doing what it promises, not a bug.
type allowance struct {
	classes []string
	why     string
}

// cycleClasses returns each base cycle class with its process and realtime variants.
func cycleClasses(bases ...string) []string {
	var out []string
	for _, b := range bases {
		out = append(out, b, b+"-process", b+"-realtime")
	}
	return out
}

// orderClasses are the cycle variants that only a session or real-time order rules out,
// and stale-read: what a client sees when a read misses a commit that completed before
// the read began.
func orderClasses() []string {
	return []string{"stale-read", "G-single-realtime", "G-nonadjacent-realtime", "G2-item-realtime", "G-single-process", "G-nonadjacent-process", "G2-item-process"}
}

// crashedNodes returns the nodes a crash event (machine crash: the OS page cache is lost,
// unlike a kill or stop) hit during the point, as the point's fault log records them
// ("1.513s crash all", "1.205s crash n1 while it rejoined: ..."); "all" is every member.
func crashedNodes(faults []string, members []string) map[string]bool {
	out := map[string]bool{}
	for _, f := range faults {
		fs := strings.Fields(f)
		if len(fs) < 3 || fs[1] != "crash" {
			continue
		}
		if fs[2] == "all" {
			for _, m := range members {
				out[m] = true
			}
			continue
		}
		out[strings.TrimSuffix(fs[2], ",")] = true
	}
	return out
}

// allowances lists what the protocol's documented guarantees allow under this point's
// workload options, parameters and the faults that happened (faults: the point's fault
// log). Each is a mechanism, with the source of the claim; a class no allowance names is
// unexpected. The trade-off: the list is the model's knowledge, written by hand, so a
// protocol behaviour it does not know reads as unexpected (a false alarm to triage), never
// the reverse.
func allowances(ps *PointSpec, faults []string) []allowance {
	params := ps.UserParams()
	read := ps.Workload.Options["read"]
	if read == "" {
		read = "for-update"
		if ps.Workload.Name == "list-append" || ps.Workload.Name == "rw-register" {
			read = "plain"
		}
	}
	rmwWorkload := ps.Workload.Name == "list-append" || ps.Workload.Name == "rw-register"
	var out []allowance
	add := func(why string, classes ...string) { out = append(out, allowance{classes, why}) }
	rr := cycleClasses("G-single", "G-nonadjacent", "G2-item")
	switch {
	case rmwWorkload && read == "plain":
		cls := append([]string{"lost-update"}, rr...)
		if ps.Workload.Name == "list-append" {
			cls = append(cls, "incompatible-order", "lost-acknowledged")
		}
		add("a plain SELECT then UPDATE under REPEATABLE READ computes the write from the transaction's snapshot, so two such transactions on one row lose one update (InnoDB's REPEATABLE READ allows lost update, G-single and G2-item: Jepsen, MySQL 8.0.34); a list is rewritten whole, so the overwritten append is gone (lost-acknowledged counts it, and readers saw incompatible orders): read=for-update leaves only durability and replication losses in that column", cls...)
		switch ps.Protocol {
		case "galera":
			add("Galera certifies write-sets only: a transaction's reads are not in its write-set, and its snapshot is its first read on its own node, so a plain SELECT then UPDATE on two nodes passes certification on a stale read and overwrites the other's update (Jepsen, MariaDB Galera 12.1.2: lost update); SELECT ... FOR UPDATE closes it (the applier of a conflicting write-set brute-force aborts the lock holder, and one ordered before it but not yet applied fails certification)", cls...)
		case "group-replication":
			add("GR's certifier compares a transaction's write-set with the writes ordered after its snapshot version (gtid_executed when it started to commit), not when it read: a plain read that went stale before the commit began is not caught", cls...)
		}
	case rmwWorkload && read == "for-update":
		cls := append([]string{"lost-update"}, rr...)
		if ps.Workload.Name == "list-append" {
			cls = append(cls, "internal")
		}
		add("InnoDB's REPEATABLE READ is not snapshot isolation: a plain read sees the transaction's snapshot, a locking read (FOR UPDATE, and the read inside UPDATE) the latest committed version, and reads after the transaction's own write see that write on the latest version; so even one node shows internal (its own append on a newer version), lost-update (two transactions read one version and both write; nothing is overwritten) and G-single/G2-item (Jepsen, MySQL 8.0.34: REPEATABLE READ exhibits G2-item, G-single, lost update and internal inconsistency; MySQL manual, consistent nonlocking reads: changes of rows a transaction updates become visible to it)", cls...)
	case ps.Workload.Name == "bank" && read == "plain":
		add("a plain read of both balances then UPDATE under REPEATABLE READ computes each new balance from the snapshot, so two concurrent transfers from one account overwrite one another (lost update) and the total drifts", "wrong-total", "negative-balance")
	}
	stale := append([]string{"nonlinearizable"}, orderClasses()...)
	switch ps.Protocol {
	case "galera":
		if v := params["wsrep_sync_wait"]; v == "" || v == "0" {
			add("with wsrep_sync_wait=0 a read on a node returns what that node has applied, which can be behind a commit another node already acknowledged (Galera replication is virtually synchronous: ordered everywhere, applied later; Jepsen, MariaDB Galera 12.1.2: stale reads)", stale...)
		}
	case "group-replication":
		if v := params["group_replication_consistency"]; v == "" || strings.EqualFold(v, "EVENTUAL") {
			add("with group_replication_consistency=EVENTUAL a secondary's read returns what it has applied, which lags the group's agreed order", stale...)
		}
	case "semisync", "async":
		add("replicas apply the source's binlog asynchronously (semi-sync waits for a replica to receive a transaction, not to apply it): a read on a replica can miss a commit the source acknowledged", stale...)
	}
	// Durability: innodb_flush_log_at_trx_commit=0/2 (or, for binlog replication, a
	// sync_binlog other than 1) acknowledges commits the next machine crash loses.
	flush := "1"
	if len(ps.Cluster) > 0 {
		if v, ok := ps.Cluster[0].EngineParams["innodb_flush_log_at_trx_commit"]; ok {
			flush = v
		}
	}
	syncBinlog := params["sync_binlog"]
	binlog := ps.Protocol == "semisync" || ps.Protocol == "async"
	lossy := flush == "0" || flush == "2" || binlog && syncBinlog != "" && syncBinlog != "1"
	crashed := crashedNodes(faults, ps.Members())
	allCrashed := len(crashed) == ps.Nodes
	lossCls := append([]string{"lost-acknowledged", "nonlinearizable", "incompatible-order"}, orderClasses()...)
	setting := fmt.Sprintf("innodb_flush_log_at_trx_commit=%s", flush)
	if binlog && syncBinlog != "" && syncBinlog != "1" {
		setting += ", sync_binlog=" + syncBinlog
	}
	if lossy {
		settingWhy := setting + " acknowledges a commit before it is on disk (MySQL manual: with 0 or 2, transactions whose log was not flushed can be lost in a crash; sync_binlog=0 or N leaves binlog groups unsynced), and a crash, unlike a kill or stop, loses the OS page cache"
		switch {
		case (ps.Protocol == "galera" || ps.Protocol == "group-replication") && allCrashed:
			add(settingWhy+": every node crashed, so the unsynced tail is gone everywhere at once (no member keeps a copy to give back; Jepsen, MariaDB Galera 12.1.2: coordinated crashes lose committed transactions at this setting); later reads then miss what earlier reads saw", lossCls...)
		case ps.Protocol == "standalone" && crashed["n1"]:
			add(settingWhy+": the server's unsynced tail is gone; later reads then miss what earlier reads saw", lossCls...)
		case binlog && crashed["n1"]:
			add(settingWhy+": the source n1 crashed and recovered without its unsynced tail, which replicas that received it still have (the source is the one missing rows, so the nodes' data can differ); later reads then miss what earlier reads saw", lossCls...)
		}
	}
	if ps.Protocol == "semisync" && promoted(faults) {
		timeout := 10 * time.Second // rpl_semi_sync_master_timeout's default, 10000 ms
		for _, k := range []string{"rpl_semi_sync_master_timeout", "rpl_semi_sync_source_timeout"} {
			if ms, err := strconv.ParseFloat(params[k], 64); err == nil {
				timeout = time.Duration(ms * float64(time.Millisecond))
			}
		}
		if cut := isolatedBeforeCrash(faults, "n1"); cut > timeout {
			add(fmt.Sprintf("the source n1 was cut off from every replica for %s before it crashed, longer than rpl_semi_sync_master_timeout (%s): it fell back to asynchronous replication and acknowledged commits no replica received, which the promoted replica lacks (MySQL manual: when the timeout expires without an acknowledgment the source reverts to asynchronous replication)", cut.Round(time.Millisecond), timeout), lossCls...)
		}
	}
	if ps.Protocol == "async" && promoted(faults) {
		add("asynchronous replication acknowledges a commit before any replica has it: after a failover (promote) the commits the old source acknowledged and did not ship are not on the new source", lossCls...)
	}
	return out
}

// promoted reports whether the fault log has a promote.
func promoted(faults []string) bool {
	for _, f := range faults {
		if fs := strings.Fields(f); len(fs) >= 2 && fs[1] == "promote" {
			return true
		}
	}
	return false
}

// isolatedBeforeCrash returns how long node was alone on its side of a partition up to its
// first crash (0 if it never was), from the fault log ("1.000s partition n1|n2,n3",
// "2.500s heal", "1.501s crash n1").
func isolatedBeforeCrash(faults []string, node string) time.Duration {
	var since time.Duration = -1
	for _, f := range faults {
		fs := strings.Fields(f)
		if len(fs) < 2 {
			continue
		}
		at, err := time.ParseDuration(fs[0])
		if err != nil {
			continue
		}
		switch {
		case fs[1] == "partition" && len(fs) >= 3 && slices.Contains(strings.Split(fs[2], "|"), node):
			if since < 0 {
				since = at
			}
		case fs[1] == "partition" || fs[1] == "heal":
			since = -1
		case fs[1] == "crash" && len(fs) >= 3 && (fs[2] == node || fs[2] == "all"):
			if since < 0 {
				return 0
			}
			return at - since
		}
	}
	return 0
}

// judgeExpected fills a failed verdict's Explanation, Expected and Unexpected from the
// allowances of the point: every anomaly class found that some allowance names is
// explained by it; the rest are unexpected. internal is covered only when every instance
// is the own-append-on-a-newer-version form (checker.InternalNewerVersion): a read that
// lacks the transaction's own append is never allowed.
func judgeExpected(ps *PointSpec, faults []string, v *checker.Verdict) {
	if v.Valid != checker.False {
		return
	}
	al := allowances(ps, faults)
	var why []string
	seen := map[string]bool{}
	v.Unexpected = nil
	for _, a := range v.Anomalies {
		coverable := a.Class != "internal" || a.Forms[checker.InternalNewerVersion] == a.Count
		covered := false
		for _, x := range al {
			if coverable && slices.Contains(x.classes, a.Class) {
				covered = true
				if !seen[x.why] {
					seen[x.why] = true
					why = append(why, x.why)
				}
			}
		}
		if !covered {
			name := a.Class
			if len(a.Forms) > 0 {
				name += fmt.Sprintf(" (forms %v)", a.Forms)
			}
			v.Unexpected = append(v.Unexpected, name)
		}
	}
	v.Explanation = strings.Join(why, "; ")
	v.Expected = len(v.Unexpected) == 0 && len(v.Anomalies) > 0
}

// expectationText is the part of a failed verdict's one-line detail that says whether the
// failure is what the protocol documents (expected) or a finding to triage (unexpected).
func expectationText(protocol string, v *checker.Verdict) string {
	switch {
	case v.Valid != checker.False:
		return ""
	case v.Expected:
		return "expected for " + protocol + " (each class is one its documented guarantees allow under these settings and faults; why: below)"
	case len(v.Unexpected) > 0:
		return "UNEXPECTED for " + protocol + ": " + strings.Join(v.Unexpected, ", ") + " (no documented guarantee of the protocol allows these here: a bug in the model, the harness or the checker until triaged)"
	}
	return ""
}

// Unwrap gives workloads.CommitID the engine's transaction behind a node's gate.
func (t gatedTx) Unwrap() workloads.Tx { return t.inner }
