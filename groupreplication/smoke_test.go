package groupreplication

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols/transport"
)

// The member stats columns after ten commits on the primary, with the gtid_executed
// broadcast at 1 s so that the stable-set sweep runs and TRANSACTIONS_COMMITTED_ALL_MEMBERS
// fills in.
func TestStatusColumns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := start(t, 3, transport.NewMemBus(), lan(t, 3), true, map[string]string{pGTIDBroadcast: "1s"}, nil)
		defer c.close()
		ctx := context.Background()
		for i := range 10 {
			if err := c.insert(ctx, 0, int64(i)); err != nil {
				t.Fatal(err)
			}
		}
		if !c.quiesce(ctx) {
			t.Fatal("not converged")
		}
		time.Sleep(2500 * time.Millisecond)
		g := c.provs[0].group
		want := map[string][3]string{
			"MEMBER_STATE":                       {"ONLINE", "ONLINE", "ONLINE"},
			"MEMBER_ROLE":                        {"PRIMARY", "SECONDARY", "SECONDARY"},
			"COUNT_TRANSACTIONS_CHECKED":         {"10", "10", "10"},
			"COUNT_CONFLICTS_DETECTED":           {"0", "0", "0"},
			"COUNT_TRANSACTIONS_LOCAL_PROPOSED":  {"10", "0", "0"},
			"COUNT_TRANSACTIONS_REMOTE_APPLIED":  {"0", "10", "10"},
			"LAST_CONFLICT_FREE_TRANSACTION":     {g + ":10", g + ":10", g + ":10"},
			"gtid_executed":                      {g + ":1-10", g + ":1-10", g + ":1-10"},
			"TRANSACTIONS_COMMITTED_ALL_MEMBERS": {g + ":1-10", g + ":1-10", g + ":1-10"},
			// swept: the last writer of each key is not strictly inside the stable set only
			// for the newest position
			"COUNT_TRANSACTIONS_ROWS_VALIDATING": {"1", "1", "1"},
		}
		for name, vals := range want {
			for i, v := range vals {
				if got := c.status(i, name); got != v {
					t.Errorf("%s %s = %q, want %q", c.nodes[i], name, got, v)
				}
			}
		}
	})
}
