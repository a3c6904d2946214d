package history

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// FileName is the name of a run's history in its run directory.
const FileName = "history.jsonl"

// Writer streams operations as JSON lines, one Op per line.
type Writer struct {
	w   *bufio.Writer
	buf []byte
}

// NewWriter returns a Writer on w. Call Flush when done.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriterSize(w, 64<<10)} }

// Write appends one operation.
func (w *Writer) Write(o *Op) error {
	b, err := o.appendJSON(w.buf[:0])
	if err != nil {
		return err
	}
	w.buf = append(b, '\n')
	_, err = w.w.Write(w.buf)
	return err
}

// Flush writes out what is buffered.
func (w *Writer) Flush() error { return w.w.Flush() }

// Reader streams operations from JSON lines. Blank lines are skipped.
type Reader struct {
	s    *bufio.Scanner
	line int
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 64<<20) // a transaction reading long lists makes long lines
	return &Reader{s: s}
}

// Next returns the next operation, or io.EOF after the last one. A malformed line is an
// error naming its line number.
func (r *Reader) Next() (Op, error) {
	for r.s.Scan() {
		r.line++
		b := bytes.TrimSpace(r.s.Bytes())
		if len(b) == 0 {
			continue
		}
		var o Op
		if err := o.UnmarshalJSON(b); err != nil {
			return Op{}, fmt.Errorf("line %d: %w", r.line, err)
		}
		return o, nil
	}
	if err := r.s.Err(); err != nil {
		return Op{}, fmt.Errorf("line %d: %w", r.line+1, err)
	}
	return Op{}, io.EOF
}

// Decode reads a whole history from r and validates it (see Validate).
func Decode(r io.Reader) ([]Op, error) {
	rd := NewReader(r)
	var h []Op
	for {
		o, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		h = append(h, o)
	}
	if err := Validate(h); err != nil {
		return nil, err
	}
	return h, nil
}

// ReadFile reads and validates the history at path.
func ReadFile(path string) ([]Op, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	h, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("history: %s: %w", path, err)
	}
	return h, nil
}

// File is a history being written to a file: operations stream into a temporary file beside
// path, and Close renames it into place, so a reader never sees half a history and a run
// that dies leaves no history.jsonl that looks complete. Abort removes the temporary file.
type File struct {
	f    *os.File
	w    *Writer
	path string
	done bool
}

// Create starts writing a history to path.
func Create(path string) (*File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("history: cannot write %s: %w", path, err)
	}
	return &File{f: f, w: NewWriter(f), path: path}, nil
}

// Write appends one operation.
func (f *File) Write(o *Op) error {
	if err := f.w.Write(o); err != nil {
		return fmt.Errorf("history: writing %s: %w", f.path, err)
	}
	return nil
}

// Close flushes, syncs and renames the history into place. On error nothing is left.
func (f *File) Close() error {
	if f.done {
		return nil
	}
	f.done = true
	err := f.w.Flush()
	if err == nil {
		err = f.f.Sync()
	}
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.f.Name(), f.path)
	}
	if err != nil {
		os.Remove(f.f.Name())
		return fmt.Errorf("history: writing %s: %w", f.path, err)
	}
	return nil
}

// Abort discards the history being written.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.f.Close()
	os.Remove(f.f.Name())
}

// WriteFile writes h to path atomically (see File).
func WriteFile(path string, h []Op) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	for i := range h {
		if err := f.Write(&h[i]); err != nil {
			f.Abort()
			return err
		}
	}
	return f.Close()
}
