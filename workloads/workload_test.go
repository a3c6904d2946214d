package workloads

import (
	"context"
	"errors"
	"testing"

	"github.com/replbench/replbench/protocols"
)

// endTx is a Tx that records how it was finished and fails Commit with commitErr.
type endTx struct {
	Tx                    // the statement methods are not used by Tally.End
	commitErr             error
	committed, rolledBack bool
}

func (t *endTx) Commit(context.Context) error { t.committed = true; return t.commitErr }
func (t *endTx) Rollback()                    { t.rolledBack = true }

// TestTallyEnd: a statement error rolls back without committing or counting; a commit
// counts as committed, a definite rollback (certification failure) counts nowhere, and a
// commit whose outcome is unknown (not-ready, 1047) widens the accepted range by one.
func TestTallyEnd(t *testing.T) {
	stmtErr := errors.New("statement failed")
	for _, tc := range []struct {
		name                   string
		stmtErr, commitErr     error
		wantCommit, wantRollbk bool
		wantCommitted          int64
		explains               map[int64]bool
	}{
		{"statement error", stmtErr, nil, false, true, 0, map[int64]bool{0: true, 1: false}},
		{"committed", nil, nil, true, false, 1, map[int64]bool{0: false, 1: true, 2: false}},
		{"certification failure", nil, protocols.ErrCertification(), true, false, 0, map[int64]bool{0: true, 1: false}},
		{"in doubt", nil, protocols.ErrNotReady(), true, false, 0, map[int64]bool{0: true, 1: true, 2: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tl Tally
			tx := &endTx{commitErr: tc.commitErr}
			want := tc.stmtErr
			if want == nil {
				want = tc.commitErr
			}
			if err := tl.End(context.Background(), tx, tc.stmtErr); !errors.Is(err, want) {
				t.Fatalf("End = %v, want %v", err, want)
			}
			if tx.committed != tc.wantCommit || tx.rolledBack != tc.wantRollbk {
				t.Errorf("committed, rolled back = %v, %v; want %v, %v", tx.committed, tx.rolledBack, tc.wantCommit, tc.wantRollbk)
			}
			if got := tl.Committed(); got != tc.wantCommitted {
				t.Errorf("Committed() = %d, want %d", got, tc.wantCommitted)
			}
			for n, ok := range tc.explains {
				if got := tl.Explains(n); got != ok {
					t.Errorf("Explains(%d) = %v, want %v", n, got, ok)
				}
			}
		})
	}
}
