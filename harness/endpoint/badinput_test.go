package endpoint

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Wrong credentials are refused with 1045; the configured account is accepted.
func TestAuthentication1045(t *testing.T) {
	tc := startTest(t, "standalone", 1, nil, Config{User: "app", Password: "s3cret"})
	addr := tc.set.Addrs()[0]
	for _, dsn := range []string{"app:wrong@tcp(" + addr + ")/", "root:@tcp(" + addr + ")/", "app:@tcp(" + addr + ")/"} {
		db, _ := sql.Open("mysql", dsn)
		err := db.Ping()
		db.Close()
		if code(err) != 1045 {
			t.Errorf("%s: %v, want 1045", dsn, err)
		}
	}
	db, _ := sql.Open("mysql", "app:s3cret@tcp("+addr+")/")
	defer db.Close()
	if err := db.Ping(); err != nil {
		t.Fatalf("the configured account: %v", err)
	}
}

// A connection closed in the middle of a transaction rolls it back and releases its locks:
// another connection can lock the same row at once, and the row keeps its old value.
func TestClosedConnectionRollsBack(t *testing.T) {
	tc := startTest(t, "galera", 3, map[string]string{"innodb_lock_wait_timeout": "2"}, Config{})
	db := tc.db(t, 0, "")
	mustExec(t, db, "CREATE DATABASE app")
	mustExec(t, db, "CREATE TABLE app.t (id INT PRIMARY KEY, v INT)")
	mustExec(t, db, "INSERT INTO app.t VALUES (1, 0)")
	other, _ := sql.Open("mysql", "root:@tcp("+tc.set.Addrs()[0]+")/")
	c, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "UPDATE app.t SET v = 99 WHERE id = 1")
	// Close the socket under the driver, as a crashed client would.
	_ = c.Raw(func(dc any) error {
		if nc, ok := dc.(interface{ Close() error }); ok {
			nc.Close()
		}
		return nil
	})
	c.Close()
	other.Close()
	start := time.Now()
	mustExec(t, db, "UPDATE app.t SET v = v + 1 WHERE id = 1")
	if w := time.Since(start); w > time.Second {
		t.Errorf("the next writer waited %v for a lock the closed connection should have released", w)
	}
	for i := range 3 {
		waitRow(t, tc.db(t, i, ""), "SELECT v FROM app.t WHERE id=1", 1)
	}
}

// 1,000 connections at once all get served.
func TestThousandConnections(t *testing.T) {
	tc := startTest(t, "standalone", 1, nil, Config{})
	db := tc.db(t, 0, "")
	mustExec(t, db, "CREATE DATABASE app")
	mustExec(t, db, "CREATE TABLE app.t (id INT PRIMARY KEY)")
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	conns := make([]*sql.DB, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, _ := sql.Open("mysql", "root:@tcp("+tc.set.Addrs()[0]+")/app")
			d.SetMaxOpenConns(1)
			conns[i] = d
			if _, err := d.Exec("INSERT INTO t VALUES (?)", i); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a connection failed: %v", err)
	}
	var connected int
	var name string
	if err := db.QueryRow("SHOW STATUS LIKE 'Threads_connected'").Scan(&name, &connected); err != nil {
		t.Fatal(err)
	}
	if connected < n {
		t.Errorf("Threads_connected = %d with %d clients open", connected, n+1)
	}
	for _, d := range conns {
		d.Close()
	}
	if c := queryInts(t, db, "SELECT COUNT(*) FROM app.t"); c[0] != n {
		t.Fatalf("%d rows, want %d", c[0], n)
	}
}

// A statement over max_allowed_packet gets 1153, nothing of it is applied, and the server
// keeps serving other connections.
func TestMaxAllowedPacket(t *testing.T) {
	tc := startTest(t, "standalone", 1, nil, Config{}) // the test server's limit is 1 MiB
	db := tc.db(t, 0, "maxAllowedPacket=67108864")
	mustExec(t, db, "CREATE DATABASE app")
	mustExec(t, db, "CREATE TABLE app.t (id INT PRIMARY KEY, b LONGTEXT)")
	big := strings.Repeat("x", 2<<20)
	_, err := db.Exec("INSERT INTO app.t VALUES (1, '" + big + "')")
	if code(err) != 1153 {
		t.Fatalf("a 2 MiB statement: %v, want 1153", err)
	}
	// The same through a prepared statement.
	_, err = db.Exec("INSERT INTO app.t VALUES (?, ?)", 2, big)
	if err == nil {
		t.Fatal("a 2 MiB bind value was accepted over a 1 MiB max_allowed_packet")
	}
	if c := queryInts(t, db, "SELECT COUNT(*) FROM app.t"); c[0] != 0 {
		t.Fatalf("%d rows after refused statements, want 0", c[0])
	}
	mustExec(t, db, "INSERT INTO app.t VALUES (3, ?)", strings.Repeat("y", 1000))
}

// Malformed packets, garbage and truncated handshakes never take the server down, and the
// server keeps serving. Multi-statement queries are refused with 1064.
func TestMalformedPackets(t *testing.T) {
	tc := startTest(t, "standalone", 1, nil, Config{})
	addr := tc.set.Addrs()[0]
	rng := rand.New(rand.NewPCG(1, 2))
	send := func(b []byte, readFirst bool) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(200 * time.Millisecond))
		if readFirst {
			buf := make([]byte, 1024)
			_, _ = c.Read(buf) // the server's greeting
		}
		_, _ = c.Write(b)
		buf := make([]byte, 1024)
		_, _ = c.Read(buf)
	}
	for i := range 60 {
		n := rng.IntN(300)
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rng.UintN(256))
		}
		if i%3 == 0 && n > 4 { // a plausible header with a lying length
			b[0], b[1], b[2], b[3] = byte(n), 0, 0, 1
		}
		send(b, i%2 == 0)
	}
	// Truncated and oversized headers.
	send([]byte{0xff, 0xff, 0xff}, true)
	send([]byte{0xff, 0xff, 0xff, 0x01, 0x00}, true)
	send([]byte{0x01, 0x00, 0x00, 0x00, 0x03}, true)
	db := tc.db(t, 0, "multiStatements=true")
	if _, err := db.Exec("CREATE DATABASE a; CREATE DATABASE b"); code(err) != 1064 {
		t.Errorf("multi-statement query: %v, want 1064", err)
	}
	if err := db.Ping(); err != nil {
		t.Fatalf("the server stopped serving after malformed input: %v", err)
	}
	mustExec(t, db, "CREATE DATABASE ok")
}
