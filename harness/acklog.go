package harness

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// ackLog is the lost-acknowledged-writes check of every workload (insert, sysbench, TPC-C,
// hotspot), which records no history: each client's transactions are seen through ackTx,
// and for every row an acknowledged commit wrote, the log keeps the write of the commit
// latest in the protocol's order (its seqno or GNO, which every protocol assigns in its
// total order). At the end, every live node's engine, read directly, must hold exactly that
// image (or not hold the row, for a delete); a node that does not is reported with the
// commit's GTID or seqno. Rows an in-doubt commit also wrote are left out (the in-doubt
// one may have landed after), as is the count the old tally check made: one lost
// acknowledged insert and one in-doubt insert that landed no longer cancel out.
//
// The cost is a map update per written row under one mutex, noise next to a commit.
type ackLog struct {
	schemas map[string]storage.TableSchema

	mu     sync.Mutex
	rows   map[ackKey]*ackedWrite
	doubt  map[ackKey]bool
	acked  int64
	serial int64 // order of commits without a seqno (an engine without replication)
	// vanished are acknowledged row images that a later acknowledged INSERT of the same
	// key proves were gone from the inserting node: an insert succeeds only where the key
	// is absent, and nothing acknowledged deleted it. That is how a crash that lost
	// commits shows when the restarted server hands out the lost auto-increment ids (and
	// seqnos) again: the key is present at the end, holding another transaction's row.
	vanished []vanishedWrite
	// journal, when set, hears every recorded commit (acklog_remote.go): a node process's
	// log survives its SIGKILL in a file, as its engine's data does.
	journal func(node, gtid string, hasUUID bool, seqno int64, ws []ackedWrite, acked bool)
}

type ackKey struct{ table, pk string }

// vanishedWrite is an acknowledged write whose row a later acknowledged insert of the same
// key found absent on the node named by by.
type vanishedWrite struct{ lost, by ackedWrite }

type ackedWrite struct {
	order int64  // position in the protocol's total order (or of arrival, with none)
	gtid  string // the commit's GTID as the protocol prints it ("" when it has none)
	seqno int64
	node  string
	table string
	op    string // insert, update, delete
	pk    []storage.Value
	row   storage.Row // nil: deleted
	at    time.Time
}

func newAckLog(tables []storage.TableSchema) *ackLog {
	l := &ackLog{schemas: map[string]storage.TableSchema{}, rows: map[ackKey]*ackedWrite{}, doubt: map[ackKey]bool{}}
	for _, t := range tables {
		l.schemas[t.Name] = t
	}
	return l
}

// wrap returns db with its transactions logged.
func (l *ackLog) wrap(db workloads.DB) workloads.DB { return ackDB{db, l} }

type ackDB struct {
	workloads.DB
	l *ackLog
}

func (d ackDB) Begin() workloads.Tx { return &ackTx{Tx: d.DB.Begin(), l: d.l, node: d.Node()} }

type ackTx struct {
	workloads.Tx
	l      *ackLog
	node   string
	writes []ackedWrite
}

// Unwrap gives workloads.CommitID the transaction underneath.
func (t *ackTx) Unwrap() workloads.Tx { return t.Tx }

func (t *ackTx) Insert(ctx context.Context, table string, row storage.Row) (int64, error) {
	id, err := t.Tx.Insert(ctx, table, row)
	if err == nil {
		r := slices.Clone(row)
		if s, ok := t.l.schemas[table]; ok {
			for i, c := range s.Columns {
				if c.AutoIncrement && i < len(r) && (r[i] == nil || r[i] == int64(0)) {
					r[i] = id
				}
			}
		}
		t.writes = append(t.writes, ackedWrite{table: table, op: "insert", row: r})
	}
	return id, err
}

func (t *ackTx) Update(ctx context.Context, table string, row storage.Row) error {
	err := t.Tx.Update(ctx, table, row)
	if err == nil {
		t.writes = append(t.writes, ackedWrite{table: table, op: "update", row: slices.Clone(row)})
	}
	return err
}

func (t *ackTx) Delete(ctx context.Context, table string, pk ...storage.Value) (bool, error) {
	ok, err := t.Tx.Delete(ctx, table, pk...)
	if err == nil && ok {
		t.writes = append(t.writes, ackedWrite{table: table, op: "delete", pk: slices.Clone(pk)})
	}
	return ok, err
}

func (t *ackTx) Rollback() {
	t.writes = nil
	t.Tx.Rollback()
}

func (t *ackTx) Commit(ctx context.Context) error {
	err := t.Tx.Commit(ctx)
	ws := t.writes
	t.writes = nil
	if len(ws) == 0 {
		return err
	}
	if err != nil && !workloads.InDoubt(err) {
		return err
	}
	g, seq, _ := workloads.CommitID(t)
	t.l.record(t.node, g.String(), g.UUID != "", seq, ws, err == nil)
	return err
}

// key is a logged write's primary key.
func (l *ackLog) key(w *ackedWrite) ([]storage.Value, bool) {
	if w.op == "delete" {
		return w.pk, true
	}
	s, found := l.schemas[w.table]
	if !found {
		return nil, false
	}
	var pk []storage.Value
	for _, i := range s.PrimaryKey {
		if i >= len(w.row) {
			return nil, false
		}
		pk = append(pk, w.row[i])
	}
	return pk, true
}

func (l *ackLog) record(node, gtid string, hasUUID bool, seqno int64, ws []ackedWrite, acked bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.journal != nil {
		l.journal(node, gtid, hasUUID, seqno, ws, acked)
	}
	l.serial++
	order := seqno
	if seqno == 0 {
		order = l.serial
	}
	if !hasUUID {
		gtid = ""
	}
	if acked {
		l.acked++
	}
	now := time.Now()
	for i := range ws {
		w := ws[i]
		pk, ok := l.key(&w)
		if !ok {
			continue
		}
		k := ackKey{w.table, fmt.Sprint(pk...)}
		if !acked {
			l.doubt[k] = true
			continue
		}
		w.order, w.gtid, w.seqno, w.node, w.pk, w.at = order, gtid, seqno, node, pk, now
		if w.op == "delete" {
			w.row = nil
		}
		cur := l.rows[k]
		if w.op == "insert" && cur != nil && cur.row != nil && !l.doubt[k] {
			// The key held an acknowledged row and the insert still succeeded: that row
			// was gone from w.node when the insert ran. The insert is now the key's image.
			l.vanished = append(l.vanished, vanishedWrite{lost: *cur, by: w})
			l.rows[k] = &w
			continue
		}
		if cur == nil || cur.order <= order {
			l.rows[k] = &w
		}
	}
}

// check reads every logged row on every node's engine directly and returns the verdict,
// with the rule of harness/checker/lost: a row is lost when a live node lacks its image;
// a node still down (read from its surviving storage, checkNodes) is not held to it, what
// it lacks is counted; with every node down, a row is lost when no surviving copy holds
// its image.
func (l *ackLog) check(ctx context.Context, nodes []checkNode) checker.Verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	liveN := 0
	for _, n := range nodes {
		if n.live {
			liveN++
		}
	}
	v := checker.Verdict{Checker: checker.LostName, Valid: checker.True,
		Checked: map[string]int{"acknowledged commits": int(l.acked), "rows": len(l.rows), "nodes": liveN}}
	if len(nodes) == 0 {
		v.Valid = checker.Unknown
		v.Note = "no node to check: none is live and no surviving storage could be read"
		return v
	}
	if liveN < len(nodes) {
		v.Checked["down nodes read from their surviving storage"] = len(nodes) - liveN
	}
	if liveN == 0 {
		v.Note = "every node was down at the check: read from each node's surviving storage (what a restart recovers); a row is lost when no copy holds its acknowledged image"
	}
	downLacks := 0
	keys := make([]ackKey, 0, len(l.rows))
	for k := range l.rows {
		if !l.doubt[k] {
			keys = append(keys, k)
		}
	}
	v.Checked["rows also written in doubt (skipped)"] = len(l.rows) - len(keys)
	slices.SortFunc(keys, func(a, b ackKey) int {
		if c := strings.Compare(a.table, b.table); c != 0 {
			return c
		}
		return strings.Compare(a.pk, b.pk)
	})
	probes := make([]ackProbe, len(keys))
	for i, k := range keys {
		probes[i] = ackProbe{table: k.table, pk: l.rows[k].pk}
	}
	images := make([][]string, len(nodes))
	for j, n := range nodes {
		read := n.read
		if read == nil {
			read = engineImages(n.e)
		}
		got, err := read(ctx, probes)
		if err != nil {
			v.Valid = checker.Unknown
			v.Note = fmt.Sprintf("reading the acknowledged rows on %s: %v", n.name, err)
			return v
		}
		images[j] = got
	}
	var ws []checker.Witness
	for i, k := range keys {
		w := l.rows[k]
		var missing []string
		liveMissing, downMissing := 0, 0
		for j, n := range nodes {
			if images[j][i] != fmt.Sprint(w.row) {
				missing = append(missing, n.name)
				if n.live {
					liveMissing++
				} else {
					downMissing++
				}
			}
		}
		if downMissing > 0 {
			downLacks++
		}
		if liveN > 0 && liveMissing == 0 || liveN == 0 && len(missing) < len(nodes) {
			continue
		}
		lw := checker.LostWrite{Op: -1, Process: -1, Node: w.node, Mop: fmt.Sprintf("%s %s %s", w.op, k.table, k.pk),
			Key: k.table + " " + k.pk, GTID: w.gtid, Seqno: w.seqno, MissingOn: missing}
		v.Lost = append(v.Lost, lw)
		ws = append(ws, checker.Witness{Text: lw.String() + fmt.Sprintf(" (acknowledged at %s)", w.at.Format("15:04:05.000"))})
	}
	for _, vw := range l.vanished {
		k := ackKey{vw.lost.table, fmt.Sprint(vw.lost.pk...)}
		if l.doubt[k] {
			continue // an in-doubt delete may have removed it
		}
		w := vw.lost
		lw := checker.LostWrite{Op: -1, Process: -1, Node: w.node, Mop: fmt.Sprintf("%s %s %s", w.op, k.table, k.pk),
			Key: k.table + " " + k.pk, GTID: w.gtid, Seqno: w.seqno, MissingOn: []string{vw.by.node}}
		v.Lost = append(v.Lost, lw)
		by := vw.by.gtid
		if by == "" {
			by = fmt.Sprintf("seqno %d", vw.by.seqno)
		}
		ws = append(ws, checker.Witness{Text: lw.String() + fmt.Sprintf(" (acknowledged at %s; gone from %s before the acknowledged insert of the same key at %s, %s)",
			w.at.Format("15:04:05.000"), vw.by.node, vw.by.at.Format("15:04:05.000"), by)})
	}
	if len(l.vanished) > 0 {
		v.Checked["acknowledged rows a later insert of their key found gone"] = len(l.vanished)
	}
	if liveN > 0 && liveN < len(nodes) {
		v.Checked["rows a down node's surviving storage lacks (fetched on rejoin, not lost)"] = downLacks
	}
	v.Add("lost-acknowledged", len(v.Lost), ws, 10)
	return v
}

// ackProbe is one row the check reads on every node.
type ackProbe struct {
	table string
	pk    []storage.Value
}

// imageReader reads, for every probe, the row a node holds under its key as fmt.Sprint
// prints it ("[]" for none): on an engine here, or from a node process (acklog_remote.go).
type imageReader func(ctx context.Context, probes []ackProbe) ([]string, error)

// engineImages reads the probes on e directly, never through the protocol's gate.
func engineImages(e *storage.Engine) imageReader {
	return func(ctx context.Context, probes []ackProbe) ([]string, error) {
		out := make([]string, len(probes))
		for i, p := range probes {
			tx := e.BeginLocal()
			got, err := tx.Get(ctx, p.table, p.pk...)
			tx.Rollback()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.table, err)
			}
			out[i] = fmt.Sprint(got)
		}
		return out, nil
	}
}
