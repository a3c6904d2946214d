package checker

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// WritePictures writes every witness's SVG into dir as <checker>-<class>-<n>.svg, records
// the file name in the witness (Picture) and in its verdict (Files), and returns the names.
// dir must exist. Files are written whole or not at all.
func WritePictures(dir string, vs []Verdict) ([]string, error) {
	var names []string
	for i := range vs {
		v := &vs[i]
		for j := range v.Anomalies {
			a := &v.Anomalies[j]
			for k := range a.Witnesses {
				w := &a.Witnesses[k]
				if len(w.SVG) == 0 {
					continue
				}
				name := fmt.Sprintf("%s-%s-%d.svg", v.Checker, sanitize(a.Class), k+1)
				if err := WriteFileAtomic(filepath.Join(dir, name), w.SVG); err != nil {
					return names, err
				}
				w.Picture = name
				v.Files = append(v.Files, name)
				names = append(names, name)
			}
		}
	}
	return names, nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == os.PathSeparator {
			return '_'
		}
		return r
	}, s)
}

// WriteFileAtomic writes data beside path and renames it into place, so a reader never sees
// a half-written file.
func WriteFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("checker: cannot write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("checker: writing %s: %w", path, err)
	}
	return nil
}
