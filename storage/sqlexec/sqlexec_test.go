package sqlexec

import (
	"context"
	"strings"
	"testing"

	"vitess.io/vitess/go/sqltypes"
)

// q runs a statement and returns its rows as text ("NULL" for NULL).
func q(t *testing.T, s *Session, sql string) [][]string {
	t.Helper()
	r, err := s.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return text(r)
}

func text(r *sqltypes.Result) [][]string {
	var out [][]string
	for _, row := range r.Rows {
		var vals []string
		for _, v := range row {
			if v.IsNull() {
				vals = append(vals, "NULL")
			} else {
				vals = append(vals, v.ToString())
			}
		}
		out = append(out, vals)
	}
	return out
}

func flat(rows [][]string) string {
	var parts []string
	for _, r := range rows {
		parts = append(parts, strings.Join(r, ","))
	}
	return strings.Join(parts, " ")
}

func errCode(err error) int {
	if se := ToSQLError(err); se != nil {
		return int(se.Number())
	}
	return 0
}

func testSession(t *testing.T) *Session {
	srv := benchServer(t, 0)
	s := srv.NewSession(0, "root")
	t.Cleanup(s.Close)
	q(t, s, "USE sbtest")
	q(t, s, "CREATE TABLE o (w INT NOT NULL, d INT NOT NULL, id INT NOT NULL, c VARCHAR(20), amount DECIMAL(10,2) DEFAULT 0, PRIMARY KEY (w, d, id), KEY by_c (c))")
	q(t, s, "INSERT INTO o (w, d, id, c, amount) VALUES (1,1,1,'x',1.5),(1,1,2,'y',2.25),(1,1,3,'x',3),(1,2,1,'z',4),(2,1,1,'x',5)")
	return s
}

func TestSelectShapes(t *testing.T) {
	s := testSession(t)
	cases := []struct{ sql, want string }{
		{"SELECT id FROM o WHERE w=1 AND d=1 ORDER BY id DESC LIMIT 1", "3"},
		{"SELECT id FROM o WHERE w=1 AND d=1 AND id BETWEEN 2 AND 3", "2 3"},
		{"SELECT id FROM o WHERE w=1 AND d=1 AND id > 1 AND id < 3", "2"},
		{"SELECT w, d, id FROM o WHERE c = 'x' ORDER BY w, id", "1,1,1 1,1,3 2,1,1"},
		{"SELECT COUNT(*), SUM(amount), MIN(id), MAX(c) FROM o WHERE w = 1", "4,10.75,1,z"},
		{"SELECT c, COUNT(*) FROM o GROUP BY c ORDER BY c", "x,3 y,1 z,1"},
		{"SELECT c, COUNT(*) AS n FROM o GROUP BY c HAVING COUNT(*) > 1", "x,3"},
		{"SELECT DISTINCT c FROM o ORDER BY c DESC", "z y x"},
		{"SELECT COUNT(DISTINCT c) FROM o", "3"},
		{"SELECT id FROM o WHERE w=1 AND d=1 AND id IN (3, 1, 9) ", "1 3"},
		// ORed ranges on one column: overlapping ranges visit each row once, empty ones none.
		{"SELECT COUNT(*) FROM o WHERE w BETWEEN 1 AND 1 OR w = 2 OR w BETWEEN 1 AND 2", "5"},
		{"SELECT COUNT(c) FROM o WHERE c BETWEEN 'x' AND 'y' OR c = 'x' OR c = 'z'", "5"},
		{"SELECT id FROM o WHERE c BETWEEN 'z' AND 'a' OR c = 'y'", "2"},
		{"SELECT w, id FROM o WHERE c = 'z' OR c BETWEEN 'w' AND 'x' ORDER BY w DESC, id DESC", "2,1 1,3 1,1 1,1"},
		{"SELECT COUNT(*) FROM o WHERE w = 2 OR w BETWEEN 1 AND 1 FOR UPDATE", "5"},
		{"SELECT COUNT(*) FROM o WHERE w = 2 OR c = 'y'", "2"},
		{"SELECT id, amount * 2 FROM o WHERE w=2 AND d=1 AND id=1", "1,10"},
		{"SELECT * FROM o WHERE w=1 AND d=2", "1,2,1,z,4.00"},
		{"SELECT id FROM o ORDER BY amount DESC LIMIT 2 OFFSET 1", "1 3"},
		{"SELECT COUNT(*) FROM o WHERE c IS NULL", "0"},
		{"SELECT 1 + 2, 'a', NULL, @@autocommit, DATABASE()", "3,a,NULL,1,sbtest"},
		{"SELECT c FROM o WHERE c LIKE 'X%' LIMIT 1", "x"},
	}
	for _, c := range cases {
		if got := flat(q(t, s, c.sql)); got != c.want {
			t.Errorf("%s = %q, want %q", c.sql, got, c.want)
		}
	}
}

// Text queries that differ only in their literals share one plan.
func TestPlanCacheNormalises(t *testing.T) {
	s := testSession(t)
	q(t, s, "SELECT c FROM o WHERE w=1 AND d=1 AND id=1")
	n := len(s.srv.plans.m)
	for i := range 5 {
		if got := flat(q(t, s, "SELECT c FROM o WHERE w=1 AND d=1 AND id="+string(rune('1'+i%3)))); got == "" {
			t.Fatal("no row")
		}
	}
	if m := len(s.srv.plans.m); m != n {
		t.Errorf("plan cache grew from %d to %d entries for one statement shape", n, m)
	}
}

func TestDMLAndTransactions(t *testing.T) {
	s := testSession(t)
	q(t, s, "UPDATE o SET amount = amount + 1, c = 'w' WHERE w = 1 AND d = 1 AND id = 2")
	if got := flat(q(t, s, "SELECT c, amount FROM o WHERE w=1 AND d=1 AND id=2")); got != "w,3.25" {
		t.Errorf("after UPDATE: %s", got)
	}
	q(t, s, "BEGIN")
	q(t, s, "DELETE FROM o WHERE w = 1")
	if got := flat(q(t, s, "SELECT COUNT(*) FROM o")); got != "1" {
		t.Errorf("inside the transaction: %s rows", got)
	}
	q(t, s, "ROLLBACK")
	if got := flat(q(t, s, "SELECT COUNT(*) FROM o")); got != "5" {
		t.Errorf("after ROLLBACK: %s rows", got)
	}
	q(t, s, "SET autocommit = 0")
	q(t, s, "UPDATE o SET w = 3 WHERE w = 2") // a primary-key change: delete + insert
	q(t, s, "COMMIT")
	q(t, s, "SET autocommit = 1")
	if got := flat(q(t, s, "SELECT w FROM o WHERE c = 'x' ORDER BY w DESC LIMIT 1")); got != "3" {
		t.Errorf("after the key change: %s", got)
	}
	// A table without a primary key gets the hidden row id; SELECT * does not show it.
	q(t, s, "CREATE TABLE nopk (a INT, b VARCHAR(5))")
	q(t, s, "INSERT INTO nopk VALUES (1, 'a'), (1, 'a')")
	if got := flat(q(t, s, "SELECT * FROM nopk")); got != "1,a 1,a" {
		t.Errorf("SELECT * of a table without a primary key: %s", got)
	}
	r, err := s.Query(context.Background(), "INSERT INTO sbtest1 (k, c, pad) VALUES (1, 'a', 'b')")
	if err != nil || r.InsertID != 1 {
		t.Errorf("auto-increment insert id = %v, %v", r, err)
	}
	if got := flat(q(t, s, "SELECT LAST_INSERT_ID()")); got != "1" {
		t.Errorf("LAST_INSERT_ID() = %s", got)
	}
}

func TestErrors(t *testing.T) {
	s := testSession(t)
	cases := []struct {
		sql  string
		code int
	}{
		{"SELEC 1", 1064},
		{"SELECT * FROM nosuch", 1146},
		{"SELECT nosuch FROM o", 1054},
		{"SELECT * FROM o JOIN o AS p", 1235},
		{"SELECT * FROM o WHERE id IN (SELECT 1)", 1235},
		{"SET nosuch = 1", 1193},
		{"SET GLOBAL innodb_lock_wait_timeout = 5", 1238},
		{"SET transaction_isolation = 'READ-COMMITTED'", 1235},
		{"INSERT INTO o (w, d, id) VALUES (1, 1, 1)", 1062},
		{"INSERT INTO o (w, d) VALUES (1, 1)", 1364},
		{"INSERT INTO o VALUES (1, 1)", 1136},
		{"CREATE TABLE o (a INT PRIMARY KEY)", 1050},
		{"DROP TABLE nosuch", 1051},
		{"USE nosuch", 1049},
		{"SELECT nosuchfn(1)", 1305},
		{"CREATE TABLE f (a INT PRIMARY KEY, b INT, FOREIGN KEY (b) REFERENCES o (w))", 1235},
		{"SELECT ?", 1064},
	}
	for _, c := range cases {
		_, err := s.Query(context.Background(), c.sql)
		if errCode(err) != c.code {
			t.Errorf("%s: %v, want %d", c.sql, err, c.code)
		}
	}
	if got := flat(q(t, s, "SELECT COUNT(*) FROM o")); got != "5" {
		t.Errorf("after the errors: %s rows, want 5 (nothing half-applied)", got)
	}
}

func TestShowAndVariables(t *testing.T) {
	s := testSession(t)
	if got := flat(q(t, s, "SHOW TABLES")); !strings.Contains(got, "o") || !strings.Contains(got, "sbtest1") {
		t.Errorf("SHOW TABLES = %s", got)
	}
	if got := flat(q(t, s, "SHOW GLOBAL STATUS LIKE 'Com_select'")); !strings.HasPrefix(got, "Com_select,") {
		t.Errorf("SHOW STATUS LIKE = %s", got)
	}
	if got := flat(q(t, s, "SHOW VARIABLES LIKE 'innodb_lock_wait_timeout'")); got != "innodb_lock_wait_timeout,50" {
		t.Errorf("SHOW VARIABLES = %s", got)
	}
	q(t, s, "SET SESSION innodb_lock_wait_timeout = 7")
	if got := flat(q(t, s, "SELECT @@innodb_lock_wait_timeout")); got != "7" {
		t.Errorf("session value = %s", got)
	}
	if got := flat(q(t, s, "SHOW VARIABLES WHERE Variable_name = 'autocommit'")); got != "autocommit,1" {
		t.Errorf("SHOW VARIABLES WHERE = %s", got)
	}
	if got := q(t, s, "SHOW CREATE TABLE o"); !strings.Contains(got[0][1], "PRIMARY KEY (`w`,`d`,`id`)") || !strings.Contains(got[0][1], "KEY `by_c` (`c`)") {
		t.Errorf("SHOW CREATE TABLE = %s", got[0][1])
	}
}
