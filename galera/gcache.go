package galera

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/replbench/replbench/galera/replicator"
)

// This file is gcache on the node's filesystem: galera.cache, the ring buffer of ordered
// write-sets (gcache.size bytes) that a restarted node recovers (gcache.recover=yes) to
// donate IST, and that lets the cluster come back by IST rather than SST after every node
// went down.
//
// What survives follows the real file. Galera's ring buffer is an mmapped file it never
// msyncs per write-set: a killed process leaves every page it wrote to the page cache, a
// power loss keeps only what the kernel had written back. Here each write-set is written
// to the file (not synced) when the machine caches it, so a kill keeps all of it, and the
// loop syncs the file every gcacheWriteback (the kernel's periodic writeback of dirty
// pages), so a crash loses the tail written since the last writeback. The file lives on
// the same filesystem as the engine (Pebble's crash-testing MemFS for an in-memory node),
// so storage.Engine.Down's clone decides what survives for both, at the same instant.
//
// The ring: records are written one after another and wrap to offset 0 when the next one
// would pass gcache.size, overwriting the oldest. Each record carries a checksum, so
// recovery scans the whole file and keeps every intact record in any order (a record cut
// by the wrap or by a crash fails its checksum and is skipped); replicator.RecoverCache
// then keeps the gapless run ending at the recovered seqno. The header makes a record a
// little larger than the machine's byte count, so after a wrap the file can hold a few
// write-sets fewer than the machine's in-memory cache: recovery keeps the newest, which is
// what IST needs.

// gcacheFile is the file name Galera uses (gcache.name, in the data directory).
const gcacheFile = "galera.cache"

// gcacheWriteback is how often the dirty pages of galera.cache reach the disk: Linux's
// flusher wakes every 5 s (vm.dirty_writeback_centisecs=500); its 30 s expiry is ignored,
// which makes a crash lose less than on a real machine, not more.
const gcacheWriteback = 5 * time.Second

// gcacheMagic starts every record ("GCRB").
const gcacheMagic = 0x42524347

// gcacheHeader is magic, length, seqno, flags and checksum.
const gcacheHeader = 4 + 4 + 8 + 1 + 4

// fileSystemer is implemented by the storage engine: the filesystem and directory it keeps
// its files in (storage.Engine.FileSystem).
type fileSystemer interface {
	FileSystem() (vfs.FS, string)
}

// ringCache is the writer of galera.cache; only the provider's loop uses it.
type ringCache struct {
	fs       vfs.FS
	path     string
	size     int64
	f        vfs.File
	off      int64
	dirty    bool
	lastSync time.Time
	err      error // the first write error: the cache stops being written (IST falls back to SST)
}

// openRingCache creates galera.cache afresh (a previous file's usable content has been
// recovered already and is written back by the caller).
func openRingCache(fs vfs.FS, dir string, size int64) (*ringCache, error) {
	r := &ringCache{fs: fs, path: fs.PathJoin(dir, gcacheFile), size: size, lastSync: time.Now()}
	if err := r.reset(); err != nil {
		return nil, err
	}
	return r, nil
}

// reset truncates the file (an SST's history reset) and makes its name durable.
func (r *ringCache) reset() error {
	if r == nil {
		return nil
	}
	if r.f != nil {
		_ = r.f.Close()
		r.f = nil
	}
	f, err := r.fs.Create(r.path, vfs.WriteCategoryUnspecified)
	if err == nil {
		_ = f.Close()
		f, err = r.fs.OpenReadWrite(r.path, vfs.WriteCategoryUnspecified)
	}
	if err != nil {
		return fmt.Errorf("galera: %s: %w", r.path, err)
	}
	if d, err := r.fs.OpenDir(r.fs.PathDir(r.path)); err == nil {
		_ = d.Sync() // the file's name survives a crash; its contents follow the writeback
		_ = d.Close()
	}
	r.f, r.off, r.dirty = f, 0, false
	return nil
}

// add appends one write-set, wrapping to the start when it would pass the size.
func (r *ringCache) add(c replicator.Cached) {
	if r == nil || r.err != nil || r.f == nil {
		return
	}
	rec := encodeCacheRecord(c)
	if int64(len(rec)) > r.size {
		return // larger than the whole cache: Galera puts it in an overflow page, lost at restart
	}
	if r.off+int64(len(rec)) > r.size {
		r.off = 0
	}
	if _, err := r.f.WriteAt(rec, r.off); err != nil {
		r.err = err
		return
	}
	r.off += int64(len(rec))
	r.dirty = true
}

// writeback syncs the file when the writeback interval has passed.
func (r *ringCache) writeback(now time.Time) {
	if r == nil || r.f == nil || !r.dirty || now.Sub(r.lastSync) < gcacheWriteback {
		return
	}
	r.lastSync = now
	r.dirty = false
	if err := r.f.Sync(); err != nil && r.err == nil {
		r.err = err
	}
}

// close syncs and closes the file: on a clean shutdown mysqld unmaps the cache and the
// kernel keeps its pages (a stop's image keeps what was synced). A killed or crashed node
// closes it only after its image was taken, so this sync cannot save anything for it.
func (r *ringCache) close() {
	if r != nil && r.f != nil {
		_ = r.f.Sync()
		_ = r.f.Close()
		r.f = nil
	}
}

func encodeCacheRecord(c replicator.Cached) []byte {
	rec := make([]byte, gcacheHeader+len(c.Action))
	binary.LittleEndian.PutUint32(rec[0:], gcacheMagic)
	binary.LittleEndian.PutUint32(rec[4:], uint32(len(c.Action)))
	binary.LittleEndian.PutUint64(rec[8:], uint64(c.Seqno))
	if c.Passed {
		rec[16] = 1
	}
	copy(rec[gcacheHeader:], c.Action)
	crc := crc32.ChecksumIEEE(rec[8:17])
	crc = crc32.Update(crc, crc32.IEEETable, c.Action)
	binary.LittleEndian.PutUint32(rec[17:], crc)
	return rec
}

// readRingCache returns every intact record of dir's galera.cache (none if it does not
// exist). A record whose checksum fails (cut by the ring's wrap or by a crash) is skipped
// byte by byte until the next intact one.
func readRingCache(fsys vfs.FS, dir string) ([]replicator.Cached, error) {
	f, err := fsys.Open(fsys.PathJoin(dir, gcacheFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("galera: read %s: %w", gcacheFile, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("galera: read %s: %w", gcacheFile, err)
	}
	return decodeRing(data), nil
}

func decodeRing(data []byte) []replicator.Cached {
	var out []replicator.Cached
	for i := 0; i+gcacheHeader <= len(data); {
		if binary.LittleEndian.Uint32(data[i:]) != gcacheMagic {
			i++
			continue
		}
		n := int(binary.LittleEndian.Uint32(data[i+4:]))
		end := i + gcacheHeader + n
		if n <= 0 || end > len(data) {
			i++
			continue
		}
		crc := crc32.ChecksumIEEE(data[i+8 : i+17])
		crc = crc32.Update(crc, crc32.IEEETable, data[i+gcacheHeader:end])
		if crc != binary.LittleEndian.Uint32(data[i+17:]) {
			i++
			continue
		}
		out = append(out, replicator.Cached{
			Seqno:  int64(binary.LittleEndian.Uint64(data[i+8:])),
			Passed: data[i+16] == 1,
			Action: append([]byte(nil), data[i+gcacheHeader:end]...),
		})
		i = end
	}
	return out
}
