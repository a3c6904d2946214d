package group

import (
	"fmt"
	"strings"
)

// Consistency is group_replication_consistency. It travels in every transaction message,
// because the level is the originator's session setting and the other members must know
// whether to report back that they prepared it (AFTER) before they commit.
type Consistency byte

// The levels, weakest first: each adds a wait to the one before it.
const (
	Eventual                Consistency = iota // commit once ordered and certified locally
	BeforeOnPrimaryFailover                    // a new primary holds transactions until its backlog is applied
	Before                                     // order a sync message and drain the local applier first
	After                                      // every member prepares before anyone commits
	BeforeAndAfter                             // both
)

// ConsistencyNames are the level names, in Consistency order, as the server spells them.
var ConsistencyNames = []string{"EVENTUAL", "BEFORE_ON_PRIMARY_FAILOVER", "BEFORE", "AFTER", "BEFORE_AND_AFTER"}

// ParseConsistency reads a level name, case-insensitively.
func ParseConsistency(s string) (Consistency, error) {
	for i, n := range ConsistencyNames {
		if strings.EqualFold(n, s) {
			return Consistency(i), nil
		}
	}
	return 0, fmt.Errorf("group_replication_consistency %q: accepted values are %v", s, ConsistencyNames)
}

func (c Consistency) String() string {
	if int(c) < len(ConsistencyNames) {
		return ConsistencyNames[c]
	}
	return fmt.Sprintf("Consistency(%d)", byte(c))
}

// HasBefore reports whether the level orders a sync message before the transaction.
func (c Consistency) HasBefore() bool { return c == Before || c == BeforeAndAfter }

// HasAfter reports whether every member must prepare the transaction before it commits.
func (c Consistency) HasAfter() bool { return c == After || c == BeforeAndAfter }
