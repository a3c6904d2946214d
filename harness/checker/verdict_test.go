package checker

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidJSON(t *testing.T) {
	for v, want := range map[Valid]string{True: "true", False: "false", Unknown: `"unknown"`} {
		b, err := json.Marshal(v)
		if err != nil || string(b) != want {
			t.Errorf("%v -> %s %v", v, b, err)
		}
		var back Valid
		if err := json.Unmarshal(b, &back); err != nil || back != v {
			t.Errorf("%s -> %v %v", b, back, err)
		}
	}
	var v Valid
	if err := json.Unmarshal([]byte(`"maybe"`), &v); err == nil || !strings.Contains(err.Error(), "accepted") {
		t.Error(err)
	}
}

func TestAddAndSummarize(t *testing.T) {
	a := Verdict{Checker: ListAppendName, Valid: True}
	a.Add("G1c", 0, nil, 3) // nothing found: stays valid
	if a.Valid != True || len(a.Anomalies) != 0 {
		t.Fatal(a.String())
	}
	ws := []Witness{{Text: "1"}, {Text: "2"}, {Text: "3"}}
	a.Add("lost-update", 2, ws[:2], 3)
	a.Add("G-single", 1, ws[:1], 3)
	a.Add("lost-update", 3, ws, 3)
	if a.Valid != False || a.Anomalies[0].Class != "G-single" || a.Anomaly("lost-update").Count != 5 || len(a.Anomaly("lost-update").Witnesses) != 3 {
		t.Fatalf("%+v", a.Anomalies)
	}
	a.Models = &Models{ConsistentWith: []string{"read-committed"}, Not: []string{"cursor-stability"}}
	lin := Verdict{Checker: LinearizableName, Valid: Unknown, Note: "time bound"}
	lost := Verdict{Checker: LostName, Valid: True}
	s := Summarize(a, lin, lost)
	if s.OK || s.Linearizable == nil || *s.Linearizable != Unknown || s.LostAcknowledged == nil || len(s.LostAcknowledged) != 0 ||
		s.Anomalies["lost-update"] != 5 || s.ConsistentWith[0] != "read-committed" {
		t.Fatalf("%+v", s)
	}
	b, _ := json.Marshal(s)
	for _, want := range []string{`"linearizable":"unknown"`, `"lost_acknowledged":[]`, `"not":["cursor-stability"]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	if s := Summarize(lost); !s.OK {
		t.Error("a clean lost check alone is ok")
	}
	if s := Summarize(); s.OK {
		t.Error("no verdict at all is not ok")
	}
}

func TestWritePictures(t *testing.T) {
	dir := t.TempDir()
	vs := []Verdict{{Checker: ListAppendName, Anomalies: []Anomaly{{Class: "G-single", Count: 1,
		Witnesses: []Witness{{Text: "x", SVG: []byte("<svg/>")}, {Text: "no picture"}}}}}}
	names, err := WritePictures(dir, vs)
	if err != nil || len(names) != 1 || names[0] != "elle-list-append-G-single-1.svg" || vs[0].Anomalies[0].Witnesses[0].Picture != names[0] || vs[0].Files[0] != names[0] {
		t.Fatalf("%v %v %+v", names, err, vs[0])
	}
	if b, _ := os.ReadFile(filepath.Join(dir, names[0])); string(b) != "<svg/>" {
		t.Error(string(b))
	}
	if _, err := WritePictures(filepath.Join(dir, "nope"), vs); err == nil {
		t.Error("missing dir accepted")
	}
}
