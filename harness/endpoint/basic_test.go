package endpoint

import (
	"testing"
)

func TestBasicSQL(t *testing.T) {
	tc := startTest(t, "standalone", 1, nil, Config{})
	db := tc.db(t, 0, "")
	mustExec(t, db, "CREATE DATABASE sbtest")
	mustExec(t, db, "CREATE TABLE sbtest.sbtest1(id INTEGER NOT NULL AUTO_INCREMENT, k INTEGER DEFAULT '0' NOT NULL, c CHAR(120) DEFAULT '' NOT NULL, pad CHAR(60) DEFAULT '' NOT NULL, PRIMARY KEY (id)) /*! ENGINE = innodb */")
	mustExec(t, db, "INSERT INTO sbtest.sbtest1(k, c, pad) VALUES (1,'a','x'),(2,'b','y'),(3,'c','z')")
	mustExec(t, db, "CREATE INDEX k_1 ON sbtest.sbtest1(k)")
	got := queryInts(t, db, "SELECT id FROM sbtest.sbtest1 WHERE id BETWEEN ? AND ? ORDER BY c DESC", 1, 2)
	if len(got) != 2 || got[0] != 2 || got[1] != 1 {
		t.Fatalf("range = %v", got)
	}
	if s := queryInts(t, db, "SELECT SUM(k) FROM sbtest.sbtest1 WHERE id BETWEEN 1 AND 3"); s[0] != 6 {
		t.Fatalf("sum = %v", s)
	}
	mustExec(t, db, "UPDATE sbtest.sbtest1 SET k=k+1 WHERE id=?", 2)
	if k := queryInts(t, db, "SELECT k FROM sbtest.sbtest1 WHERE id=2"); k[0] != 3 {
		t.Fatalf("k = %v", k)
	}
	if ids := queryInts(t, db, "SELECT id FROM sbtest.sbtest1 WHERE k=3 ORDER BY id"); len(ids) != 2 {
		t.Fatalf("index lookup = %v", ids)
	}
}
