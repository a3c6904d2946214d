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
		{Name: "rpl_semi_sync_master_timeout", Default: "10000", Aliases: []string{"rpl_semi_sync_source_timeout"}},
	}
	p, err := Resolve(defs, map[string]string{"threads": "8", "timeout": "200ms"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Int("threads") != 8 || !p.Bool("on") || p.Duration("timeout") != 200*time.Millisecond || p.String("mode") != "AFTER_SYNC" {
		t.Fatalf("resolved %v", p)
	}
	// A value under an alias (MySQL 8.0.26+ names) lands under the canonical name.
	p, err = Resolve(defs, map[string]string{"rpl_semi_sync_source_timeout": "200"})
	if err != nil || p.Int("rpl_semi_sync_master_timeout") != 200 {
		t.Fatalf("alias: %v %v", p, err)
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
