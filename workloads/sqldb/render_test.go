package sqldb

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
)

var orders = storage.TableSchema{
	Name: "orders",
	Columns: []storage.Column{
		{Name: "w", Type: storage.Int}, {Name: "d", Type: storage.Int}, {Name: "o", Type: storage.Int},
		{Name: "c", Type: storage.Int}, {Name: "note", Type: storage.String, Size: 24, Nullable: true},
		{Name: "amount", Type: storage.Float},
	},
	PrimaryKey: []int{0, 1, 2},
	Indexes:    []storage.Index{{Name: "by_cust", Columns: []int{0, 1, 3}}, {Name: "u_note", Columns: []int{4}, Unique: true}},
}

var items = storage.TableSchema{
	Name:       "items",
	Columns:    []storage.Column{{Name: "id", Type: storage.Int, AutoIncrement: true}, {Name: "v", Type: storage.String}},
	PrimaryKey: []int{0},
}

func TestRenderStatements(t *testing.T) {
	o := renderTable(orders)
	for _, tc := range []struct{ got, want string }{
		{o.get, "SELECT `w`,`d`,`o`,`c`,`note`,`amount` FROM `orders` WHERE `w`=? AND `d`=? AND `o`=?"},
		{o.getForUpd, "SELECT `w`,`d`,`o`,`c`,`note`,`amount` FROM `orders` WHERE `w`=? AND `d`=? AND `o`=? FOR UPDATE"},
		{o.insert, "INSERT INTO `orders` (`w`,`d`,`o`,`c`,`note`,`amount`) VALUES (?,?,?,?,?,?)"},
		{o.update, "UPDATE `orders` SET `c`=?,`note`=?,`amount`=? WHERE `w`=? AND `d`=? AND `o`=?"},
		{o.del, "DELETE FROM `orders` WHERE `w`=? AND `d`=? AND `o`=?"},
		{renderTable(items).insertNoPK, "INSERT INTO `items` (`v`) VALUES (?)"},
		{renderTable(items).bulkInsert(2), "INSERT INTO `items` (`id`,`v`) VALUES (?,?),(?,?)"},
		{CreateTableSQL(orders), "CREATE TABLE `orders` (`w` BIGINT NOT NULL, `d` BIGINT NOT NULL, `o` BIGINT NOT NULL, `c` BIGINT NOT NULL, `note` VARCHAR(24), `amount` DOUBLE NOT NULL, PRIMARY KEY (`w`,`d`,`o`), KEY `by_cust` (`w`,`d`,`c`), UNIQUE KEY `u_note` (`note`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"},
		{CreateTableSQL(items), "CREATE TABLE `items` (`id` BIGINT NOT NULL AUTO_INCREMENT, `v` VARCHAR(255) NOT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"},
	} {
		if tc.got != tc.want {
			t.Errorf("got  %s\nwant %s", tc.got, tc.want)
		}
	}
}

func TestRenderScans(t *testing.T) {
	o := renderTable(orders)
	sel := "SELECT `w`,`d`,`o`,`c`,`note`,`amount` FROM `orders`"
	for _, tc := range []struct {
		s    scanShape
		want string
	}{
		{scanShape{}, sel + " ORDER BY `w`,`d`,`o`"},
		{scanShape{eq: 2, from: 1, to: 1}, sel + " WHERE `w`=? AND `d`=? AND `o`>=? AND `o`<? ORDER BY `w`,`d`,`o`"},
		{scanShape{from: 2, limit: true}, sel + " WHERE ((`w`>?) OR (`w`=? AND `d`>=?)) ORDER BY `w`,`d`,`o` LIMIT ?"},
		{scanShape{index: "by_cust", eq: 3, after: 4, limit: true}, sel + " WHERE `w`=? AND `d`=? AND `c`=? AND ((`w`>?) OR (`w`=? AND `d`>?) OR (`w`=? AND `d`=? AND `c`>?) OR (`w`=? AND `d`=? AND `c`=? AND `o`>?)) ORDER BY `w`,`d`,`c`,`o` LIMIT ?"},
		{scanShape{to: 1, reverse: true}, sel + " WHERE `w`<? ORDER BY `w` DESC,`d` DESC,`o` DESC"},
	} {
		got, err := o.scanSQL(tc.s)
		if err != nil || got != tc.want {
			t.Errorf("%+v:\ngot  %s (%v)\nwant %s", tc.s, got, err, tc.want)
		}
		if n := strings.Count(tc.want, "?"); n != paramCount(tc.s) {
			t.Errorf("%+v: the text has %d parameters, the scan binds %d", tc.s, n, paramCount(tc.s))
		}
	}
	if _, err := o.scanSQL(scanShape{index: "nope"}); err == nil {
		t.Error("an unknown index rendered")
	}
}

// paramCount is what Scan binds for a shape: eq, then each bound's lexicographic expansion.
func paramCount(s scanShape) int {
	n := s.eq
	for _, k := range []int{s.from, s.to, s.after} {
		n += len(lexArgs(nil, make([]storage.Value, k)))
	}
	if s.limit {
		n++
	}
	return n
}

func TestBounds(t *testing.T) {
	v := func(xs ...any) []storage.Value { return xs }
	for _, tc := range []struct {
		prefix, from, to []storage.Value
		want             string
	}{
		{nil, v(int64(1), int64(2), int64(3)), v(int64(1), int64(2), int64(4)), "eq [1 2] from [3] to [4]"},
		{nil, v(int64(5)), v(int64(5)), "eq [] from [5] to [5]"}, // empty, left to the server
		{nil, v(int64(5)), v(int64(6)), "eq [] from [5] to [6]"},
		{nil, v(int64(1)), v(int64(1), int64(7)), "eq [1] from [] to [7]"},
		{v(int64(1)), v(int64(1), int64(3)), nil, "eq [1] from [3] to []"},
		{v(int64(2)), v(int64(1), int64(3)), nil, "eq [2] from [] to []"},
		{v(int64(2)), v(int64(3)), nil, "empty"},
		{v(int64(2)), nil, v(int64(2)), "empty"},
		{v(int64(2)), nil, v(int64(3)), "eq [2] from [] to []"},
		{v("a"), v("a", "b"), v("a", "c"), "eq [a] from [b] to [c]"},
		{v("a"), v("a", "b", "x"), v("a", "b", "y"), "eq [a b] from [x] to [y]"},
	} {
		eq, f, to, empty := bounds(tc.prefix, tc.from, tc.to)
		got := fmt.Sprintf("eq %v from %v to %v", []any(eq), []any(f), []any(to))
		if eq == nil {
			got = strings.Replace(got, "eq []", "eq []", 1)
		}
		if empty {
			got = "empty"
		}
		if got != tc.want {
			t.Errorf("prefix %v from %v to %v: %s, want %s", tc.prefix, tc.from, tc.to, got, tc.want)
		}
	}
}

func TestMapError(t *testing.T) {
	my := func(code uint16, msg string) error {
		return &mysql.MySQLError{Number: code, SQLState: [5]byte{'4', '0', '0', '0', '1'}, Message: msg}
	}
	for _, tc := range []struct {
		err    error
		ph     phase
		kind   string
		cause  protocols.Cause
		broken bool
	}{
		{my(1213, "Deadlock found"), phaseCommit, KindGalera, protocols.CauseCertification, false},
		{my(1213, "Deadlock found"), phaseStatement, KindGalera, protocols.CauseBFAbort, false},
		{my(1213, "Deadlock found"), phaseStatement, KindStandalone, protocols.CauseDeadlock, false},
		{my(1213, "Deadlock found (certification failure)"), phaseStatement, KindStandalone, protocols.CauseCertification, false},
		{my(1213, "Deadlock found (brute-force aborted by replication)"), phaseCommit, KindGalera, protocols.CauseBFAbort, false},
		{my(1205, "Lock wait timeout"), phaseStatement, KindGalera, protocols.CauseLockWaitTimeout, false},
		{my(1047, "WSREP has not yet prepared node"), phaseStatement, KindGalera, protocols.CauseNotReady, false},
		{my(1290, "--read-only"), phaseCommit, KindSemisync, protocols.CauseReadOnly, false},
		{my(3101, "Plugin instructed"), phaseCommit, KindGR, protocols.CauseCertification, false},
		{my(1062, "Duplicate entry"), phaseCommit, KindGalera, protocols.CauseDuplicateKey, false},
		{my(1927, "Connection was killed"), phaseCommit, KindGalera, protocols.CauseOther, true},
		{mysql.ErrInvalidConn, phaseCommit, KindGalera, protocols.CauseOther, true},
		{fmt.Errorf("x: %w", errors.New("weird")), phaseCommit, KindGalera, protocols.CauseOther, false},
	} {
		e, broken := mapError(tc.err, tc.ph, tc.kind)
		if e.Cause != tc.cause || broken != tc.broken {
			t.Errorf("%v (phase %d, %s): cause %s broken %v, want %s %v", tc.err, tc.ph, tc.kind, e.Cause, broken, tc.cause, tc.broken)
		}
	}
	if e, _ := mapError(mysql.ErrInvalidConn, phaseCommit, KindGalera); e.Code != crServerLost {
		t.Errorf("lost connection has code %d, want %d", e.Code, crServerLost)
	}
}
