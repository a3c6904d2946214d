package protocols

import (
	"errors"
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

// boundedDefs are parameters shaped like the real ones: an integer with both bounds
// (wsrep_slave_threads 1..512), one with only a floor (gcs.fc_limit), a fraction
// (gcs.fc_factor 0..1), a duration with a floor, one with an alias, and an enumeration with
// numeric-looking choices.
var boundedDefs = []Param{
	{Name: "wsrep_slave_threads", Default: "1", Min: new(1.0), Max: new(512.0), Aliases: []string{"wsrep_applier_threads"}},
	{Name: "gcs.fc_limit", Default: "16", Min: new(1.0)},
	{Name: "gcs.fc_factor", Default: "1.0", Min: new(0.0), Max: new(1.0)},
	{Name: "tick", Default: "100ms", Min: new(0.001)},
	{Name: "timeout", Default: "1s"},
	{Name: "ceiling", Default: "5", Max: new(10.0)},
	{Name: "repl.commit_order", Default: "3", Choices: []string{"0", "1", "2", "3"}},
}

func TestResolveBounds(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        string // "" accepts; otherwise a substring of the error
	}{
		// Bounds are inclusive at both ends.
		{"wsrep_slave_threads", "1", ""},
		{"wsrep_slave_threads", "512", ""},
		{"wsrep_slave_threads", "0", "parameter wsrep_slave_threads: 0 is out of range (accepted: 1 to 512)"},
		{"wsrep_slave_threads", "513", "513 is out of range (accepted: 1 to 512)"},
		// A value under an alias is checked against the canonical parameter's range and
		// the error names the canonical parameter.
		{"wsrep_applier_threads", "0", "parameter wsrep_slave_threads: 0 is out of range"},
		{"wsrep_applier_threads", "8", ""},
		// A floor only.
		{"gcs.fc_limit", "-4", "parameter gcs.fc_limit: -4 is out of range (accepted: at least 1)"},
		{"gcs.fc_limit", "9223372036854775807", ""},
		// Fractions.
		{"gcs.fc_factor", "0", ""},
		{"gcs.fc_factor", "0.5", ""},
		{"gcs.fc_factor", "-1", "-1 is out of range (accepted: 0 to 1)"},
		{"gcs.fc_factor", "1.01", "1.01 is out of range (accepted: 0 to 1)"},
		{"gcs.fc_factor", "NaN", "accepted: a number 0 to 1"},
		{"gcs.fc_factor", "Inf", "accepted: a number 0 to 1"},
		// Durations are bounded in seconds and printed as durations.
		{"tick", "1ms", ""},
		{"tick", "999us", "999us is out of range (accepted: at least 1ms)"},
		{"tick", "0s", "out of range (accepted: at least 1ms)"},
		{"timeout", "0s", ""},
		{"timeout", "-1s", "-1s is out of range (accepted: at least 0s)"},
		// A ceiling only.
		{"ceiling", "-100", ""},
		{"ceiling", "11", "11 is out of range (accepted: at most 10)"},
		// A malformed number names the range too.
		{"wsrep_slave_threads", "two", "invalid value \"two\" (accepted: an integer 1 to 512, default 1)"},
		// An enumeration lists its choices.
		{"repl.commit_order", "0", ""},
		{"repl.commit_order", "4", "accepted: 0, 1, 2, 3"},
	} {
		_, err := Resolve(boundedDefs, map[string]string{tc.name: tc.value})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s=%s: unexpected error %v", tc.name, tc.value, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s=%s: error %v, want one containing %q", tc.name, tc.value, err, tc.want)
		}
	}
}

func TestParamRange(t *testing.T) {
	for _, tc := range []struct {
		p    Param
		want string
	}{
		{Param{Default: "1", Min: new(1.0), Max: new(512.0)}, "1 to 512"},
		{Param{Default: "16", Min: new(1.0), Max: new(2147483647.0)}, "1 to 2147483647"},
		{Param{Default: "16", Min: new(1.0)}, "at least 1"},
		{Param{Default: "5", Max: new(100.0)}, "at most 100"},
		{Param{Default: "1.0", Min: new(0.0), Max: new(1.0)}, "0 to 1"},
		{Param{Default: "0.5", Min: new(0.25)}, "at least 0.25"},
		{Param{Default: "100ms", Min: new(0.001)}, "at least 1ms"},
		{Param{Default: "1s", Min: new(0.5), Max: new(3600.0)}, "500ms to 1h0m0s"},
		{Param{Default: "1s"}, "at least 0s"}, // durations are never negative
		{Param{Default: "16"}, ""},            // an unbounded number
		{Param{Default: "ON", Min: new(0.0)}, ""},
		{Param{Default: "128M"}, ""},
		{Param{Default: "3", Choices: []string{"0", "3"}, Min: new(0.0)}, ""},
	} {
		if got := tc.p.Range(); got != tc.want {
			t.Errorf("Range of %+v = %q, want %q", tc.p, got, tc.want)
		}
	}
}

func TestCheckDefs(t *testing.T) {
	if err := CheckDefs(boundedDefs); err != nil {
		t.Fatalf("valid definitions refused: %v", err)
	}
	for _, tc := range []struct {
		defs []Param
		want string
	}{
		{[]Param{{Name: "a", Default: "0", Min: new(1.0)}}, "parameter a: 0 is out of range"},
		{[]Param{{Name: "a", Default: "5", Min: new(6.0), Max: new(1.0)}}, "Min 6 is above Max 1"},
		{[]Param{{Name: "a", Default: "x", Choices: []string{"y"}}}, "invalid value \"x\""},
		{[]Param{{Name: "a", Default: "1"}, {Name: "b", Default: "1", Aliases: []string{"a"}}}, "a is declared twice"},
		// Bounds that would never be checked are refused rather than ignored.
		{[]Param{{Name: "a", Default: "3", Choices: []string{"0", "3"}, Min: new(1.0)}}, "Min/Max on an enumeration"},
		{[]Param{{Name: "a", Default: "ON", Max: new(1.0)}}, "Min/Max on a bool parameter"},
		{[]Param{{Name: "a", Default: "128M", Min: new(1.0)}}, "Min/Max on a string parameter"},
	} {
		if err := CheckDefs(tc.defs); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one containing %q", tc.defs, err, tc.want)
		}
	}
}

// windowParse is a Parse with a cross-parameter rule in the shape of Galera's: the user
// send window may not exceed the send window.
func windowParse(p Params) (Settings, error) {
	if p.Int("user_window") > p.Int("window") {
		return nil, errors.New("user_window must not exceed window")
	}
	return ParamSettings(p), nil
}

func TestProtocolResolve(t *testing.T) {
	p := &Protocol{
		Name: "test",
		Params: []Param{
			{Name: "user_window", Default: "2", Min: new(1.0), Aliases: []string{"uw"}},
			{Name: "window", Default: "4", Min: new(1.0)},
		},
		Parse: windowParse,
	}
	for _, tc := range []struct {
		user map[string]string
		want string // "" accepts
	}{
		{nil, ""},
		{map[string]string{"window": "8", "user_window": "8"}, ""},
		// Parse sees values given under an alias under the canonical name.
		{map[string]string{"uw": "5"}, "user_window must not exceed window"},
		{map[string]string{"window": "1"}, "user_window must not exceed window"},
		// A range error comes first: Parse only ever sees values within their ranges.
		{map[string]string{"window": "0"}, "parameter window: 0 is out of range (accepted: at least 1)"},
		{map[string]string{"nope": "1"}, "unknown parameter \"nope\" (accepted: user_window, window)"},
	} {
		got, err := p.Resolve(tc.user)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: unexpected error %v", tc.user, err)
		case tc.want == "" && got.Params().Int("user_window") > got.Params().Int("window"):
			t.Errorf("%v: resolved %v breaks the rule", tc.user, got)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: error %v, want one containing %q", tc.user, err, tc.want)
		}
	}
	// Without a Parse, Protocol.Resolve is the package-level Resolve, as ParamSettings.
	p.Parse = nil
	if got, err := p.Resolve(map[string]string{"uw": "5"}); err != nil || got.Params().Int("user_window") != 5 {
		t.Errorf("without Parse: %v %v", got, err)
	}
}

func TestRegisterRefusesContradictoryDefinitions(t *testing.T) {
	for _, p := range []Protocol{
		{Name: "bad-default", Params: []Param{{Name: "a", Default: "0", Min: new(1.0)}}},
		{Name: "bad-parse", Params: []Param{{Name: "a", Default: "0"}}, Parse: func(Params) (Settings, error) { return nil, errors.New("no") }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%s) did not panic", p.Name)
				}
			}()
			Register(p)
		}()
		if _, err := Lookup(p.Name); err == nil {
			t.Errorf("%s was registered despite the panic", p.Name)
		}
	}
}
