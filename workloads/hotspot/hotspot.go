// Package hotspot is Callaghan's two examples of rows that every client wants to change,
// the workload that shows his law: under synchronous replication a given row can change at
// most once per commit round trip, whatever the hardware.
//
//   - counter: a game's achievement statistics, a table of a few hundred counters, each
//     player's achievement an autocommit `count = count + 1` on one row.
//   - users-groups: joining a group inserts the membership row and updates the parent
//     group's row (last joiner, time, member count) in one transaction, so the hot row is
//     updated by a transaction that also writes a fresh row.
//
// Options choose how many rows are hot, what share of writes goes to them, and which
// writer nodes send their clients to them: writing a hot row from one node gives lock
// waits, from several nodes certification failures, and the difference is the point.
package hotspot

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// Name is the registered name.
const Name = "hotspot"

// Modes.
const (
	ModeCounter      = "counter"
	ModeUsersGroups  = "users-groups"
	counterTable     = "achievements"
	usersTable       = "users"
	groupsTable      = "groups"
	membershipTable  = "users_groups"
	membershipIndex  = "ug_group"
	txIncrement      = "increment"
	txJoin           = "join"
	defaultRows      = "300"
	defaultUsers     = "10000"
	defaultHotRows   = "1"
	defaultHotShare  = "1"
	defaultHotWriter = "all"
)

// Options lists the workload's options.
var Options = []workloads.Option{
	{Name: "mode", Default: ModeCounter, Help: "counter: count = count + 1 on an achievements row (autocommit); users-groups: insert a users_groups row and update its groups row in one transaction", Choices: []string{ModeCounter, ModeUsersGroups}},
	{Name: "rows", Default: defaultRows, Help: "rows of the counter table (achievements) or of groups; Callaghan's example has a few hundred"},
	{Name: "hot-rows", Default: defaultHotRows, Help: "how many rows are hot (ids 1..hot-rows); the contended set every hot write picks from uniformly"},
	{Name: "hot-share", Default: defaultHotShare, Help: "share of a hot client's writes that go to the hot rows, 0..1; the rest pick uniformly among the other rows"},
	{Name: "hot-nodes", Default: defaultHotWriter, Help: "writer nodes whose clients write the hot rows: all, or a list such as n1,n3; clients on other writers only write cold rows"},
	{Name: "users", Default: defaultUsers, Help: "users-groups mode: rows of the users table that joiners are drawn from"},
	{Name: "read", Default: ReadForUpdate, Help: "for-update: the hot row is read with SELECT ... FOR UPDATE (no update is lost); plain: a plain SELECT then UPDATE of the computed value in one transaction under REPEATABLE READ, as applications write it, which loses updates on one node (InnoDB semantics) and across nodes where the protocol certifies write-sets only", Choices: []string{ReadForUpdate, ReadPlain}},
}

// Read forms of the hot row's read-modify-write.
const (
	ReadForUpdate = "for-update"
	ReadPlain     = "plain"
)

func init() {
	workloads.Register(workloads.Definition{
		Name:    Name,
		Summary: "Callaghan's hotspots: counter (count = count + 1 on hot rows) or users-groups (insert a membership, update the group row)",
		Options: Options,
		New:     workloads.Constructor(New),
	})
}

// Workload is the configured hotspot workload.
type Workload struct {
	settings map[string]string
	mode     string
	rows     int64
	hotRows  int64
	hotShare float64
	hotNodes map[string]bool // nil: every node
	users    int64
	seed     int64
	plain    bool // read=plain: SELECT then UPDATE, no locking read

	tally workloads.Tally // committed increments or joins, and those in doubt
}

// New configures the workload.
func New(opts map[string]string, env workloads.Env) (*Workload, error) {
	o, err := workloads.ResolveOptions(Name, Options, opts)
	if err != nil {
		return nil, err
	}
	w := &Workload{
		settings: o.Settings(),
		mode:     o.String("mode"),
		rows:     o.Int("rows", 1, 1<<31),
		hotShare: o.Float("hot-share", 0, 1),
		users:    o.Int("users", 1, 1<<31),
		seed:     env.Seed,
	}
	w.hotRows = o.Int("hot-rows", 1, w.rows)
	w.plain = o.String("read") == ReadPlain
	if err := o.Err(); err != nil {
		return nil, err
	}
	if hn := o.String("hot-nodes"); hn != "all" {
		w.hotNodes = map[string]bool{}
		for _, n := range strings.Split(hn, ",") {
			n = strings.TrimSpace(n)
			idx, err := strconv.Atoi(strings.TrimPrefix(n, "n"))
			if !strings.HasPrefix(n, "n") || err != nil || idx < 1 || (env.Nodes > 0 && idx > env.Nodes) {
				return nil, fmt.Errorf("workload %s: option hot-nodes: invalid node %q (accepted: all, or node names n1..n%d separated by commas)", Name, n, max(env.Nodes, 1))
			}
			if len(env.Writers) > 0 && !slices.Contains(env.Writers, n) {
				return nil, fmt.Errorf("workload %s: option hot-nodes: node %s runs no clients (writers are %s); add it to --writers or drop it from hot-nodes", Name, n, strings.Join(env.Writers, ","))
			}
			w.hotNodes[n] = true
		}
	}
	return w, nil
}

// Name implements workloads.Workload.
func (w *Workload) Name() string { return Name }

// Settings implements workloads.Configured.
func (w *Workload) Settings() map[string]string { return w.settings }

// Committed is the number of committed increments (counter) or joins (users-groups).
func (w *Workload) Committed() int64 { return w.tally.Committed() }

// Tallies implements workloads.Tallier: the commits and commits in doubt Check counts with.
func (w *Workload) Tallies() map[string]int64 { return w.tally.Counts() }

// SetTallies implements workloads.Tallier.
func (w *Workload) SetTallies(c map[string]int64) { w.tally.SetCounts(c) }

// Tables implements workloads.Workload: the tables of the configured mode.
func (w *Workload) Tables() []storage.TableSchema {
	if w.mode == ModeCounter {
		return []storage.TableSchema{{
			Name: counterTable,
			Columns: []storage.Column{
				{Name: "id", Type: storage.Int},
				{Name: "achievement", Type: storage.String, Size: 32},
				{Name: "count", Type: storage.Int},
			},
			PrimaryKey: []int{0},
		}}
	}
	return []storage.TableSchema{
		{
			Name: usersTable,
			Columns: []storage.Column{
				{Name: "id", Type: storage.Int},
				{Name: "name", Type: storage.String, Size: 32},
			},
			PrimaryKey: []int{0},
		},
		{
			Name: groupsTable,
			Columns: []storage.Column{
				{Name: "id", Type: storage.Int},
				{Name: "name", Type: storage.String, Size: 32},
				{Name: "members", Type: storage.Int},
				{Name: "last_joined", Type: storage.Int}, // unix seconds
				{Name: "last_user_id", Type: storage.Int},
			},
			PrimaryKey: []int{0},
		},
		{
			// The membership row has an auto-increment id rather than (user_id, group_id)
			// as its key, so that a user joining the same group twice is not a duplicate
			// key error: the workload measures the hot parent row, not key collisions.
			Name: membershipTable,
			Columns: []storage.Column{
				{Name: "id", Type: storage.Int, AutoIncrement: true},
				{Name: "user_id", Type: storage.Int},
				{Name: "group_id", Type: storage.Int},
				{Name: "joined", Type: storage.Int},
			},
			PrimaryKey: []int{0},
			Indexes:    []storage.Index{{Name: membershipIndex, Columns: []int{2, 1}}},
		},
	}
}

// LoadDB implements workloads.Workload: counters start at zero, groups empty.
func (w *Workload) Load(ctx context.Context, db workloads.DB, progress func(done, total int64)) error {
	rng := workloads.NewRand(w.seed, 0x407)
	if w.mode == ModeCounter {
		l := workloads.NewLoader(ctx, db, w.rows, progress)
		for id := int64(1); id <= w.rows; id++ {
			name := fmt.Sprintf("achievement_%d_%s", id, workloads.Template(rng, "@@@@@@"))
			if err := l.Insert(counterTable, storage.Row{id, name, int64(0)}); err != nil {
				return err
			}
		}
		return l.Close()
	}
	l := workloads.NewLoader(ctx, db, w.rows+w.users, progress)
	for id := int64(1); id <= w.users; id++ {
		if err := l.Insert(usersTable, storage.Row{id, "user_" + workloads.Template(rng, "@@@@@@@@")}); err != nil {
			return err
		}
	}
	for id := int64(1); id <= w.rows; id++ {
		if err := l.Insert(groupsTable, storage.Row{id, "group_" + workloads.Template(rng, "@@@@@@@@"), int64(0), int64(0), int64(0)}); err != nil {
			return err
		}
	}
	return l.Close()
}

// NewClientDB implements workloads.Workload.
func (w *Workload) NewClient(id int, rng *rand.Rand) workloads.Client {
	return &client{w: w, rng: rng}
}

type client struct {
	w    *Workload
	rng  *rand.Rand
	row  int64 // counter row or group of the current transaction
	user int64
}

// pick chooses the row of a new transaction.
func (c *client) pick(node string) int64 {
	w := c.w
	hot := w.hotNodes == nil || w.hotNodes[node]
	if w.hotRows == w.rows || (hot && c.rng.Float64() < w.hotShare) {
		if !hot && w.hotRows < w.rows {
			return workloads.IntRange(c.rng, w.hotRows+1, w.rows)
		}
		return workloads.IntRange(c.rng, 1, w.hotRows)
	}
	return workloads.IntRange(c.rng, w.hotRows+1, w.rows)
}

// Next implements workloads.Client. With retry it repeats the previous row and user.
func (c *client) Next(ctx context.Context, db workloads.DB, retry bool) (string, error) {
	if !retry || c.row == 0 {
		c.row = c.pick(db.Node())
		c.user = workloads.IntRange(c.rng, 1, c.w.users)
	}
	if c.w.mode == ModeCounter {
		return txIncrement, c.increment(ctx, db)
	}
	return txJoin, c.join(ctx, db)
}

func (c *client) increment(ctx context.Context, db workloads.DB) error {
	tx := db.Begin()
	var r storage.Row
	var err error
	if c.w.plain {
		// SELECT count ...; UPDATE ... SET count = <read + 1>: two statements, one transaction.
		r, err = tx.Get(ctx, counterTable, c.row)
	} else {
		tx.SetAutocommit(true)
		r, err = tx.GetForUpdate(ctx, counterTable, c.row)
	}
	if err == nil && r == nil {
		err = fmt.Errorf("hotspot: achievements row %d is missing; was the table loaded?", c.row)
	}
	if err == nil {
		r[2] = r[2].(int64) + 1
		err = tx.Update(ctx, counterTable, r)
	}
	return c.w.tally.End(ctx, tx, err)
}

func (c *client) join(ctx context.Context, db workloads.DB) error {
	now := time.Now().Unix()
	tx := db.Begin()
	_, err := tx.Insert(ctx, membershipTable, storage.Row{int64(0), c.user, c.row, now})
	var g storage.Row
	if err == nil {
		if c.w.plain {
			g, err = tx.Get(ctx, groupsTable, c.row)
		} else {
			g, err = tx.GetForUpdate(ctx, groupsTable, c.row)
		}
		if err == nil && g == nil {
			err = fmt.Errorf("hotspot: groups row %d is missing; was the table loaded?", c.row)
		}
	}
	if err == nil {
		g[2] = g[2].(int64) + 1
		g[3] = now
		g[4] = c.user
		err = tx.Update(ctx, groupsTable, g)
	}
	return c.w.tally.End(ctx, tx, err)
}

// CheckDB implements workloads.Workload. Counter: on every node the counters sum to the number
// of committed increments (a lost update shows as a smaller sum). Users-groups: one
// membership row per committed join, and every group's member count equals its membership
// rows found through the group index.
func (w *Workload) Check(ctx context.Context, dbs []workloads.DB) (map[string]bool, error) {
	if w.mode == ModeCounter {
		ok := true
		for _, db := range dbs {
			var sum int64
			tx := db.Begin()
			err := tx.Scan(ctx, counterTable, storage.ScanOptions{}, func(r storage.Row) bool {
				sum += r[2].(int64)
				return true
			})
			tx.Rollback()
			if err != nil {
				return nil, fmt.Errorf("hotspot check on %s: %w", db.Node(), err)
			}
			ok = ok && w.tally.Explains(sum)
		}
		return map[string]bool{"counter_sum_equals_committed_increments": ok}, nil
	}
	rowsOK, countsOK := true, true
	for _, db := range dbs {
		tx := db.Begin()
		perGroup := map[int64]int64{}
		var n int64
		err := tx.Scan(ctx, membershipTable, storage.ScanOptions{Index: membershipIndex}, func(r storage.Row) bool {
			n++
			perGroup[r[2].(int64)]++
			return true
		})
		if err == nil {
			err = tx.Scan(ctx, groupsTable, storage.ScanOptions{}, func(r storage.Row) bool {
				if r[2].(int64) != perGroup[r[0].(int64)] {
					countsOK = false
				}
				return true
			})
		}
		tx.Rollback()
		if err != nil {
			return nil, fmt.Errorf("hotspot check on %s: %w", db.Node(), err)
		}
		rowsOK = rowsOK && w.tally.Explains(n)
	}
	return map[string]bool{
		"memberships_equal_committed_joins":   rowsOK,
		"group_members_equal_membership_rows": countsOK,
	}, nil
}
