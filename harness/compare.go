package harness

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/replbench/replbench/results"
)

// CompareSchema names the format of compare.json.
const CompareSchema = "replbench-compare/v1"

// Comparison is `replbench compare`: the same points run on the model and on a real
// target, kept whole (Model, Real: two ordinary runs) and paired point by point (Rows).
// A ratio is real / model, so 1 is a model that predicted the real cluster; above 1 the
// real cluster is faster (throughput) or slower (latency) than the model said.
type Comparison struct {
	Schema        string       `json:"schema"`
	Scenario      string       `json:"scenario"`
	Target        string       `json:"target"` // the target file
	Kind          string       `json:"kind"`
	ServerVersion string       `json:"server_version,omitempty"`
	Rows          []CompareRow `json:"rows"`
	Model         *results.Run `json:"model"`
	Real          *results.Run `json:"real"`
}

// CompareRow is one point on both sides.
type CompareRow struct {
	Point       string           `json:"point"`
	ModelTPS    float64          `json:"model_tps"`
	RealTPS     float64          `json:"real_tps"`
	TPSRatio    float64          `json:"tps_ratio"`
	ModelMeanMs float64          `json:"model_mean_ms"`
	RealMeanMs  float64          `json:"real_mean_ms"`
	MeanRatio   float64          `json:"mean_ratio"`
	ModelP95Ms  float64          `json:"model_p95_ms"`
	RealP95Ms   float64          `json:"real_p95_ms"`
	P95Ratio    float64          `json:"p95_ratio"`
	ModelAborts map[string]int64 `json:"model_aborts"`
	RealAborts  map[string]int64 `json:"real_aborts"`
	// Status is the compared status variables summed over nodes ("model / real"): the
	// conflict and replication counters whose names both sides report.
	Status        map[string][2]float64 `json:"status,omitempty"`
	RealConverged bool                  `json:"real_converged"`
}

// CompareStatus are the status variables a comparison sets side by side (lower case; the
// model's names are compared case-insensitively). Model values are the providers' totals
// after the point; real values are deltas across the measured phase.
var CompareStatus = []string{"wsrep_local_cert_failures", "wsrep_local_bf_aborts", "wsrep_flow_control_sent",
	"rpl_semi_sync_master_yes_tx", "rpl_semi_sync_master_no_tx", "rpl_semi_sync_master_tx_waits", "innodb_deadlocks"}

// Compare pairs the points of a model run and a real run of the same scenario, in order.
func Compare(model, real *results.Run) []CompareRow {
	var rows []CompareRow
	for i := range model.Points {
		if i >= len(real.Points) {
			break
		}
		m, r := &model.Points[i], &real.Points[i]
		row := CompareRow{
			Point:    ComparePointLabel(m),
			ModelTPS: m.TPS, RealTPS: r.TPS, TPSRatio: ratio(r.TPS, m.TPS),
			ModelMeanMs: m.Latency.Mean, RealMeanMs: r.Latency.Mean, MeanRatio: ratio(r.Latency.Mean, m.Latency.Mean),
			ModelP95Ms: m.Latency.P95, RealP95Ms: r.Latency.P95, P95Ratio: ratio(r.Latency.P95, m.Latency.P95),
			ModelAborts: m.Aborts, RealAborts: r.Aborts, RealConverged: r.Converged,
		}
		ms, rs := sumStatus(m.Status), sumStatus(r.Status)
		for _, name := range CompareStatus {
			// Only the names the model's protocol reports: a MariaDB server reports the
			// semi-sync plugin's counters even in a Galera cluster.
			a, okA := ms[name]
			b := rs[name]
			if okA {
				if row.Status == nil {
					row.Status = map[string][2]float64{}
				}
				row.Status[name] = [2]float64{a, b}
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// ComparePointLabel names a point by what varies in a comparison: workload, writers,
// threads and the delayed nodes.
func ComparePointLabel(p *results.Point) string {
	var delays []string
	for _, n := range sortedKeys(p.Network.Egress) {
		if d := p.Network.Egress[n]; d > 0 {
			delays = append(delays, fmt.Sprintf("%s+%gms", n, d))
		}
	}
	net := "lan"
	if len(delays) > 0 {
		net = strings.Join(delays, ",")
	}
	return fmt.Sprintf("%s w=%s t=%d %s", p.Workload, strings.Join(p.Writers, ","), p.Threads, net)
}

// FormatAborts renders aborts by cause as "certification 12, bf_abort 3", or "-".
func FormatAborts(a map[string]int64) string {
	var parts []string
	for _, k := range sortedKeys(a) {
		if a[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, a[k]))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func sumStatus(st map[string]map[string]string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range st {
		for k, v := range m {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			out[strings.ToLower(k)] += x
		}
	}
	return out
}

func ratio(real, model float64) float64 {
	if model == 0 {
		return 0
	}
	return real / model
}
