package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"

	"github.com/replbench/replbench/internal/codec"
)

// Snapshot stream format: a magic line, then frames of (kind byte, uvarint length,
// payload): 'T' starts a table (uvarint auto-increment counter, schema), 'R' is one row of
// the last table (length-prefixed primary key, then the row encoding), 'E' ends the stream.
// The stream is a consistent Pebble snapshot, so it can be taken while clients run.
const snapshotMagic = "replbench-storage-snapshot/2\n" // 2: column declarations and defaults

const maxFrame = 256 << 20

// Snapshot implements protocols.Applier: it writes every table's schema, auto-increment
// counter and rows.
func (e *Engine) Snapshot(w io.Writer) error {
	if e.closed.Load() {
		return ErrClosed
	}
	snap := e.db.NewSnapshot()
	defer snap.Close()
	bw := bufio.NewWriterSize(w, 256<<10)
	if _, err := bw.WriteString(snapshotMagic); err != nil {
		return err
	}
	var frame []byte
	put := func(kind byte, payload []byte) error {
		var hdr [1 + binary.MaxVarintLen64]byte
		hdr[0] = kind
		n := binary.PutUvarint(hdr[1:], uint64(len(payload)))
		if _, err := bw.Write(hdr[:1+n]); err != nil {
			return err
		}
		_, err := bw.Write(payload)
		return err
	}
	for _, name := range e.Tables() {
		tb, err := e.table(name)
		if err != nil {
			return err
		}
		frame = binary.AppendVarint(frame[:0], tb.autoValue())
		frame = appendSchema(frame, &tb.schema)
		if err := put('T', frame); err != nil {
			return err
		}
		it, err := snap.NewIter(&pebble.IterOptions{LowerBound: tb.rowPrefix, UpperBound: prefixEnd(tb.rowPrefix)})
		if err != nil {
			return err
		}
		for ok := it.First(); ok; ok = it.Next() {
			k := it.Key()[len(tb.rowPrefix):]
			frame = binary.AppendUvarint(frame[:0], uint64(len(k)))
			frame = append(append(frame, k...), it.Value()...)
			if err := put('R', frame); err != nil {
				it.Close()
				return err
			}
		}
		if err := it.Close(); err != nil {
			return err
		}
	}
	if err := put('E', nil); err != nil {
		return err
	}
	return bw.Flush()
}

// Restore implements protocols.Applier: it replaces every table with the snapshot's.
// No transaction may be open on the engine while it runs.
func (e *Engine) Restore(r io.Reader) error {
	if e.closed.Load() {
		return ErrClosed
	}
	br := bufio.NewReaderSize(r, 256<<10)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != snapshotMagic {
		return fmt.Errorf("storage: restore on node %s: not a replbench storage snapshot (bad header)", e.opts.Node)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// Drop everything: metadata, rows and index entries.
	if err := e.db.DeleteRange([]byte{prefixIndex}, []byte{prefixRow + 1}, pebble.NoSync); err != nil {
		return err
	}
	clear(e.tables)
	var cur *table
	b := e.db.NewBatch()
	flush := func(force bool) error {
		if !force && b.Len() < 4<<20 {
			return nil
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			return err
		}
		b.Close()
		b = e.db.NewBatch()
		return nil
	}
	defer func() { b.Close() }()
	var buf []byte
	for {
		kind, err := br.ReadByte()
		if err != nil {
			return fmt.Errorf("storage: restore on node %s: snapshot truncated (no end marker): %w", e.opts.Node, err)
		}
		n, err := binary.ReadUvarint(br)
		if err != nil || n > maxFrame {
			return fmt.Errorf("storage: restore on node %s: corrupt frame length", e.opts.Node)
		}
		if uint64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(br, buf); err != nil {
			return fmt.Errorf("storage: restore on node %s: snapshot truncated: %w", e.opts.Node, err)
		}
		switch kind {
		case 'T':
			rd := codec.NewReader(buf, ErrCorruptKey)
			auto := rd.Varint()
			s := decodeSchema(&rd)
			err := rd.Err()
			if err == nil {
				err = validateSchema(&s)
			}
			if err != nil {
				return fmt.Errorf("storage: restore on node %s: table frame: %w", e.opts.Node, err)
			}
			if err := e.createTableLocked(s); err != nil {
				return err
			}
			cur = e.tables[s.Name]
			cur.seeAuto(auto)
		case 'R':
			if cur == nil {
				return fmt.Errorf("storage: restore on node %s: row before any table", e.opts.Node)
			}
			rd := codec.NewReader(buf, ErrCorruptKey)
			pk := rd.Bytes(len(buf))
			if err := rd.Err(); err != nil {
				return fmt.Errorf("storage: restore on node %s: row frame: %w", e.opts.Node, err)
			}
			val := rd.Rest()
			if len(cur.indexes) > 0 {
				row, err := DecodeRow(val)
				if err != nil {
					return fmt.Errorf("storage: restore on node %s, table %s: %w", e.opts.Node, cur.schema.Name, err)
				}
				for _, ix := range cur.indexes {
					if err := b.Set(ix.entryKey(row, pk), nil, nil); err != nil {
						return err
					}
				}
			}
			if err := b.Set(cur.rowKey(pk), val, nil); err != nil {
				return err
			}
			if err := flush(false); err != nil {
				return err
			}
		case 'E':
			if err := flush(true); err != nil {
				return err
			}
			if e.opts.Sync || e.opts.logFlush() == LogFlushSecond {
				return e.db.Flush()
			}
			return nil
		default:
			return fmt.Errorf("storage: restore on node %s: unknown frame kind %q", e.opts.Node, kind)
		}
	}
}

// CopyTo replaces dst's tables with a consistent copy of e's (provisioning a cluster from
// one loaded node, or a full state transfer).
func (e *Engine) CopyTo(dst *Engine) error {
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := e.Snapshot(pw)
		pw.CloseWithError(err)
		errc <- err
	}()
	rerr := dst.Restore(pr)
	pr.CloseWithError(errors.New("storage: restore ended"))
	serr := <-errc
	if serr != nil && rerr == nil {
		return serr
	}
	return rerr
}
