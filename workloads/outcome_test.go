package workloads

import (
	"context"
	"fmt"
	"testing"

	"github.com/replbench/replbench/protocols"
)

func TestInDoubt(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{protocols.ErrInterrupted(), true},
		{context.Canceled, true},
		{protocols.ErrNotReady(), true},
		{fmt.Errorf("engine closed"), true},
		{protocols.ErrCertification(), false},
		{protocols.ErrGRRollback(), false},
		{protocols.ErrBFAbort(), false},
		{protocols.ErrDeadlock(), false},
		{protocols.ErrReadOnly(), false},
		{protocols.ErrDuplicateKey("1", "PRIMARY"), false},
	} {
		if got := InDoubt(tc.err); got != tc.want {
			t.Errorf("InDoubt(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
