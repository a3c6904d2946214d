package protocols

import (
	"strings"
	"testing"
	"time"
)

func TestResolve(t *testing.T) {
	defs := []Param{
		{Name: "threads", Default: "4"},
		{Name: "on", Default: "ON"},
		{Name: "timeout", Default: "10s"},
		{Name: "mode", Default: "AFTER_SYNC", Choices: []string{"AFTER_SYNC", "AFTER_COMMIT"}},
	}
	p, err := Resolve(defs, map[string]string{"threads": "8", "timeout": "200ms"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Int("threads") != 8 || !p.Bool("on") || p.Duration("timeout") != 200*time.Millisecond || p.String("mode") != "AFTER_SYNC" {
		t.Fatalf("resolved %v", p)
	}
	for _, bad := range []map[string]string{
		{"nope": "1"}, {"threads": "x"}, {"on": "maybe"}, {"timeout": "-1s"}, {"mode": "BEFORE"},
	} {
		_, err := Resolve(defs, bad)
		if err == nil || !strings.Contains(err.Error(), "accepted") {
			t.Errorf("%v: err %v, want an error listing accepted values", bad, err)
		}
	}
}
