// Package cert is Galera's certifier: the deterministic test every node runs on every
// write-set, in total order, to decide whether it commits or is discarded, and how far back
// an applier must wait before applying it in parallel.
//
// The index maps a key's 8-byte hash to the most recent write-set that referenced it with
// each of the four key types (key -> [4]seqno), as Galera's FLAT8 key format and
// cert_index_ng do. Hashing is deliberate: two different keys with one hash conflict falsely
// here as they do in production. A conflict is possible only inside the write-set's
// uncertainty interval (last_seen, seqno) and only against another node's write-set (or
// TOI), because same-node conflicts were already settled by the originator's row locks;
// everything else at most raises depends_seqno. Given the same input sequence, every node
// reaches the same verdicts, which is what makes certification a replacement for
// distributed locking.
//
// The Certifier is not safe for concurrent use: Galera serialises certification under its
// local monitor, and so does the caller.
package cert

import (
	"github.com/replbench/replbench/protocols"
)

// Defaults from galera/src/certification.cpp and trx_handle.hpp.
const (
	// DefaultMaxLength is cert.max_length: a write-set whose seqno is more than this past
	// its last_seen fails outright, and the index window is trimmed to this length.
	DefaultMaxLength = 16384
	// DefaultLengthCheck is cert.length_check: the window trim is checked every this many
	// positions (position & 127 == 0 in the source).
	DefaultLengthCheck = 127
	// MaxPARange is MAX_PA_RANGE: depends_seqno starts at most this far below last_seen.
	MaxPARange = 65535

	// Reporting thresholds of set_trx_committed: the safe-to-discard seqno is reported to
	// the group (GCS_MSG_LAST) only after this many write-sets, keys or bytes.
	trxsThreshold  = 127
	keysThreshold  = 1024
	bytesThreshold = 128 << 20
)

// relation is one cell of the 4x4 matrix.
type relation uint8

const (
	none       relation = iota // the two key types never interact
	dependency                 // the later write-set must apply after the earlier one
	conflict                   // a conflict candidate: fails inside the interval from another node
)

// matrix[indexed][incoming]: rows are the key type already in the index (the earlier
// write-set), columns the incoming key type (check_against<> in certification.cpp).
var matrix = [4][4]relation{
	protocols.KeyShared:    {none, none, dependency, dependency},
	protocols.KeyReference: {none, none, dependency, conflict},
	protocols.KeyUpdate:    {dependency, dependency, conflict, conflict},
	protocols.KeyExclusive: {conflict, conflict, conflict, conflict},
}

// Relation reports what the matrix says about an incoming key of type incoming meeting an
// index entry of type indexed: "", "D" (dependency) or "C" (conflict candidate).
func Relation(indexed, incoming protocols.KeyType) string {
	switch matrix[indexed][incoming] {
	case dependency:
		return "D"
	case conflict:
		return "C"
	}
	return ""
}

// Config holds the certification parameters.
type Config struct {
	MaxLength    int64 // cert.max_length (default 16384)
	LengthCheck  int64 // cert.length_check (default 127)
	OptimisticPA bool  // cert.optimistic_pa (default true): false also makes every write-set depend on its last_seen
	PARange      int64 // MAX_PA_RANGE (65535)
}

// DefaultConfig returns the source's defaults.
func DefaultConfig() Config {
	return Config{MaxLength: DefaultMaxLength, LengthCheck: DefaultLengthCheck, OptimisticPA: true, PARange: MaxPARange}
}

// ref is one index slot: the most recent write-set that referenced a key with one type.
type ref struct {
	seqno  int64
	source int32 // interned node name
	toi    bool
}

type entry struct {
	refs [4]ref
}

// keyRef is one key of a certified write-set, kept to purge it later.
type keyRef struct {
	hash uint64
	typ  protocols.KeyType
}

// trx is one position of the trx map: everything still inside the certification window.
type trx struct {
	seqno int64
	keys  []keyRef // nil for a dummy (failed certification)
	bytes int
}

// Verdict is the outcome of Certify.
type Verdict struct {
	OK      bool
	Depends int64  // depends_seqno (meaningful when OK)
	Reason  string // why it failed, for logs and tests
}

// Stats are the certification status variables.
type Stats struct {
	IndexSize    int     // wsrep_cert_index_size: key entries in the index
	DepsDistance float64 // wsrep_cert_deps_distance: mean of seqno - depends_seqno
	Interval     float64 // wsrep_cert_interval: mean of seqno - last_seen - 1
	Certified    int64   // write-sets certified
	Failed       int64   // write-sets that failed (local and remote)
	Window       int     // positions still in the trx map
	Purged       int64   // highest position purged
}

// Certifier is one node's certification index.
type Certifier struct {
	cfg       Config
	initial   int64 // the node's initial position: a last_seen below it cannot be certified
	position  int64 // last certified seqno
	index     map[uint64]*entry
	trxs      []trx // ascending, contiguous seqnos from trxs[0].seqno
	sources   map[string]int32
	lastPAUns int64

	// in-flight local write-sets' last_seen values (deps_set_), for safe-to-discard
	localDeps map[int64]int
	// counters since the last report of safe-to-discard
	sinceTrxs, sinceKeys, sinceBytes int

	depsSum, intervalSum float64
	nPassed, nTested     int64
	nFailed              int64
	purged               int64
}

// New returns an empty certifier whose history starts after position start.
func New(cfg Config, start int64) *Certifier {
	if cfg.MaxLength <= 0 {
		cfg.MaxLength = DefaultMaxLength
	}
	if cfg.LengthCheck < 0 {
		cfg.LengthCheck = DefaultLengthCheck
	}
	if cfg.PARange <= 0 {
		cfg.PARange = MaxPARange
	}
	return &Certifier{
		cfg: cfg, initial: start, position: start, purged: start,
		index: map[uint64]*entry{}, sources: map[string]int32{}, localDeps: map[int64]int{},
	}
}

// LowestTrx is lowest_trx_seqno: the oldest position still in the index's history (the
// purge has not passed it), or the next position when the history is empty. A donor sends
// a joiner from here (Galera 4's certification index preload, cc_lowest_trx_seqno), so that
// the joiner can certify write-sets whose last_seen reaches back as far as the donor's
// index does.
func (c *Certifier) LowestTrx() int64 {
	if len(c.trxs) == 0 {
		return c.position + 1
	}
	return c.trxs[0].seqno
}

// Initial is the initial position: no write-set whose last_seen is below it passes here
// (the index never held what came before it).
func (c *Certifier) Initial() int64 { return c.initial }

// SetInitial lowers the initial position to that of the certifier this one's index was
// preloaded from (a state transfer's donor): with the same history from the preload on and
// the same initial position, the two certify every later write-set alike.
func (c *Certifier) SetInitial(p int64) { c.initial = min(c.initial, p) }

// Position returns the last certified seqno.
func (c *Certifier) Position() int64 { return c.position }

func (c *Certifier) source(name string) int32 {
	if id, ok := c.sources[name]; ok {
		return id
	}
	id := int32(len(c.sources) + 1)
	c.sources[name] = id
	return id
}

// HashKey is the FLAT8 digest of a key: table, index and row bytes under 64-bit FNV-1a.
// A row-less key is the table's branch key.
func HashKey(table, index string, row []byte) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(table); i++ {
		h = (h ^ uint64(table[i])) * prime
	}
	h = (h ^ 0xff) * prime
	if index != "PRIMARY" {
		for i := 0; i < len(index); i++ {
			h = (h ^ uint64(index[i])) * prime
		}
	}
	h = (h ^ 0xfe) * prime
	for _, b := range row {
		h = (h ^ uint64(b)) * prime
	}
	if row == nil {
		h = (h ^ 0xfd) * prime // branch keys never collide with an empty row key by construction
	}
	return h
}

// keysOf expands a write-set's keys the way Galera's key set does: every row key carries its
// own type, and its table (the branch part) is referenced SHARED.
func keysOf(ws *protocols.WriteSet) []keyRef {
	out := make([]keyRef, 0, len(ws.Keys)+1)
	var lastTable string
	for _, k := range ws.Keys {
		if len(k.Row) > 0 && k.Table != lastTable {
			out = append(out, keyRef{HashKey(k.Table, "", nil), protocols.KeyShared})
			lastTable = k.Table
		}
		row := k.Row
		if len(row) == 0 {
			row = nil
		}
		out = append(out, keyRef{HashKey(k.Table, k.Index, row), k.Type})
	}
	return out
}

// Certify runs the certification test on ws, which must be the next position
// (ws.Seqno == Position()+1) with ws.Snapshot as its last_seen. It sets ws.DependsSeqno,
// records the write-set in the index on a pass and as a dummy on a failure, and returns the
// verdict. local marks a write-set this node originated (it counts toward safe-to-discard).
func (c *Certifier) Certify(ws *protocols.WriteSet, local bool) Verdict {
	g, s := ws.Seqno, ws.Snapshot
	toi := ws.Flags&protocols.FlagTOI != 0
	unsafe := toi || ws.Flags&protocols.FlagPAUnsafe != 0
	c.position = g
	c.nTested++
	c.intervalSum += float64(g - s - 1)

	v := c.test(ws, g, s, toi, unsafe)
	keys := []keyRef(nil)
	if v.OK {
		keys = c.record(ws, g, toi, unsafe)
		c.nPassed++
		c.depsSum += float64(g - v.Depends)
		ws.DependsSeqno = v.Depends
	} else {
		c.nFailed++
		ws.DependsSeqno = g - 1
	}
	c.appendTrx(trx{seqno: g, keys: keys, bytes: ws.Size()}, local, s)
	return v
}

// Preload records a write-set the group has already certified, at the next position
// (ws.Seqno == Position()+1), with the verdict it was given: its keys if it passed, a dummy
// if it failed. It is the index rebuild of a joiner after an SST, from the donor's cached
// write-sets: their uncertainty intervals reach below where the joiner's index starts, so
// testing them again could only find fewer conflicts than the members that ordered them did,
// and the joiner's index would disagree with theirs. Certification counters do not move.
func (c *Certifier) Preload(ws *protocols.WriteSet, passed bool) {
	g := ws.Seqno
	c.position = g
	var keys []keyRef
	if passed {
		toi := ws.Flags&protocols.FlagTOI != 0
		keys = c.record(ws, g, toi, toi || ws.Flags&protocols.FlagPAUnsafe != 0)
	}
	c.appendTrx(trx{seqno: g, keys: keys, bytes: ws.Size()}, false, ws.Snapshot)
}

// record enters a passed write-set's keys at position g into the index and returns them.
func (c *Certifier) record(ws *protocols.WriteSet, g int64, toi, unsafe bool) []keyRef {
	keys := keysOf(ws)
	src := c.source(ws.Source)
	for _, k := range keys {
		e := c.index[k.hash]
		if e == nil {
			e = &entry{}
			c.index[k.hash] = e
		}
		e.refs[k.typ] = ref{seqno: g, source: src, toi: toi}
	}
	if unsafe {
		c.lastPAUns = g
	}
	return keys
}

func (c *Certifier) test(ws *protocols.WriteSet, g, s int64, toi, unsafe bool) Verdict {
	if g-s > c.cfg.MaxLength {
		return Verdict{Reason: "seqno too far past last_seen (cert.max_length)"}
	}
	if s < c.initial {
		return Verdict{Reason: "last_seen below this node's initial position"}
	}
	var dep int64
	if unsafe {
		dep = g - 1
	} else {
		dep = max(s-c.cfg.PARange, 0)
	}
	if len(c.trxs) > 0 {
		dep = max(dep, c.trxs[0].seqno-1)
	}
	if !c.cfg.OptimisticPA {
		dep = max(dep, s)
	}
	src := c.source(ws.Source)
	for _, k := range keysOf(ws) {
		e := c.index[k.hash]
		if e == nil {
			continue
		}
		for t := range e.refs {
			r := e.refs[t]
			if r.seqno == 0 {
				continue
			}
			switch matrix[t][k.typ] {
			case none:
				continue
			case conflict:
				// TOI write-sets skip the test; everything else fails on a candidate inside
				// the interval that came from another node or from TOI.
				if !toi && r.seqno > s && (r.source != src || r.toi) {
					return Verdict{Reason: "conflict with seqno " + itoa(r.seqno)}
				}
			}
			dep = max(dep, r.seqno)
		}
	}
	dep = max(dep, c.lastPAUns)
	if dep >= g {
		dep = g - 1
	}
	return Verdict{OK: true, Depends: dep}
}

func (c *Certifier) appendTrx(t trx, local bool, lastSeen int64) {
	c.trxs = append(c.trxs, t)
	if local {
		c.localDeps[lastSeen]++
	}
	// Safety trim: keep the window within max_length, checked every length_check positions,
	// never above what is safe to discard.
	if int64(len(c.trxs)) > c.cfg.MaxLength && t.seqno&c.cfg.LengthCheck == 0 {
		c.PurgeUpTo(min(t.seqno-c.cfg.MaxLength, c.safeToDiscard(t.seqno)))
	}
}

// Committed is set_trx_committed: the write-set at seqno (local: with last_seen lastSeen)
// has committed or been discarded on this node, and lastCommitted is this node's
// last_committed. When enough has happened since the last report it returns the seqno safe
// to discard and true: the caller reports it to the group (GCS_MSG_LAST).
func (c *Certifier) Committed(local bool, lastSeen int64, keys, bytes int, lastCommitted int64) (int64, bool) {
	if local {
		if n := c.localDeps[lastSeen]; n > 1 {
			c.localDeps[lastSeen] = n - 1
		} else {
			delete(c.localDeps, lastSeen)
		}
	}
	c.sinceTrxs++
	c.sinceKeys += keys
	c.sinceBytes += bytes
	if c.sinceTrxs > trxsThreshold || c.sinceKeys > keysThreshold || c.sinceBytes > bytesThreshold {
		c.sinceTrxs, c.sinceKeys, c.sinceBytes = 0, 0, 0
		return c.safeToDiscard(lastCommitted), true
	}
	return 0, false
}

// SafeToDiscard is the highest seqno this node no longer needs in the index: one below the
// lowest last_seen of its local write-sets still in flight, or lastCommitted when none is.
func (c *Certifier) SafeToDiscard(lastCommitted int64) int64 { return c.safeToDiscard(lastCommitted) }

func (c *Certifier) safeToDiscard(lastCommitted int64) int64 {
	low := lastCommitted
	for s := range c.localDeps {
		low = min(low, s-1)
	}
	return low
}

// PurgeUpTo drops every position up to seqno from the trx map and its keys from the index
// (purge_trxs_upto). The caller passes min(commit cut, safe to discard).
func (c *Certifier) PurgeUpTo(seqno int64) {
	i := 0
	for ; i < len(c.trxs) && c.trxs[i].seqno <= seqno; i++ {
		t := &c.trxs[i]
		for _, k := range t.keys {
			e := c.index[k.hash]
			if e == nil || e.refs[k.typ].seqno != t.seqno {
				continue
			}
			e.refs[k.typ] = ref{}
			if e.refs == ([4]ref{}) {
				delete(c.index, k.hash)
			}
		}
		c.purged = t.seqno
	}
	if i > 0 {
		n := copy(c.trxs, c.trxs[i:])
		clear(c.trxs[n:])
		c.trxs = c.trxs[:n]
	}
}

// Stats returns the certification status variables.
func (c *Certifier) Stats() Stats {
	s := Stats{IndexSize: len(c.index), Certified: c.nTested, Failed: c.nFailed, Window: len(c.trxs), Purged: c.purged}
	if c.nPassed > 0 {
		s.DepsDistance = c.depsSum / float64(c.nPassed)
	}
	if c.nTested > 0 {
		s.Interval = c.intervalSum / float64(c.nTested)
	}
	return s
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
