// Package history is the record of what clients asked a database to do and what they were
// told: one Op per client operation, with its invocation and completion time, the process
// (client) and node, the micro-operations it carried and their results, and its outcome.
//
// A history is a plain value, independent of the protocol, the emulator or the server that
// produced it, so a history recorded against the model and one recorded against a real
// MariaDB cluster are read by the same checkers (harness/checker/...). That is the point
// of the package: checkers reason only about what a client could observe, as Jepsen's do.
//
// The three outcomes follow Jepsen: ok (it happened, and the results are what the client
// saw), fail (it definitely did not happen: a rollback the server reported) and info (the
// client does not know: a timeout, a lost connection, a commit in flight when its node left
// the group). A checker must allow an info operation to have happened or not, and must never
// read its results, which the client never saw.
//
// Micro-operations cover the checker workloads: list-append (append k v, r k [v...]),
// set-add (add k v, r k [v...]), rw-register (w k v, r k v), single-key registers for
// linearizability (r, w, cas), and bank transfers (transfer a b amount, and reads of every
// balance). Keys are strings so that any workload (rows, accounts, documents) can name them;
// values are int64, which every checker workload uses and which keeps values unique and cheap
// to compare.
package history

import (
	"fmt"
	"strings"
	"time"
)

// Outcome is what the client learned about an operation.
type Outcome string

const (
	// OK: the operation happened and its results are what the client saw.
	OK Outcome = "ok"
	// Fail: the operation definitely did not happen (the server reported a rollback).
	Fail Outcome = "fail"
	// Info: the client does not know whether the operation happened; its results are unknown.
	Info Outcome = "info"
)

// Valid reports whether o is one of the three outcomes.
func (o Outcome) Valid() bool { return o == OK || o == Fail || o == Info }

// MopF names a micro-operation. The JSON names are Elle's where Elle has one.
type MopF uint8

const (
	// Append adds Value to the end of the list under Key (list-append).
	Append MopF = iota + 1
	// Add adds Value to the set under Key (set-add: an insert of a row with a unique id).
	Add
	// Read reads Key. For lists and sets the result is List; for registers it is Value, or
	// absent (Result == Nil) when the key has never been written.
	Read
	// Write sets the register under Key to Value.
	Write
	// CAS sets the register under Key to Value if it holds From. An ok CAS swapped; a CAS
	// whose comparison failed did not happen and is recorded as Fail.
	CAS
	// Transfer moves Value from the balance under Key to the balance under To (bank).
	Transfer
)

var mopNames = [...]string{Append: "append", Add: "add", Read: "r", Write: "w", CAS: "cas", Transfer: "transfer"}

func (f MopF) String() string {
	if int(f) < len(mopNames) && mopNames[f] != "" {
		return mopNames[f]
	}
	return fmt.Sprintf("mop(%d)", uint8(f))
}

// parseMopF is the inverse of String.
func parseMopF(s string) (MopF, error) {
	for f, n := range mopNames {
		if n != "" && n == s {
			return MopF(f), nil
		}
	}
	return 0, fmt.Errorf("unknown micro-operation %q (accepted: append, add, r, w, cas, transfer)", s)
}

// Result says what a Read returned.
type Result uint8

const (
	// Unknown: the read's result was never seen (the operation is info or fail, or not yet
	// complete). The zero value, so an invocation's reads are unknown until completed.
	Unknown Result = iota
	// ListResult: List holds the elements read, in the order the database returned them.
	ListResult
	// ValueResult: Value holds the register's value.
	ValueResult
	// Nil: the register has never been written.
	Nil
)

// Mop is one micro-operation of a transaction. Which fields mean something depends on F;
// the constructors below build each form, and checkers read only the fields of their form.
type Mop struct {
	F      MopF
	Key    string
	Value  int64   // append/add/w: the value written; cas: the new value; transfer: amount; r: register value read
	From   int64   // cas: the expected value
	To     string  // transfer: the destination account (Key is the source)
	List   []int64 // r of a list or set: the elements read
	Result Result  // r: what the read returned
}

// AppendMop is `append k v`.
func AppendMop(k string, v int64) Mop { return Mop{F: Append, Key: k, Value: v} }

// AddMop is `add k v`.
func AddMop(k string, v int64) Mop { return Mop{F: Add, Key: k, Value: v} }

// ReadMop is `r k` with the result not yet known.
func ReadMop(k string) Mop { return Mop{F: Read, Key: k} }

// ReadListMop is `r k [v...]`, a completed read of a list or set. A nil list reads as empty.
func ReadListMop(k string, list []int64) Mop {
	if list == nil {
		list = []int64{}
	}
	return Mop{F: Read, Key: k, List: list, Result: ListResult}
}

// ReadValueMop is `r k v`, a completed read of a register holding v.
func ReadValueMop(k string, v int64) Mop { return Mop{F: Read, Key: k, Value: v, Result: ValueResult} }

// ReadNilMop is `r k nil`, a completed read of a register never written.
func ReadNilMop(k string) Mop { return Mop{F: Read, Key: k, Result: Nil} }

// WriteMop is `w k v`.
func WriteMop(k string, v int64) Mop { return Mop{F: Write, Key: k, Value: v} }

// CASMop is `cas k from to`.
func CASMop(k string, from, to int64) Mop { return Mop{F: CAS, Key: k, From: from, Value: to} }

// TransferMop is `transfer from to amount`.
func TransferMop(from, to string, amount int64) Mop {
	return Mop{F: Transfer, Key: from, To: to, Value: amount}
}

// IsWrite reports whether m changes the database when it happens.
func (m Mop) IsWrite() bool {
	switch m.F {
	case Append, Add, Write, CAS, Transfer:
		return true
	}
	return false
}

// String renders m the way witnesses print it: "append x 3", "r x [1 2 3]", "r y nil",
// "w y 4", "cas z 1 2", "transfer a b 5". An unknown read prints "r x ?"; long lists are
// abbreviated (FormatList).
func (m Mop) String() string {
	switch m.F {
	case Read:
		switch m.Result {
		case ListResult:
			return fmt.Sprintf("r %s %s", m.Key, FormatList(m.List))
		case ValueResult:
			return fmt.Sprintf("r %s %d", m.Key, m.Value)
		case Nil:
			return fmt.Sprintf("r %s nil", m.Key)
		}
		return fmt.Sprintf("r %s ?", m.Key)
	case CAS:
		return fmt.Sprintf("cas %s %d %d", m.Key, m.From, m.Value)
	case Transfer:
		return fmt.Sprintf("transfer %s %s %d", m.Key, m.To, m.Value)
	}
	return fmt.Sprintf("%s %s %d", m.F, m.Key, m.Value)
}

// FormatList renders a list read for people: in full up to 10 elements, else its first two
// and last five (the end of a list is where anomalies show) and its length:
// "[1 2 … 628 630 629 631 632] (612 elements)".
func FormatList(l []int64) string {
	var b strings.Builder
	b.WriteByte('[')
	write := func(vs []int64) {
		for i, v := range vs {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprint(&b, v)
		}
	}
	if len(l) <= 10 {
		write(l)
		b.WriteByte(']')
		return b.String()
	}
	write(l[:2])
	b.WriteString(" … ")
	write(l[len(l)-5:])
	fmt.Fprintf(&b, "] (%d elements)", len(l))
	return b.String()
}

// Op is one client operation: a transaction of one or more micro-operations.
//
// Times are nanoseconds since the start of the run on the recorder's clock (monotonic, and
// virtual inside a synctest bubble). Complete is when the client learned the outcome; for an
// info operation it is when the client gave up, and checkers must treat the operation as
// possibly taking effect at any time after Invoke, even after Complete.
type Op struct {
	Index    int     // position in the history, in invocation order
	Process  int     // the client that issued it; one operation in flight per process
	Node     string  // the node the client sent it to
	Outcome  Outcome // ok, fail or info
	Invoke   int64   // ns since start, when the client sent it
	Complete int64   // ns since start, when the client learned the outcome (or gave up)
	Mops     []Mop   // the micro-operations, with read results filled in for ok operations
	Error    string  // the error the client saw, for fail and info
	GTID     string  // the commit's global transaction id, when the database reported one
	Seqno    int64   // the commit's sequence number (Galera seqno, raft index), 0 if unknown
}

// String renders the operation on one line, as witnesses print it:
// "op 12 p3 n1 ok 1.2ms–1.5ms [r x [1 2], append y 3]".
func (o *Op) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "op %d p%d %s %s %s–%s [", o.Index, o.Process, o.Node, o.Outcome,
		FormatNs(o.Invoke), FormatNs(o.Complete))
	for i, m := range o.Mops {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.String())
	}
	b.WriteByte(']')
	if o.GTID != "" {
		fmt.Fprintf(&b, " gtid=%s", o.GTID)
	} else if o.Seqno != 0 {
		fmt.Fprintf(&b, " seqno=%d", o.Seqno)
	}
	return b.String()
}

// CommitID is the GTID, else "seqno N", else "" when the database named no commit.
func (o *Op) CommitID() string {
	if o.GTID != "" {
		return o.GTID
	}
	if o.Seqno != 0 {
		return fmt.Sprintf("seqno %d", o.Seqno)
	}
	return ""
}

// FormatNs renders a history time (ns since the start of the run) exactly, as a duration:
// "1.250123ms". Exact, because a witness's realtime edge may rest on a microsecond.
func FormatNs(ns int64) string { return time.Duration(ns).String() }

// Validate checks what every checker relies on: indexes 0..n-1 in order, invocation times
// non-decreasing, valid outcomes, completion not before invocation, known micro-operations
// with keys, and one operation in flight per process (a process's next operation is invoked
// only after its previous one completed, unless that one is info). It names the first
// violation.
func Validate(h []Op) error {
	last := map[int]*Op{}
	for i := range h {
		o := &h[i]
		if o.Index != i {
			return fmt.Errorf("history: op at position %d has index %d; indexes must be 0..n-1 in order", i, o.Index)
		}
		if !o.Outcome.Valid() {
			return fmt.Errorf("history: op %d has outcome %q (accepted: ok, fail, info)", i, o.Outcome)
		}
		if i > 0 && o.Invoke < h[i-1].Invoke {
			return fmt.Errorf("history: op %d invoked at %d ns, before op %d at %d ns; ops must be in invocation order", i, o.Invoke, i-1, h[i-1].Invoke)
		}
		if o.Complete < o.Invoke {
			return fmt.Errorf("history: op %d completes at %d ns, before its invocation at %d ns", i, o.Complete, o.Invoke)
		}
		if len(o.Mops) == 0 {
			return fmt.Errorf("history: op %d has no micro-operations", i)
		}
		for j, m := range o.Mops {
			if m.F < Append || m.F > Transfer {
				return fmt.Errorf("history: op %d mop %d: %v", i, j, m.F)
			}
			if m.Key == "" {
				return fmt.Errorf("history: op %d mop %d (%s) has no key", i, j, m.F)
			}
			if m.F == Transfer && m.To == "" {
				return fmt.Errorf("history: op %d mop %d: transfer needs a destination", i, j)
			}
		}
		if p := last[o.Process]; p != nil && p.Outcome != Info && p.Complete > o.Invoke {
			return fmt.Errorf("history: process %d invokes op %d at %d ns while its op %d is in flight until %d ns; a process runs one operation at a time", o.Process, i, o.Invoke, p.Index, p.Complete)
		}
		last[o.Process] = o
	}
	return nil
}
