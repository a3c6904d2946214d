package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/replbench/replbench/results"
	"github.com/replbench/replbench/storage"
)

// This file is the lost-acknowledged-writes check (acklog.go) for node processes. Each
// node logs its own clients' commits; the coordinator gathers every node's records at the
// end of the point, replays them into one ackLog (the protocols' total order decides
// which write of a row is the latest, whichever node made it) and reads the rows on every
// node process, so an external point gets the verdict an in-process one does.
//
// A supervised node (one that can be killed) also appends every record to a file beside
// its data directory as the commit is acknowledged, with no fsync: a SIGKILL leaves what
// was written with the operating system, as it does the engine's WAL, so the restarted
// process hands over its predecessor's records too, and no acknowledged write is missed
// because the process that made it died before it could report it.

// ackRecord is one logged commit as it travels: the arguments of ackLog.record, the rows
// in the engine's own encodings (a JSON number would turn an int64 key into a float).
type ackRecord struct {
	Node    string          `json:"node"`
	GTID    string          `json:"gtid,omitempty"`
	HasUUID bool            `json:"uuid,omitempty"`
	Seqno   int64           `json:"seqno,omitempty"`
	Acked   bool            `json:"acked"`
	Writes  []ackRecordedOp `json:"writes"`
}

type ackRecordedOp struct {
	Table string `json:"table"`
	Op    string `json:"op"`
	Row   []byte `json:"row,omitempty"` // storage.EncodeRow; insert and update
	PK    []byte `json:"pk,omitempty"`  // storage.EncodeKey; delete
}

func encodeAckRecord(node, gtid string, hasUUID bool, seqno int64, ws []ackedWrite, acked bool) (ackRecord, error) {
	r := ackRecord{Node: node, GTID: gtid, HasUUID: hasUUID, Seqno: seqno, Acked: acked}
	for _, w := range ws {
		o := ackRecordedOp{Table: w.table, Op: w.op}
		var err error
		if w.op == "delete" {
			o.PK, err = storage.EncodeKey(w.pk...)
		} else {
			o.Row, err = storage.EncodeRow(w.row)
		}
		if err != nil {
			return r, err
		}
		r.Writes = append(r.Writes, o)
	}
	return r, nil
}

// replay records r into l, as the commit's own client did on its node.
func (l *ackLog) replay(r ackRecord) error {
	ws := make([]ackedWrite, 0, len(r.Writes))
	for _, o := range r.Writes {
		w := ackedWrite{table: o.Table, op: o.Op}
		var err error
		if o.Op == "delete" {
			w.pk, err = storage.DecodeKey(o.PK)
		} else {
			w.row, err = storage.DecodeRow(o.Row)
		}
		if err != nil {
			return fmt.Errorf("acknowledged write on %s: %w", o.Table, err)
		}
		ws = append(ws, w)
	}
	l.record(r.Node, r.GTID, r.HasUUID, r.Seqno, ws, r.Acked)
	return nil
}

// ackJournal is a node process's records of a point: in memory, and appended to file
// when the node is supervised.
type ackJournal struct {
	mu   sync.Mutex
	recs []ackRecord
	f    *os.File
	err  error
}

// openAckJournal starts the journal of a point; path "" keeps it in memory only. A
// rejoining process first reads what its predecessors wrote to path (a last line cut by
// the kill is dropped: that commit's client never saw its acknowledgement recorded).
func openAckJournal(path string, rejoin bool) (*ackJournal, error) {
	j := &ackJournal{}
	if path == "" {
		return j, nil
	}
	if rejoin {
		b, err := os.ReadFile(path)
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<26)
		for sc.Scan() {
			var r ackRecord
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				j.recs = append(j.recs, r)
			}
		}
	} else {
		_ = os.Remove(path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	j.f = f
	return j, nil
}

// add is ackLog.journal: called under the log's lock, in the committing client.
func (j *ackJournal) add(node, gtid string, hasUUID bool, seqno int64, ws []ackedWrite, acked bool) {
	r, err := encodeAckRecord(node, gtid, hasUUID, seqno, ws, acked)
	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil {
		j.err = err
		return
	}
	j.recs = append(j.recs, r)
	if j.f != nil {
		b, _ := json.Marshal(r)
		if _, err := j.f.Write(append(b, '\n')); err != nil && j.err == nil {
			j.err = err
		}
	}
}

// page returns up to n records from from, and the next offset (-1 at the end).
func (j *ackJournal) page(from, n int) ([]ackRecord, int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return nil, -1, fmt.Errorf("the acknowledged-write log: %w", j.err)
	}
	from = min(max(from, 0), len(j.recs))
	to := min(from+n, len(j.recs))
	next := to
	if to == len(j.recs) {
		next = -1
	}
	return j.recs[from:to], next, nil
}

func (j *ackJournal) close(remove bool) {
	if j == nil || j.f == nil {
		return
	}
	_ = j.f.Close()
	if remove {
		_ = os.Remove(j.f.Name())
	}
}

// acksPage and acksReply are one page of a node's records.
type acksPage struct {
	From int `json:"from"`
}

type acksReply struct {
	Records []ackRecord `json:"records"`
	Next    int         `json:"next"`
}

// probeWire and imagesRequest carry the check's reads to a node.
type probeWire struct {
	Table string `json:"table"`
	PK    []byte `json:"pk"`
}

type imagesRequest struct {
	Probes []probeWire `json:"probes"`
}

// ackPage bounds the records or probes of one request, under NATS's default 1 MiB
// message.
const ackPage = 1000

// images reads the probes on this node's engine (op "images").
func (pt *nodePoint) images(rq imagesRequest) ([]string, error) {
	probes := make([]ackProbe, len(rq.Probes))
	for i, p := range rq.Probes {
		pk, err := storage.DecodeKey(p.PK)
		if err != nil {
			return nil, err
		}
		probes[i] = ackProbe{table: p.Table, pk: pk}
	}
	return engineImages(pt.engine)(context.Background(), probes)
}

// remoteImages reads probes on node's process, a page at a time.
func remoteImages(x *ExternalNodes, node string) imageReader {
	return func(ctx context.Context, probes []ackProbe) ([]string, error) {
		out := make([]string, 0, len(probes))
		for from := 0; from < len(probes); from += ackPage {
			var rq imagesRequest
			for _, p := range probes[from:min(from+ackPage, len(probes))] {
				pk, err := storage.EncodeKey(p.pk...)
				if err != nil {
					return nil, err
				}
				rq.Probes = append(rq.Probes, probeWire{Table: p.table, PK: pk})
			}
			var got []string
			if err := x.co.Call(ctx, node, "images", rq, &got, time.Minute); err != nil {
				return nil, err
			}
			if len(got) != len(rq.Probes) {
				return nil, fmt.Errorf("%s answered %d rows for %d keys", node, len(got), len(rq.Probes))
			}
			out = append(out, got...)
		}
		return out, nil
	}
}

// checkExternalAcks gathers every member's records into one log and runs the check on
// the node processes.
func checkExternalAcks(ctx context.Context, x *ExternalNodes, members []string, tables []storage.TableSchema, ps *PointSpec, p *results.Point) error {
	l := newAckLog(tables)
	for _, m := range members {
		for from := 0; from >= 0; {
			var r acksReply
			if err := x.co.Call(ctx, m, "acks", acksPage{From: from}, &r, time.Minute); err != nil {
				return err
			}
			for _, rec := range r.Records {
				if err := l.replay(rec); err != nil {
					return fmt.Errorf("%s: %w", m, err)
				}
			}
			from = r.Next
		}
	}
	nodes := make([]checkNode, len(members))
	for i, m := range members {
		nodes[i] = checkNode{name: m, live: true, read: remoteImages(x, m)}
	}
	ackVerdict(ctx, l, nodes, ps, p)
	return nil
}
