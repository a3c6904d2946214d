package results

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "old.json")
	os.WriteFile(existing, []byte("{}"), 0o644)
	for _, ok := range []string{"-", filepath.Join(dir, "new.json"), existing} {
		if err := CheckWritable(ok); err != nil {
			t.Errorf("CheckWritable(%s): %v", ok, err)
		}
	}
	cases := map[string]string{
		dir:                                     "is a directory",
		"/proc/x.json":                          "cannot write /proc/x.json",
		filepath.Join(dir, "missing", "r.json"): "does not exist",
		"/dev/null":                             "not a regular file",
		"":                                      "empty path",
		filepath.Join(existing, "under-a-file"): "is not a directory",
	}
	for path, want := range cases {
		err := CheckWritable(path)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("CheckWritable(%q) = %v, want one line with %q", path, err, want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".replbench-probe-*")); len(left) != 0 {
		t.Errorf("probe files left: %v", left)
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		if err := CheckWritable(filepath.Join(ro, "r.json")); err == nil {
			t.Error("a read-only directory passed")
		}
	}
}

func TestCheckWritableDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	for _, ok := range []string{dir, filepath.Join(dir, "a", "b")} {
		if err := CheckWritableDir(ok); err != nil {
			t.Errorf("CheckWritableDir(%s): %v", ok, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); err == nil {
		t.Error("the check created the directory")
	}
	for path, want := range map[string]string{file: "is a file", filepath.Join(file, "x"): "is a file", "/proc/self": "cannot write", "": "empty"} {
		if err := CheckWritableDir(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckWritableDir(%q) = %v, want %q", path, err, want)
		}
	}
}

func TestWriteJSONTo(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSONTo(&b, sampleRun()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "{\n  \"schema\": \"replbench/v1\"") {
		t.Errorf("output %.80q", b.String())
	}
	// "-" is standard output, not a file named "-".
	dir := t.TempDir()
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	old := os.Stdout
	r, w, _ := os.Pipe()
	os.Stdout = w
	err := WriteJSON(Stdout, sampleRun())
	w.Close()
	os.Stdout = old
	var got bytes.Buffer
	got.ReadFrom(r)
	if err != nil || !strings.Contains(got.String(), `"schema": "replbench/v1"`) {
		t.Errorf("WriteJSON(-): err %v, output %.60q", err, got.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "-")); err == nil {
		t.Error("WriteJSON(-) created a file named -")
	}
}

// Every results file is replaced atomically: no temporary file is left, and a failed write
// leaves the old file as it was.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "results.json")
	if err := WriteFileAtomic(path, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Errorf("content %q", b)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
	if err := WriteFileAtomic(filepath.Join(dir, "nope", "x"), []byte("x")); err == nil {
		t.Error("a write into a missing directory succeeded")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".results.json.*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
