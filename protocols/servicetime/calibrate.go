package servicetime

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Probe is one single-node measurement a calibration reads: a probe kind (ping,
// point_select, insert, update, commit: harness/target's probes) at a concurrency, with its
// mean latency, on a server of a given kind (standalone or galera) at an
// innodb_flush_log_at_trx_commit setting.
type Probe struct {
	Server string // "standalone" or "galera" (a one-member cluster)
	Flush  int    // innodb_flush_log_at_trx_commit
	// Session is, for the certification probe's rounds on a one-member galera, the
	// session setting the round ran with: "wsrep_on=1" (replicating) or "wsrep_on=0" (the
	// same server, data and buffer pool without wsrep); "" for every other probe.
	Session string
	Round   int // the certification probe's round (1..), 0 for every other probe
	Kind    string
	Clients int
	MeanUs  float64
	OpsSec  float64
}

// Probes is a set of measurements.
type Probes []Probe

// mean returns the c=1 mean latency of kind on server at flush, the median when the probes
// hold several runs of it (repeated calibration sessions read together), or an error naming
// it.
func (ps Probes) mean(server string, flush int, kind string) (float64, error) {
	var runs []float64
	for _, p := range ps {
		if p.Server == server && p.Session == "" && p.Flush == flush && p.Kind == kind && p.Clients == 1 {
			runs = append(runs, p.MeanUs)
		}
	}
	if len(runs) > 0 {
		return median(runs), nil
	}
	return 0, fmt.Errorf("calibrate: no %s probe at 1 client on %s with innodb_flush_log_at_trx_commit=%d (accepted input: harness/target probe lines under '== %s flush=%d' headers)", kind, server, flush, server, flush)
}

// saturated returns the highest client count at which both servers have a probe of kind
// at flush, with each one's throughput there (the median of several runs); ok is false
// when there is none above one client.
func (ps Probes) saturated(a, b string, flush int, kind string) (clients int, opsA, opsB float64, ok bool) {
	return highestCommon(ps.opsAt(a, flush, kind), ps.opsAt(b, flush, kind))
}

// opsAt is the throughput of kind on server at flush by client count (the median of
// several runs).
func (ps Probes) opsAt(server string, flush int, kind string) map[int]float64 {
	runs := map[int][]float64{}
	for _, p := range ps {
		if p.Server == server && p.Session == "" && p.Flush == flush && p.Kind == kind {
			runs[p.Clients] = append(runs[p.Clients], p.OpsSec)
		}
	}
	m := map[int]float64{}
	for c, xs := range runs {
		m[c] = median(xs)
	}
	return m
}

// highestCommon is the highest client count above one in both ma and mb, with both
// throughputs there.
func highestCommon(ma, mb map[int]float64) (clients int, opsA, opsB float64, ok bool) {
	for c, x := range ma {
		if y, both := mb[c]; both && c > 1 && c > clients && x > 0 && y > 0 {
			clients, opsA, opsB, ok = c, x, y, true
		}
	}
	return
}

var (
	probeHeader = regexp.MustCompile(`^==\s*(standalone|galera)(?:\s+wsrep_on=([01])\s+round=(\d+))?\s+flush=(\d)`)
	probeLine   = regexp.MustCompile(`^\S+\s+(ping|point_select|insert|update|commit)\s+c=(\d+)\s+(\d+(?:\.\d+)?) ops/s\s+mean\s+(\d+)us`)
)

// ParseProbes reads probe output as harness/target's TestProbe and calibrate --target print
// it (ProbeResult's String), sectioned by "== standalone flush=1" style headers, and the
// certification probe's rounds by "== galera wsrep_on=1 round=2 flush=2"; other lines are
// ignored.
func ParseProbes(r io.Reader) (Probes, error) {
	var out Probes
	server, flush, session, round := "", 0, "", 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := probeHeader.FindStringSubmatch(line); m != nil {
			server, session, round = m[1], "", 0
			if m[2] != "" {
				session = "wsrep_on=" + m[2]
				round, _ = strconv.Atoi(m[3])
			}
			flush, _ = strconv.Atoi(m[4])
			continue
		}
		m := probeLine.FindStringSubmatch(line)
		if m == nil || server == "" {
			continue
		}
		c, _ := strconv.Atoi(m[2])
		ops, _ := strconv.ParseFloat(m[3], 64)
		mean, _ := strconv.ParseFloat(m[4], 64)
		out = append(out, Probe{Server: server, Flush: flush, Session: session, Round: round, Kind: m[1], Clients: c, MeanUs: mean, OpsSec: ops})
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
//   - the statement figures split into CPU and wait: with a core count and probes above one
//     client, each statement's CPU is the utilisation law's at the highest client count
//     every probe ran at (statementCPU), at most its one-client figure, and the rest of the
//     one-client figure is its *_wait_us (on an idle VM mostly the vCPU's wake-up: a
//     one-client point select can be slower than each of four concurrent ones);
//   - commit.redo_fsync_us: the autocommit insert at flush=1 less at flush=2 (one fsync);
//   - for server "galera" with the certification probe's rounds (calibrate --target on a
//     one-member cluster): what wsrep adds to one commit is the median over the rounds of
//     the c=1 insert mean in wsrep_on=1 sessions less in wsrep_on=0 sessions on the same
//     server; its CPU part is the median of cores x (1/X_on - 1/X_off) at the rounds'
//     highest client count, at most the difference (replication.certify_us), the rest
//     the wait (replication.certify_wait_us);
//   - for server "galera" without them (older probe files), what wsrep adds to one commit,
//     the insert on a one-member cluster less the standalone insert, both at flush=2 (a
//     second server, so the machine's drift between the two falls in the difference; the
//     write-set, the gcs send and self-delivery, certification, the monitors), split into
//     the CPU it takes and the time the committing thread only waits (at one client
//     nothing contends, but the write-set goes to the gcs threads and the session sleeps
//     until its own delivery wakes it). The CPU part comes from the same probes at the highest client count both
//     servers were probed at, where the host is saturated: there each server's throughput
//     is cores / its CPU per commit (the utilisation law), and everything the two do alike
//     (the statement, the protocol, the client's own CPU) cancels in the difference, so
//     replication.certify_us = cores x (1/X_galera - 1/X_standalone), at most the c=1
//     difference; replication.certify_wait_us is the rest of the c=1 difference. Without
//     a core count or a probe above one client, it is all counted as CPU. And
//     replication.apply_row_us: an applied row costs the insert's engine work without its
//     statement parsing, taken as the insert's CPU.
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
		st := &p.Statement
		st.SelectUs = pos(get("standalone", 2, "point_select") - rtt)
		st.InsertUs = pos(ins)
		st.UpdateUs = pos(upd)
		st.DeleteUs = pos(upd)
		st.OtherUs = pos((get("standalone", 2, "commit") - get("standalone", 2, "update") - 2*rtt) / 2)
		p.Commit.RedoFsyncUs = pos(get("standalone", 1, "insert") - get("standalone", 2, "insert"))
		src := fmt.Sprintf("standalone c=1 means (us): ping %.0f, point_select %.0f, insert %.0f (flush=1: %.0f), update %.0f, commit %.0f",
			rtt, get("standalone", 2, "point_select"), get("standalone", 2, "insert"), get("standalone", 1, "insert"), get("standalone", 2, "update"), get("standalone", 2, "commit"))
		if split, ok := ps.statementCPU(cores); ok {
			cpuWait := func(total *float64, wait *float64, cpu float64) {
				c := math.Min(*total, pos(cpu))
				*total, *wait = c, *total-c
			}
			cpuWait(&st.SelectUs, &st.SelectWaitUs, split.kind["point_select"])
			cpuWait(&st.InsertUs, &st.InsertWaitUs, split.kind["insert"])
			cpuWait(&st.UpdateUs, &st.UpdateWaitUs, split.kind["update"])
			cpuWait(&st.DeleteUs, &st.DeleteWaitUs, split.kind["update"])
			cpuWait(&st.OtherUs, &st.OtherWaitUs, split.kind["other"])
			src += fmt.Sprintf("; CPU by the utilisation law at c=%d, %d cores x (1/X_kind - 1/X_ping) s (us): point_select %.0f, insert %.0f, update %.0f, BEGIN/COMMIT %.0f (c=%d ops/s: ping %.0f, point_select %.0f, insert %.0f, update %.0f, commit %.0f)",
				split.clients, cores, split.kind["point_select"], split.kind["insert"], split.kind["update"], split.kind["other"], split.clients,
				split.ops["ping"], split.ops["point_select"], split.ops["insert"], split.ops["update"], split.ops["commit"])
		}
		if server == "galera" {
			p.Replication.ApplyRowUs = st.InsertUs
		}
		if server == "galera" && ps.hasCertRounds() {
			cr, err := ps.certRounds(cores)
			if err != nil {
				return nil, err
			}
			added := pos(cr.added)
			p.Replication.CertifyUs = added
			src += fmt.Sprintf("; certification probe on a one-member galera at flush=2, %d rounds of session wsrep_on=1 then 0: insert c=1 mean differences (us) %s, median %.0f", len(cr.diffs), fmtUs(cr.diffs), cr.added)
			if len(cr.cpus) > 0 {
				cpu := math.Min(added, pos(cr.cpu))
				p.Replication.CertifyUs, p.Replication.CertifyWaitUs = cpu, added-cpu
				src += fmt.Sprintf("; CPU of wsrep per commit at c=%d = %d cores x (1/X_on - 1/X_off) s: %s, median %.0f", cr.clients, cores, fmtUs(cr.cpus), cr.cpu)
			}
		} else if server == "galera" {
			g := get("galera", 2, "insert")
			added := pos(g - get("standalone", 2, "insert"))
			p.Replication.CertifyUs = added
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

// Renumber shifts the certification probe's rounds of ps past every round of prev, so that
// the rounds of several sessions read together stay apart (calibrate --from A,B).
func (ps Probes) Renumber(prev Probes) {
	last := 0
	for _, p := range prev {
		last = max(last, p.Round)
	}
	for i := range ps {
		if ps[i].Round > 0 {
			ps[i].Round += last
		}
	}
}

// statementSplit is the statements' CPU by the utilisation law: at the highest client
// count at which every standalone probe ran at flush=2 the host is saturated, each probe's
// throughput is cores / its CPU per operation, and a statement's CPU is its probe's less
// the ping's (the client, the protocol and the round trip's own CPU cancel), BEGIN and
// COMMIT's half of the transaction probe less the update and two pings.
type statementSplit struct {
	clients int
	ops     map[string]float64 // probe kind -> ops/s at clients
	kind    map[string]float64 // point_select, insert, update, other -> CPU us
}

// statementCPU is the split, ok false without cores or a common client count above one.
func (ps Probes) statementCPU(cores int) (statementSplit, bool) {
	sp := statementSplit{ops: map[string]float64{}, kind: map[string]float64{}}
	if cores <= 0 {
		return sp, false
	}
	kinds := []string{"ping", "point_select", "insert", "update", "commit"}
	common := ps.opsAt("standalone", 2, "ping")
	for _, k := range kinds[1:] {
		at := ps.opsAt("standalone", 2, k)
		for c := range common {
			if at[c] <= 0 {
				delete(common, c)
			}
		}
	}
	for c, x := range common {
		if c > 1 && c > sp.clients && x > 0 {
			sp.clients = c
		}
	}
	if sp.clients == 0 {
		return sp, false
	}
	us := map[string]float64{}
	for _, k := range kinds {
		sp.ops[k] = ps.opsAt("standalone", 2, k)[sp.clients]
		us[k] = float64(cores) / sp.ops[k] * 1e6
	}
	for _, k := range []string{"point_select", "insert", "update"} {
		sp.kind[k] = us[k] - us["ping"]
	}
	sp.kind["other"] = (us["commit"] - us["update"] - 2*us["ping"]) / 2
	return sp, true
}

// hasCertRounds says whether ps holds the certification probe's rounds (calibrate
// --target on a one-member galera writes them).
func (ps Probes) hasCertRounds() bool {
	for _, p := range ps {
		if p.Session != "" {
			return true
		}
	}
	return false
}

// certification is what the certification probe's rounds give: per round, the c=1 insert
// mean with wsrep_on=1 less with wsrep_on=0 (what replication adds to one commit on the
// same server), and the CPU that adds by the utilisation law at the highest client count
// both halves of the round ran (cores x (1/X_on - 1/X_off)); the medians over the rounds,
// which alternate so that a drift of the machine falls on both halves alike.
type certification struct {
	diffs, cpus []float64
	added, cpu  float64
	clients     int
}

func (ps Probes) certRounds(cores int) (certification, error) {
	var cr certification
	type key struct {
		round   int
		session string
		clients int
	}
	at := map[key]Probe{}
	rounds := map[int]bool{}
	for _, p := range ps {
		if p.Server == "galera" && p.Session != "" && p.Kind == "insert" && p.Flush == 2 {
			at[key{p.Round, p.Session, p.Clients}] = p
			rounds[p.Round] = true
		}
	}
	for _, r := range slices.Sorted(maps.Keys(rounds)) {
		on, ok1 := at[key{r, "wsrep_on=1", 1}]
		off, ok0 := at[key{r, "wsrep_on=0", 1}]
		if !ok1 || !ok0 {
			continue
		}
		cr.diffs = append(cr.diffs, on.MeanUs-off.MeanUs)
		best := 0
		for k := range at {
			if _, both := at[key{r, "wsrep_on=0", k.clients}]; k.round == r && k.session == "wsrep_on=1" && k.clients > 1 && both && k.clients > best {
				best = k.clients
			}
		}
		if best > 0 && cores > 0 {
			xon, xoff := at[key{r, "wsrep_on=1", best}].OpsSec, at[key{r, "wsrep_on=0", best}].OpsSec
			if xon > 0 && xoff > 0 {
				cr.cpus = append(cr.cpus, float64(cores)*(1/xon-1/xoff)*1e6)
				cr.clients = best
			}
		}
	}
	if len(cr.diffs) == 0 {
		return cr, fmt.Errorf("calibrate: the certification probe has no round with both wsrep_on=1 and wsrep_on=0 inserts at 1 client at flush=2 (accepted input: calibrate --target on a one-member galera writes them under '== galera wsrep_on=1 round=1 flush=2' headers)")
	}
	cr.added, cr.cpu = median(cr.diffs), median(cr.cpus)
	return cr, nil
}

// median is the middle value (the mean of the two middle ones for an even count); 0 for
// none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Sorted(slices.Values(xs))
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

func fmtUs(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strings.Join(parts, ", ")
}
