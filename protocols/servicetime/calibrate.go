package servicetime

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Probe is one single-node measurement a calibration reads: a probe kind (ping,
// point_select, insert, update, commit: harness/target's probes) at a concurrency, with its
// mean latency, on a server of a given kind (standalone or galera) at an
// innodb_flush_log_at_trx_commit setting.
type Probe struct {
	Server  string // "standalone" or "galera" (a one-member cluster)
	Flush   int    // innodb_flush_log_at_trx_commit
	Kind    string
	Clients int
	MeanUs  float64
	OpsSec  float64
}

// Probes is a set of measurements.
type Probes []Probe

// mean returns the c=1 mean latency of kind on server at flush, or an error naming it.
func (ps Probes) mean(server string, flush int, kind string) (float64, error) {
	for _, p := range ps {
		if p.Server == server && p.Flush == flush && p.Kind == kind && p.Clients == 1 {
			return p.MeanUs, nil
		}
	}
	return 0, fmt.Errorf("calibrate: no %s probe at 1 client on %s with innodb_flush_log_at_trx_commit=%d (accepted input: harness/target probe lines under '== %s flush=%d' headers)", kind, server, flush, server, flush)
}

// saturated returns the highest client count at which both servers have a probe of kind
// at flush, with each one's throughput there; ok is false when there is none above one
// client.
func (ps Probes) saturated(a, b string, flush int, kind string) (clients int, opsA, opsB float64, ok bool) {
	at := func(server string) map[int]float64 {
		m := map[int]float64{}
		for _, p := range ps {
			if p.Server == server && p.Flush == flush && p.Kind == kind {
				m[p.Clients] = p.OpsSec
			}
		}
		return m
	}
	ma, mb := at(a), at(b)
	for c, x := range ma {
		if y, both := mb[c]; both && c > 1 && c > clients && x > 0 && y > 0 {
			clients, opsA, opsB, ok = c, x, y, true
		}
	}
	return
}

var (
	probeHeader = regexp.MustCompile(`^==\s*(standalone|galera)\s+flush=(\d)`)
	probeLine   = regexp.MustCompile(`^\S+\s+(ping|point_select|insert|update|commit)\s+c=(\d+)\s+(\d+(?:\.\d+)?) ops/s\s+mean\s+(\d+)us`)
)

// ParseProbes reads probe output as harness/target's TestProbe prints it (ProbeResult's
// String), sectioned by "== standalone flush=1" style headers; other lines are ignored.
func ParseProbes(r io.Reader) (Probes, error) {
	var out Probes
	server, flush := "", 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := probeHeader.FindStringSubmatch(line); m != nil {
			server = m[1]
			flush, _ = strconv.Atoi(m[2])
			continue
		}
		m := probeLine.FindStringSubmatch(line)
		if m == nil || server == "" {
			continue
		}
		c, _ := strconv.Atoi(m[2])
		ops, _ := strconv.ParseFloat(m[3], 64)
		mean, _ := strconv.ParseFloat(m[4], 64)
		out = append(out, Probe{Server: server, Flush: flush, Kind: m[1], Clients: c, MeanUs: mean, OpsSec: ops})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("calibrate: no probe lines found (accepted input: harness/target probe lines under '== standalone flush=1' style headers)")
	}
	return out, nil
}

// Calibrate derives a cost profile from single-node measurements on one host with no added
// delay; it never reads a multi-node or delayed result, which are what the profile must
// predict. Uncontended (one client) means give the service times:
//   - client.statement_rtt_us: COM_PING (the round trip and protocol cost alone);
//   - statement.select_us: a point select less the round trip;
//   - statement.insert_us, statement.update_us: an autocommit insert or update at
//     innodb_flush_log_at_trx_commit=2 less the round trip (so they include the in-memory
//     commit and the redo write to the OS; commit.engine_us and commit.redo_write_us stay 0);
//   - statement.other_us: BEGIN and COMMIT, half of (BEGIN; UPDATE; COMMIT) less the
//     autocommit update and two more round trips;
//   - commit.redo_fsync_us: the autocommit insert at flush=1 less at flush=2 (one fsync);
//   - for server "galera", what wsrep adds to one commit, the insert on a one-member
//     cluster less the standalone insert, both at flush=2 (the write-set, the gcs send and
//     self-delivery, certification, the monitors), split into the CPU it takes and the
//     time the committing thread only waits (at one client nothing contends, but the
//     write-set goes to the gcs threads and the session sleeps until its own delivery
//     wakes it). The CPU part comes from the same probes at the highest client count both
//     servers were probed at, where the host is saturated: there each server's throughput
//     is cores / its CPU per commit (the utilisation law), and everything the two do alike
//     (the statement, the protocol, the client's own CPU) cancels in the difference, so
//     replication.certify_us = cores x (1/X_galera - 1/X_standalone), at most the c=1
//     difference; replication.certify_wait_us is the rest of the c=1 difference. Without
//     a core count or a probe above one client, it is all counted as CPU. And
//     replication.apply_row_us: an applied row costs the insert's engine work without its
//     statement parsing, taken as the insert cost.
//
// cores is the host's core count.
func Calibrate(name, server string, ps Probes, cores int) (*Profile, error) {
	if server != "standalone" && server != "galera" {
		return nil, fmt.Errorf("calibrate: server %q (accepted: standalone, galera)", server)
	}
	var first error
	get := func(srv string, flush int, kind string) float64 {
		v, err := ps.mean(srv, flush, kind)
		if err != nil && first == nil {
			first = err
		}
		return v
	}
	var p *Profile
	{
		rtt := get("standalone", 2, "ping")
		pos := func(v float64) float64 { return math.Max(0, math.Round(v)) }
		ins := get("standalone", 2, "insert") - rtt
		upd := get("standalone", 2, "update") - rtt
		p = &Profile{Name: name, Flavor: "mariadb-10.11", Host: HostCosts{Cores: cores}}
		p.Client.StatementRTTUs = pos(rtt)
		p.Statement.SelectUs = pos(get("standalone", 2, "point_select") - rtt)
		p.Statement.InsertUs = pos(ins)
		p.Statement.UpdateUs = pos(upd)
		p.Statement.DeleteUs = pos(upd)
		p.Statement.OtherUs = pos((get("standalone", 2, "commit") - get("standalone", 2, "update") - 2*rtt) / 2)
		p.Commit.RedoFsyncUs = pos(get("standalone", 1, "insert") - get("standalone", 2, "insert"))
		src := fmt.Sprintf("standalone c=1 means (us): ping %.0f, point_select %.0f, insert %.0f (flush=1: %.0f), update %.0f, commit %.0f",
			rtt, get("standalone", 2, "point_select"), get("standalone", 2, "insert"), get("standalone", 1, "insert"), get("standalone", 2, "update"), get("standalone", 2, "commit"))
		if server == "galera" {
			g := get("galera", 2, "insert")
			added := pos(g - get("standalone", 2, "insert"))
			p.Replication.CertifyUs = added
			p.Replication.ApplyRowUs = pos(ins)
			src += fmt.Sprintf("; one-member galera insert %.0f", g)
			if c, xg, xs, ok := ps.saturated("galera", "standalone", 2, "insert"); ok && cores > 0 {
				cpu := math.Min(added, pos(float64(cores)*(1/xg-1/xs)*1e6))
				p.Replication.CertifyUs, p.Replication.CertifyWaitUs = cpu, added-cpu
				src += fmt.Sprintf("; c=%d insert ops/s galera %.0f, standalone %.0f (CPU of wsrep per commit = %d cores x (1/%.0f - 1/%.0f) s)", c, xg, xs, cores, xg, xs)
			}
		}
		p.Measured = "replbench calibrate from single-node probes, one host, no delay: " + src
	}
	if first != nil {
		return nil, first
	}
	return p, p.Validate()
}
