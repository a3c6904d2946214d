package target

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/replbench/replbench/harness/netdelay"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads/sqldb"
)

// Target is a connected cluster.
type Target struct {
	File *File
	// Nodes are the connected servers, in the file's order (n1..nN).
	Nodes []*sqldb.Node
	// Versions is each node's SELECT VERSION().
	Versions map[string]string
	// RTT is what `replbench netdelay check` measured for the delayed nodes, if any.
	RTT []netdelay.RTT

	tables []storage.TableSchema
}

// Options configure Connect.
type Options struct {
	// Tables are the workload's tables (sqldb renders its statements from them).
	Tables []storage.TableSchema
	// MaxConns per node; 0 is sqldb's default.
	MaxConns int
	// Session are session variables every workload connection sets (sqldb.Config.Session).
	Session map[string]string
}

// Connect opens every node, creates the database on the writer if it is missing and waits
// until every node has it, and reads each server's version. A node that does not answer is
// an error naming it.
func Connect(ctx context.Context, f *File, opt Options) (*Target, error) {
	t := &Target{File: f, Versions: map[string]string{}, tables: opt.Tables}
	if f.Network != nil && f.Network.RTTFile != "" {
		b, err := os.ReadFile(f.Network.RTTFile)
		if err == nil {
			err = json.Unmarshal(b, &t.RTT)
		}
		if err != nil {
			return nil, fmt.Errorf("target %s: network.rtt_file: %v", f.Path, err)
		}
	}
	// The database may not exist yet: create it through a connection without one.
	w := f.node(f.Writer())
	boot, err := sqldb.Open(sqldb.Config{Name: w.Name, Host: w.Host, Port: w.Port, User: w.User, Password: w.Password, Kind: f.Kind, MaxConns: 2})
	if err != nil {
		return nil, err
	}
	_, err = boot.SQL().ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(f.Database))
	boot.Close()
	if err != nil {
		return nil, fmt.Errorf("target %s: creating database %s on %s (%s:%d): %v", f.Path, f.Database, w.Name, w.Host, w.Port, err)
	}
	for _, n := range f.Nodes {
		node, err := sqldb.Open(sqldb.Config{Name: n.Name, Host: n.Host, Port: n.Port, User: n.User, Password: n.Password,
			Database: f.Database, Kind: f.Kind, Tables: opt.Tables, MaxConns: opt.MaxConns, Session: opt.Session})
		if err != nil {
			t.Close()
			return nil, err
		}
		t.Nodes = append(t.Nodes, node)
	}
	// A replica learns of the database through replication; wait for it, bounded.
	deadline := time.Now().Add(30 * time.Second)
	for _, node := range t.Nodes {
		for {
			var v string
			err := node.SQL().QueryRowContext(ctx, "SELECT VERSION()").Scan(&v)
			if err == nil {
				t.Versions[node.Name()] = v
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				t.Close()
				return nil, fmt.Errorf("target %s: node %s: %v", f.Path, node.Name(), err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return t, nil
}

// Node returns the connected node called name, or nil.
func (t *Target) Node(name string) *sqldb.Node {
	for _, n := range t.Nodes {
		if n.Name() == name {
			return n
		}
	}
	return nil
}

// Version is the writer's server version, for results.
func (t *Target) Version() string { return t.Versions[t.File.Writer()] }

// Close closes every node's pool.
func (t *Target) Close() {
	for _, n := range t.Nodes {
		n.Close()
	}
}

func (f *File) node(name string) *NodeSpec {
	for i := range f.Nodes {
		if f.Nodes[i].Name == name {
			return &f.Nodes[i]
		}
	}
	return nil
}

func quoteIdent(s string) string { return "`" + s + "`" }
