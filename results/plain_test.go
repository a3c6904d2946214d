package results

import (
	"bytes"
	"testing"
)

func TestPlainWriterDropsBorders(t *testing.T) {
	var b bytes.Buffer
	w, flush := PlainWriter(&b)
	in := "title\n┌─────┬────┐\n│ a   │  1 │\n├─────┼────┤\n│ bb  │ 22 │\n└─────┴────┘\nlast"
	if _, err := w.Write([]byte(in)); err != nil {
		t.Fatal(err)
	}
	if err := flush(); err != nil {
		t.Fatal(err)
	}
	want := "title\n  a      1\n  bb    22\nlast"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}
