package history

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func sample() []Op {
	return []Op{
		{Index: 0, Process: 0, Node: "n1", Outcome: OK, Invoke: 100, Complete: 250,
			Mops: []Mop{ReadListMop("x", []int64{1, 2}), AppendMop("y", 7)}, GTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:44", Seqno: 44},
		{Index: 1, Process: 1, Node: "n2", Outcome: Info, Invoke: 120, Complete: 900,
			Mops: []Mop{ReadMop("x"), WriteMop("z", 3)}, Error: "timeout \"waiting\"\x01"},
		{Index: 2, Process: 2, Node: "n3", Outcome: Fail, Invoke: 130, Complete: 140,
			Mops: []Mop{CASMop("r", 1, 2)}, Error: "certification failed"},
		{Index: 3, Process: 0, Node: "n1", Outcome: OK, Invoke: 300, Complete: 310,
			Mops: []Mop{ReadValueMop("r", 2), ReadNilMop("q"), AddMop("s", 9), TransferMop("a", "b", 5), ReadListMop("e", nil)}},
	}
}

func TestJSONRoundTrip(t *testing.T) {
	h := sample()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for i := range h {
		if err := w.Write(&h[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	first := strings.SplitN(buf.String(), "\n", 2)[0]
	want := `{"index":0,"process":0,"node":"n1","outcome":"ok","invoke":100,"complete":250,"mops":[["r","x",[1,2]],["append","y",7]],"gtid":"3e11fa47-71ca-11e1-9e33-c80aa9429562:44","seqno":44}`
	if first != want {
		t.Fatalf("first line\n got %s\nwant %s", first, want)
	}
	if !strings.Contains(buf.String(), `["r","q",null]`) || !strings.Contains(buf.String(), `["transfer","a",{"to":"b","amount":5}]`) ||
		!strings.Contains(buf.String(), `["r","x"]`) || !strings.Contains(buf.String(), `["cas","r",[1,2]]`) {
		t.Fatalf("mop forms missing from\n%s", buf.String())
	}
	got, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, h) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, h)
	}
}

func TestReadRejectsMalformed(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`{"index":0,"process":0,"node":"n1","outcome":"maybe","invoke":1,"complete":2,"mops":[["w","x",1]]}`, `outcome "maybe"`},
		{`{"index":0,"process":0,"node":"n1","outcome":"ok","invoke":1,"complete":2,"mops":[["put","x",1]]}`, `unknown micro-operation "put"`},
		{`{"index":0,"process":0,"node":"n1","outcome":"ok","invoke":1,"complete":2,"mops":[["w","x"]]}`, `w needs a value`},
		{`{"index":0,"process":0,"node":"n1","outcome":"ok","invoke":1,"complete":2,"mops":[["w","x",1]],"colour":1}`, `unknown field "colour"`},
		{`{"index":0,"process":0,"node":"n1","outcome":"ok","invoke":5,"complete":2,"mops":[["w","x",1]]}`, `before its invocation`},
		{`{"index":3,"process":0,"node":"n1","outcome":"ok","invoke":1,"complete":2,"mops":[["w","x",1]]}`, `has index 3`},
		{`not json`, `line 2`},
	} {
		_, err := Decode(strings.NewReader("\n" + tc.line + "\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to mention %q", tc.line, err, tc.want)
		}
	}
}

func TestValidateOneOpInFlightPerProcess(t *testing.T) {
	h := []Op{
		{Index: 0, Process: 1, Outcome: OK, Invoke: 0, Complete: 10, Mops: []Mop{WriteMop("x", 1)}},
		{Index: 1, Process: 1, Outcome: OK, Invoke: 5, Complete: 20, Mops: []Mop{WriteMop("x", 2)}},
	}
	if err := Validate(h); err == nil || !strings.Contains(err.Error(), "one operation at a time") {
		t.Fatalf("overlapping ops of one process: %v", err)
	}
	h[0].Outcome = Info // an info op may still be running on the server: the client moved on
	if err := Validate(h); err != nil {
		t.Fatal(err)
	}
}

func TestRecorderConcurrent(t *testing.T) {
	var clock atomic.Int64
	r := NewRecorder(func() time.Duration { return time.Duration(clock.Add(1)) })
	const procs, each = 8, 200
	var wg sync.WaitGroup
	for p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := r.Client(p)
			for i := range each {
				v := int64(p*each + i)
				c.Invoke("n1", []Mop{ReadMop("x"), AppendMop("x", v)})
				switch i % 3 {
				case 0:
					c.OK([]Mop{ReadListMop("x", []int64{1}), AppendMop("x", v)}, Commit{Seqno: v + 1})
				case 1:
					c.Fail(errors.New("deadlock"))
				default:
					c.Info(errors.New("timeout"))
				}
			}
		}()
	}
	wg.Wait()
	r.Client(99).Invoke("n2", []Mop{WriteMop("y", 1)}) // left in flight
	h := r.History()
	if len(h) != procs*each+1 {
		t.Fatalf("%d ops, want %d", len(h), procs*each+1)
	}
	if err := Validate(h); err != nil {
		t.Fatal(err)
	}
	counts := map[Outcome]int{}
	for _, o := range h {
		counts[o.Outcome]++
		if o.Outcome != OK && o.Mops[0].Result != Unknown {
			t.Fatalf("%s op kept a read result: %v", o.Outcome, o.String())
		}
		if o.Outcome == OK && (o.Mops[0].Result != ListResult || o.Seqno == 0) {
			t.Fatalf("ok op lost its results: %v", o.String())
		}
	}
	last := h[len(h)-1]
	if last.Process != 99 || last.Outcome != Info || !strings.Contains(last.Error, "in flight") {
		t.Fatalf("in-flight op: %v %q", last.String(), last.Error)
	}
	if counts[OK] != procs*((each+2)/3) || counts[Fail] != procs*((each+1)/3) {
		t.Fatalf("outcomes %v", counts)
	}
}

func TestRecorderMisuse(t *testing.T) {
	c := NewRecorder(nil).Client(1)
	mustPanic(t, "complete without invoke", func() { c.Fail(errors.New("x")) })
	c.Invoke("n1", []Mop{WriteMop("x", 1)})
	mustPanic(t, "two in flight", func() { c.Invoke("n1", []Mop{WriteMop("x", 2)}) })
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", what)
		}
	}()
	f()
}

func TestFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sample()
	for i := range h {
		if err := f.Write(&h[i]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("history visible before Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil || !reflect.DeepEqual(got, h) {
		t.Fatalf("read back: %v", err)
	}

	g, err := Create(filepath.Join(dir, "aborted.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	g.Write(&h[0])
	g.Abort()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("abort left files: %v", entries)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "h.jsonl"), h); err == nil || !strings.Contains(err.Error(), "cannot write") {
		t.Fatalf("unwritable path: %v", err)
	}
}

func BenchmarkRecord(b *testing.B) {
	r := NewRecorder(nil)
	c := r.Client(0)
	mops := []Mop{ReadMop("x"), AppendMop("x", 1)}
	done := []Mop{ReadListMop("x", []int64{1, 2, 3}), AppendMop("x", 1)}
	for b.Loop() {
		c.Invoke("n1", mops)
		c.OK(done, Commit{Seqno: 1})
	}
}
