package storage

import (
	"testing"

	"github.com/replbench/replbench/protocols"
)

// rowInsert builds a remote row change inserting r (the table's pk is its first column).
func rowInsert(t testing.TB, table string, r Row) protocols.RowChange {
	t.Helper()
	pk, err := EncodeKey(r[0])
	must(t, err)
	enc, err := EncodeRow(r)
	must(t, err)
	return protocols.RowChange{Table: table, Op: protocols.OpInsert, Row: pk, After: enc}
}

// applyWS applies a remote write-set with the given seqno as a provider would.
func applyWS(t testing.TB, e *Engine, seqno int64, rows ...protocols.RowChange) {
	t.Helper()
	ws := &protocols.WriteSet{Source: "n9", Seqno: seqno, Rows: rows}
	for _, r := range rows {
		ws.Keys = append(ws.Keys, protocols.Key{Table: r.Table, Row: r.Row, Type: protocols.KeyExclusive})
	}
	a, err := e.PrepareApply(bg, ws)
	must(t, err)
	must(t, a.Commit())
}
