package results

import (
	"bytes"
	"io"
	"strings"
)

// PlainWriter returns a writer that prints the tables written through it without their
// box-drawing lines (`replbench run --output plain`): border rows are dropped and column
// bars become spaces, so the columns stay aligned and the text is what grep, awk and a
// spreadsheet's "split on spaces" expect. Text that is not a table passes unchanged. Call
// Flush (the returned func) at the end for a last line without its newline.
func PlainWriter(w io.Writer) (io.Writer, func() error) {
	p := &plainWriter{w: w}
	return p, p.flush
}

type plainWriter struct {
	w   io.Writer
	buf bytes.Buffer
}

func (p *plainWriter) Write(b []byte) (int, error) {
	p.buf.Write(b)
	for {
		i := bytes.IndexByte(p.buf.Bytes(), '\n')
		if i < 0 {
			return len(b), nil
		}
		line := string(p.buf.Next(i + 1))
		if out, keep := plainLine(strings.TrimSuffix(line, "\n")); keep {
			if _, err := io.WriteString(p.w, out+"\n"); err != nil {
				return 0, err
			}
		}
	}
}

func (p *plainWriter) flush() error {
	if p.buf.Len() == 0 {
		return nil
	}
	out, keep := plainLine(p.buf.String())
	p.buf.Reset()
	if !keep {
		return nil
	}
	_, err := io.WriteString(p.w, out)
	return err
}

// plainLine turns one line of a box-drawn table into plain text; keep is false for a line
// that is only border.
func plainLine(l string) (string, bool) {
	if l != "" && strings.Trim(l, "┌┬┐├┼┤└┴┘─ ") == "" {
		return "", false
	}
	if !strings.ContainsRune(l, '│') {
		return l, true
	}
	return strings.TrimRight(strings.ReplaceAll(l, "│", " "), " "), true
}
