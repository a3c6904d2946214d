// Package servicetime models where a real server spends its time: every stage of a
// statement and a commit (parsing and executing the statement, the engine commit, the redo
// and binlog writes and fsyncs, certification, applying a replicated row, sending and
// receiving a group-communication message) costs service time on a node's CPU or disk, and
// stages queue for those resources. Saturation, the LAN plateau and the high-concurrency
// rows of a benchmark then come out of the model instead of out of a fudge factor, and the
// protocols keep their own pipelines (which stage holds which lock while it waits) on top.
//
// The costs live in a Profile (YAML, units in the field names), measured on a real server
// by `replbench calibrate` or shipped built in; the profile "none" costs nothing and keeps
// the model a pure protocol model for questions the server's own work would only blur.
//
// Time is charged, not simulated: a stage reserves its service time on the resource's
// schedule, which is computed on the model's clock from the resource's own queue (so a
// waiter that wakes a little late does not push the next one back), then the caller waits
// until the reservation ends. Real execution that happens meanwhile overlaps the
// reservation, so a stage takes max(modelled, actual) and the in-memory engine's own speed
// is hidden under the profile's costs. In virtual time (testing/synctest) every figure is
// exact.
package servicetime

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Profile is a cost profile: how long each stage of a server's work takes on one core (CPU
// costs) or on the device (fsync), measured without contention. Every field is in
// microseconds unless its name says otherwise; zero means the stage is free.
type Profile struct {
	// Name identifies the profile in results; a file's profile defaults to its base name.
	Name string `yaml:"name"`
	// Description says what server and machine the costs come from.
	Description string `yaml:"description,omitempty"`
	// Flavor is the server flavour the profile was measured on (mariadb-10.11, ...).
	Flavor string `yaml:"flavor,omitempty"`
	// Measured records how: the commands and the raw figures the costs were derived from.
	Measured string `yaml:"measured,omitempty"`

	Host        HostCosts        `yaml:"host"`
	Client      ClientCosts      `yaml:"client"`
	Statement   StatementCosts   `yaml:"statement"`
	Commit      CommitCosts      `yaml:"commit"`
	Replication ReplicationCosts `yaml:"replication"`
}

// HostCosts describe the machine a node runs on.
type HostCosts struct {
	// Cores is the number of CPU cores of one host; nodes placed on the same host share
	// them (a cluster of three containers on one machine), nodes on their own hosts do not.
	// 0 means unlimited: stages cost their time but never queue for a core.
	Cores int `yaml:"cores"`
	// SharedByNodes places every node of a cluster on this one host, sharing its cores (a
	// local test cluster of three servers on one machine, as the calibration host runs
	// them); false gives each node a host of its own.
	SharedByNodes bool `yaml:"shared_by_nodes,omitempty"`
}

// ClientCosts are what a client pays per statement outside the server: the round trip
// between client and server and the client library's own work. They are latency, not
// server CPU (a client on the same host also takes CPU; that is ClientCPUUs).
type ClientCosts struct {
	StatementRTTUs float64 `yaml:"statement_rtt_us"`
	ClientCPUUs    float64 `yaml:"client_cpu_us"`
}

// StatementCosts are the server's CPU per statement, by kind, for parsing, planning and
// executing it on its first row; more rows cost the per-row figures. The *_wait_us
// figures are the rest of what one statement takes at one client that holds no core: the
// server's threads handing the statement and its commit to one another and, on a VM, the
// halted vCPU's wake-up before each of them. They add latency but not CPU, so they cost a
// lone client the whole measured statement and cost nothing once the cores are the limit,
// which is how a saturated server behaves (its throughput there is cores / CPU).
type StatementCosts struct {
	SelectUs     float64 `yaml:"select_us"`
	InsertUs     float64 `yaml:"insert_us"`
	UpdateUs     float64 `yaml:"update_us"`
	DeleteUs     float64 `yaml:"delete_us"`
	OtherUs      float64 `yaml:"other_us"` // BEGIN, SET, SELECT 1, COMMIT's statement overhead
	SelectWaitUs float64 `yaml:"select_wait_us"`
	InsertWaitUs float64 `yaml:"insert_wait_us"`
	UpdateWaitUs float64 `yaml:"update_wait_us"`
	DeleteWaitUs float64 `yaml:"delete_wait_us"`
	OtherWaitUs  float64 `yaml:"other_wait_us"`
	RowReadUs    float64 `yaml:"row_read_us"`
	RowWriteUs   float64 `yaml:"row_write_us"`
	DDLUs        float64 `yaml:"ddl_us"`
	LockRowUs    float64 `yaml:"lock_row_us"` // a locking read's lock, beyond the read
	SyncWaitUs   float64 `yaml:"sync_wait_us"`
	PrepareSaves float64 `yaml:"prepare_saves_fraction"` // fraction of statement CPU a prepared statement saves
}

// CommitCosts are the commit path's stages on the node that runs the transaction.
type CommitCosts struct {
	// EngineUs is the engine commit in memory (trx commit, lock release).
	EngineUs float64 `yaml:"engine_us"`
	// RedoWriteUs is writing the redo log buffer to the OS (what
	// innodb_flush_log_at_trx_commit=2 does per commit).
	RedoWriteUs float64 `yaml:"redo_write_us"`
	// RedoFsyncUs is one fsync of the redo log on the device; waiting commits share it
	// (group commit), so it is per flush, not per transaction.
	RedoFsyncUs float64 `yaml:"redo_fsync_us"`
	// BinlogWriteUs is writing a transaction's events to the binary log.
	BinlogWriteUs float64 `yaml:"binlog_write_us"`
	// BinlogFsyncUs is one fsync of the binary log (sync_binlog=1), per group.
	BinlogFsyncUs float64 `yaml:"binlog_fsync_us"`
}

// ReplicationCosts are the replication stages: what the provider and the appliers spend.
type ReplicationCosts struct {
	// CertifyUs is the CPU a write-set's replication and certification take on the
	// originator beyond the engine's own work (building the write-set, the group
	// communication send, certification under the local monitor), booked on the host's
	// cores, where concurrent commits queue for it.
	CertifyUs float64 `yaml:"certify_us"`
	// CertifyWaitUs is the rest of what replication adds to one uncontended commit: time
	// the committing thread waits without holding a core (handing the write-set to the
	// group-communication threads and being woken at its own delivery, the monitors'
	// condition waits). It adds latency but does not queue on the cores.
	CertifyWaitUs float64 `yaml:"certify_wait_us"`
	CertifyKeyUs  float64 `yaml:"certify_key_us"`
	ApplyTxnUs    float64 `yaml:"apply_txn_us"`
	ApplyRowUs    float64 `yaml:"apply_row_us"`
	SendMsgUs     float64 `yaml:"send_msg_us"`
	SendKiBUs     float64 `yaml:"send_kib_us"`
	RecvMsgUs     float64 `yaml:"recv_msg_us"`
	RecvKiBUs     float64 `yaml:"recv_kib_us"`
	ReplicaAckUs  float64 `yaml:"replica_ack_us"`  // a semi-sync replica's relay-log write and ACK
	RelayWriteUs  float64 `yaml:"relay_write_us"`  // a replica's relay log write per transaction
	GroupCommitUs float64 `yaml:"group_commit_us"` // a binlog group commit leader's per-group work
}

// None is the profile that costs nothing: the pure protocol model.
const None = "none"

// IsZero reports whether the profile charges nothing anywhere.
func (p *Profile) IsZero() bool {
	if p == nil {
		return true
	}
	q := *p
	q.Name, q.Description, q.Flavor, q.Measured = "", "", "", ""
	return q == Profile{}
}

// Us converts a cost in microseconds to a duration.
func Us(us float64) time.Duration { return time.Duration(us * float64(time.Microsecond)) }

// Validate reports the first impossible value: a negative cost or core count, a fraction
// outside [0, 1]. The error names the field by its YAML path.
func (p *Profile) Validate() error {
	if p.Host.Cores < 0 {
		return fmt.Errorf("cost profile %s: host.cores is %d (accepted: 0 for unlimited, or a positive number of cores)", p.Name, p.Host.Cores)
	}
	if f := p.Statement.PrepareSaves; f < 0 || f > 1 {
		return fmt.Errorf("cost profile %s: statement.prepare_saves_fraction is %g (accepted: 0 to 1)", p.Name, f)
	}
	var bad error
	walkCosts(p, func(field string, v float64) {
		if bad == nil && (v < 0 || v > 10e6) {
			bad = fmt.Errorf("cost profile %s: %s is %g (accepted: 0 to 10000000 microseconds)", p.Name, field, v)
		}
	})
	return bad
}

// walkCosts calls fn with every microsecond field's YAML path and value.
func walkCosts(p *Profile, fn func(field string, v float64)) {
	c := []struct {
		n string
		v float64
	}{
		{"client.statement_rtt_us", p.Client.StatementRTTUs}, {"client.client_cpu_us", p.Client.ClientCPUUs},
		{"statement.select_us", p.Statement.SelectUs}, {"statement.insert_us", p.Statement.InsertUs},
		{"statement.update_us", p.Statement.UpdateUs}, {"statement.delete_us", p.Statement.DeleteUs},
		{"statement.other_us", p.Statement.OtherUs}, {"statement.row_read_us", p.Statement.RowReadUs},
		{"statement.select_wait_us", p.Statement.SelectWaitUs}, {"statement.insert_wait_us", p.Statement.InsertWaitUs},
		{"statement.update_wait_us", p.Statement.UpdateWaitUs}, {"statement.delete_wait_us", p.Statement.DeleteWaitUs},
		{"statement.other_wait_us", p.Statement.OtherWaitUs},
		{"statement.row_write_us", p.Statement.RowWriteUs}, {"statement.ddl_us", p.Statement.DDLUs},
		{"statement.lock_row_us", p.Statement.LockRowUs}, {"statement.sync_wait_us", p.Statement.SyncWaitUs},
		{"commit.engine_us", p.Commit.EngineUs}, {"commit.redo_write_us", p.Commit.RedoWriteUs},
		{"commit.redo_fsync_us", p.Commit.RedoFsyncUs}, {"commit.binlog_write_us", p.Commit.BinlogWriteUs},
		{"commit.binlog_fsync_us", p.Commit.BinlogFsyncUs},
		{"replication.certify_us", p.Replication.CertifyUs}, {"replication.certify_wait_us", p.Replication.CertifyWaitUs},
		{"replication.certify_key_us", p.Replication.CertifyKeyUs},
		{"replication.apply_txn_us", p.Replication.ApplyTxnUs}, {"replication.apply_row_us", p.Replication.ApplyRowUs},
		{"replication.send_msg_us", p.Replication.SendMsgUs}, {"replication.send_kib_us", p.Replication.SendKiBUs},
		{"replication.recv_msg_us", p.Replication.RecvMsgUs}, {"replication.recv_kib_us", p.Replication.RecvKiBUs},
		{"replication.replica_ack_us", p.Replication.ReplicaAckUs}, {"replication.relay_write_us", p.Replication.RelayWriteUs},
		{"replication.group_commit_us", p.Replication.GroupCommitUs},
	}
	for _, x := range c {
		fn(x.n, x.v)
	}
}

//go:embed profiles
var builtin embed.FS

// Builtins lists the built-in profile names, sorted, "none" first.
func Builtins() []string {
	out := []string{None}
	ents, _ := builtin.ReadDir("profiles")
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return append(out, names...)
}

// Load returns a built-in profile by name, or reads a YAML file when nameOrFile names one
// (a path with a slash or a .yaml/.yml suffix). Unknown names, unreadable files, unknown
// fields and impossible values are one-line errors that say what is accepted.
func Load(nameOrFile string) (*Profile, error) {
	if nameOrFile == "" || nameOrFile == None {
		return &Profile{Name: None}, nil
	}
	isFile := strings.ContainsRune(nameOrFile, '/') || strings.HasSuffix(nameOrFile, ".yaml") || strings.HasSuffix(nameOrFile, ".yml")
	var data []byte
	var err error
	name := nameOrFile
	if isFile {
		data, err = os.ReadFile(nameOrFile)
		if err != nil {
			return nil, fmt.Errorf("cost profile %s: %v (accepted: a readable YAML file, or a built-in name: %s)", nameOrFile, errors.Unwrap(err), strings.Join(Builtins(), ", "))
		}
		name = strings.TrimSuffix(strings.TrimSuffix(path.Base(nameOrFile), ".yaml"), ".yml")
	} else {
		data, err = builtin.ReadFile("profiles/" + nameOrFile + ".yaml")
		if err != nil {
			return nil, fmt.Errorf("unknown cost profile %q (accepted: %s, or a YAML file)", nameOrFile, strings.Join(Builtins(), ", "))
		}
	}
	return Parse(name, data)
}

// Parse reads a profile from YAML; defaultName is used when the file has no name.
func Parse(defaultName string, data []byte) (*Profile, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var p Profile
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("cost profile %s: %s", defaultName, oneLine(err))
	}
	if p.Name == "" {
		p.Name = defaultName
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Marshal writes the profile as YAML, the form Load reads back.
func (p *Profile) Marshal() ([]byte, error) { return yaml.Marshal(p) }

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
