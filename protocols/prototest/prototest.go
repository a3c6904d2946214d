// Package prototest holds the cluster chores that the tests of every protocol package
// (galera, groupreplication, semisync) need and that used to be written once per package:
// naming members, starting providers together, waiting until the members agree on a
// position, and comparing the members' table checksums the way the harness's convergence
// check does.
//
// It is a normal package so the three test suites can share it, but only tests import it:
// it reports failures as errors rather than calling testing.T, so each test keeps its own
// wording and decides whether a mismatch is fatal. It knows no protocol; what differs
// between the packages (schemas, providers' constructors, the transaction they run) stays
// in their tests. Waits poll the clock, so inside a synctest bubble they cost virtual time
// only.
package prototest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/replbench/replbench/protocols"
)

// Nodes returns the member names n1..nN, the names the emulator's presets address.
func Nodes(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("n%d", i+1)
	}
	return out
}

// StartAll starts every provider at once and waits for all of them. Starting them
// together matters for protocols whose Start waits for the group to form (a raft leader,
// a semi-sync replica's handshake): started one by one, the first would wait for members
// that are not running yet. The error joins every member's failure.
func StartAll[P protocols.Provider](ctx context.Context, provs []P) error {
	errs := make([]error, len(provs))
	var wg sync.WaitGroup
	for i, p := range provs {
		wg.Go(func() { errs[i] = p.Start(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// WaitSamePosition polls every poll until every provider reports the first one's
// LastCommitted and ready (nil: always) holds, or until limit has passed. It does not
// compare data: call SameChecksums after it. The error lists each member's position and
// status variables, which is what one needs to see which member fell behind.
func WaitSamePosition[P protocols.Provider](limit, poll time.Duration, ready func() bool, provs []P) error {
	deadline := time.Now().Add(limit)
	for {
		first, same := provs[0].LastCommitted(), true
		for _, p := range provs[1:] {
			if p.LastCommitted() != first {
				same = false
			}
		}
		if same && (ready == nil || ready()) {
			return nil
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			fmt.Fprintf(&b, "members did not reach one position within %v:", limit)
			for i, p := range provs {
				fmt.Fprintf(&b, "\n  member %d: last committed %d, status %v", i+1, p.LastCommitted(), p.Status())
			}
			return errors.New(b.String())
		}
		time.Sleep(poll)
	}
}

// Checksummer is what SameChecksums needs of a member's data: storage.Engine, or a test's
// fake applier.
type Checksummer interface {
	Checksums() (map[string]uint64, error)
}

// SameChecksums compares every member's table checksums with the first member's, as the
// harness does at the end of a run, and names the first member and table that differ.
// nodes names the members in the same order as dbs.
func SameChecksums[C Checksummer](nodes []string, dbs []C) error {
	ref, err := dbs[0].Checksums()
	if err != nil {
		return fmt.Errorf("checksums of %s: %w", nodes[0], err)
	}
	for i, db := range dbs[1:] {
		got, err := db.Checksums()
		if err != nil {
			return fmt.Errorf("checksums of %s: %w", nodes[i+1], err)
		}
		if maps.Equal(got, ref) {
			continue
		}
		tables := slices.Sorted(maps.Keys(ref))
		for t := range got {
			if _, ok := ref[t]; !ok {
				tables = append(tables, t)
			}
		}
		for _, t := range tables {
			if got[t] != ref[t] {
				return fmt.Errorf("table %s differs: %s has checksum %x, %s has %x", t, nodes[i+1], got[t], nodes[0], ref[t])
			}
		}
	}
	return nil
}

// Converge is the harness's convergence check as tests run it: WaitSamePosition (limit,
// poll and ready as there), then SameChecksums of dbs, named by nodes. The error is the
// first step's that failed.
func Converge[P protocols.Provider, C Checksummer](limit, poll time.Duration, ready func() bool, provs []P, nodes []string, dbs []C) error {
	if err := WaitSamePosition(limit, poll, ready, provs); err != nil {
		return err
	}
	return SameChecksums(nodes, dbs)
}

// CloseAll closes every member's provider or engine, even after one fails, and joins
// the errors. Tear-down closes providers before the transport and the engines after it, so
// no member is still applying into a closed engine: call it once per layer.
func CloseAll[C interface{ Close() error }](cs []C) error {
	errs := make([]error, len(cs))
	for i, c := range cs {
		errs[i] = c.Close()
	}
	return errors.Join(errs...)
}

// Status returns the value of one status variable of p, and whether p reports it.
func Status(p protocols.Provider, name string) (string, bool) {
	for _, v := range p.Status() {
		if v.Name == name {
			return v.Value, true
		}
	}
	return "", false
}
