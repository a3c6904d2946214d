package storage

import (
	"strings"
	"testing"

	"github.com/replbench/replbench/protocols"
)

// TestParamsRanges: innodb_lock_wait_timeout is 1 to 1073741824 seconds (MySQL's range);
// the check happens when the harness resolves --param, before a node opens.
func TestParamsRanges(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"innodb_lock_wait_timeout", "1", ""},
		{"innodb_lock_wait_timeout", "1073741824", ""},
		{"innodb_lock_wait_timeout", "0", "parameter innodb_lock_wait_timeout: 0 is out of range (accepted: 1 to 1073741824)"},
		{"innodb_lock_wait_timeout", "1073741825", "accepted: 1 to 1073741824"},
		{"replbench.apply_delay", "-1ms", "accepted: at least 0s"},
		{"innodb_flush_log_at_trx_commit", "3", "accepted: 0, 1, 2"},
	} {
		_, err := protocols.Resolve(Params, map[string]string{tc.name: tc.value})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s=%s: unexpected error %v", tc.name, tc.value, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s=%s: error %v, want one containing %q", tc.name, tc.value, err, tc.want)
		}
	}
	if err := protocols.CheckDefs(Params); err != nil {
		t.Fatal(err)
	}
}
