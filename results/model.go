// Package results is the result model of a run and everything that shows it: the JSON
// (schema replbench/v1) and CSV files, go-pretty tables, plots, and the reference figures
// from the source documents that reproduced tables stand beside.
//
// The model is a plain data package at the bottom of the dependency graph, so that the
// harness can fill it and `replbench report` can re-render a run from its JSON file alone,
// without re-running anything.
package results

import (
	"encoding/json"
	"strconv"
)

// Schema is the value of Run.Schema. Bump the version when a field changes meaning.
const Schema = "replbench/v1"

// Run is one invocation: every point it measured, plus what is needed to reproduce it.
type Run struct {
	Schema   string `json:"schema"`
	Scenario string `json:"scenario,omitempty"`
	// Description is the scenario's question in one paragraph (its description: field);
	// Explain is its teaching text: the mechanism it shows and what to look for in the
	// results (its explain: field). Both are empty for runs written before they existed.
	Description string       `json:"description,omitempty"`
	Explain     string       `json:"explain,omitempty"`
	Seed        int64        `json:"seed"`
	StartedAt   string       `json:"started_at,omitempty"` // RFC 3339
	Environment *Environment `json:"environment,omitempty"`
	Points      []Point      `json:"points"`
	// Verdicts are the run-wide checker verdicts (a history checker over every point, say);
	// per-point verdicts are in Point.Verdicts. The report renders whatever is here.
	Verdicts []Verdict `json:"verdicts,omitempty"`
	// Warnings are the lines the run printed under its table (the emulator was late, a
	// point too short to measure, one that did not converge), kept so that the report and
	// `replbench report` show what the terminal showed.
	Warnings []string `json:"warnings,omitempty"`
}

// Verdict is one checker's finding, in a form every checker can fill and the report can
// render without knowing the checker: a name, an outcome, one line of detail, and
// optionally the evidence (an anomaly's transactions, a diverged row) as lines of text.
type Verdict struct {
	Checker string `json:"checker"`          // which checker ("elle-list-append", "bank-total", ...)
	Outcome string `json:"outcome"`          // VerdictPass, VerdictFail or VerdictUnknown
	Detail  string `json:"detail,omitempty"` // one line: what was checked or what broke
	// Evidence is what a reader needs to see the failure for themselves; a few lines.
	Evidence []string `json:"evidence,omitempty"`
}

// Verdict outcomes. Unknown is a checker that could not decide (the history was cut short,
// the checker's own limit was reached), which is neither a pass nor a failure.
const (
	VerdictPass    = "pass"
	VerdictFail    = "fail"
	VerdictUnknown = "unknown"
)

// Environment records where a run ran.
type Environment struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
	Bus       string `json:"bus"` // "nats-embedded", "nats://host:port", "memory"
}

// Point is one measured configuration: one protocol, network, workload and thread count.
type Point struct {
	Protocol  string            `json:"protocol"`
	Nodes     int               `json:"nodes"`
	Network   Network           `json:"network"`
	Workload  string            `json:"workload"`
	Options   map[string]string `json:"workload_options,omitempty"`
	Params    map[string]string `json:"params,omitempty"` // protocol and engine parameters set by the user
	Threads   int               `json:"threads"`
	Writers   []string          `json:"writers"`
	Queries   int64             `json:"queries,omitempty"`    // requested transactions (--queries), 0 for a timed run
	Duration  float64           `json:"duration_s,omitempty"` // requested run length (--duration), 0 for a counted run
	Repeat    int               `json:"repeat,omitempty"`     // 0-based repeat index within a scenario
	Committed int64             `json:"committed"`
	Aborts    map[string]int64  `json:"aborts"` // by protocols.Cause
	Retries   int64             `json:"retries"`
	// AutocommitRetries counts autocommit statements the server re-ran after a
	// certification failure (Galera's wsrep_retry_autocommit) without the client seeing it.
	AutocommitRetries int64   `json:"autocommit_retries,omitempty"`
	ElapsedS          float64 `json:"elapsed_s"`
	TPS               float64 `json:"tps"`
	Latency           Latency `json:"latency_ms"`
	// ByType is per transaction type latency and counts (TPC-C's five, sysbench's one, ...).
	ByType map[string]TypeStats `json:"by_type,omitempty"`
	// Metrics holds workload-specific figures (tpmC, tpmTotal, ...).
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Status holds each node's protocol status variables by their real names.
	Status map[string]map[string]string `json:"status,omitempty"`
	// Checks are the workload's end-of-run consistency conditions.
	Checks    map[string]bool `json:"checks,omitempty"`
	Converged bool            `json:"converged"`
	// ConvergenceDetail says what differed when Converged is false.
	ConvergenceDetail string `json:"convergence_detail,omitempty"`
	// Bound is the Callaghan's-law model of this point; Efficiency = measured / bound.
	Bound      *Bound   `json:"bound,omitempty"`
	Efficiency *float64 `json:"efficiency,omitempty"`
	// Reference is the published figure this point reproduces, when there is one.
	Reference *Reference `json:"reference,omitempty"`
	// Faults are the fault-timeline events as applied during the measured phase, each with
	// the time it fired ("5.000s partition n1,n2|n3").
	Faults []string `json:"faults,omitempty"`
	Notes  []string `json:"notes,omitempty"`
	// Series is the point's measured phase second by second (see Series); absent in files
	// written before it existed and for points that measured nothing.
	Series *Series `json:"series,omitempty"`
	// Verdicts are the checkers' findings on this point (see Verdict).
	Verdicts []Verdict `json:"verdicts,omitempty"`
	// Target is "real" for a point measured on real servers (replbench run --target), empty
	// for the model; ServerVersion is the writer's SELECT VERSION() and TargetSettings the
	// server settings the target file records (innodb_flush_log_at_trx_commit, ...).
	Target         string            `json:"target,omitempty"`
	ServerVersion  string            `json:"server_version,omitempty"`
	TargetSettings map[string]string `json:"target_settings,omitempty"`
	// Checkers is the history checkers' summary of this point, as harness/checker.Summary
	// writes it, under stable names: ok, linearizable (true, false or "unknown"),
	// lost_acknowledged (every acknowledged commit missing from a live node, with its GTID
	// or seqno), anomalies (count per class), consistent_with, not, and the full verdicts
	// with their witnesses. Kept as raw JSON here because results sits below the checkers.
	Checkers json.RawMessage `json:"checkers,omitempty"`
	// HistoryFile is the point's operation history in the run directory (history.jsonl).
	HistoryFile string `json:"history_file,omitempty"`
}

// Network describes the emulated network of a point and how precisely it was emulated.
type Network struct {
	Preset string             `json:"preset"`
	Egress map[string]float64 `json:"egress_ms,omitempty"` // per-node egress delay
	Links  map[string]float64 `json:"links_ms,omitempty"`  // "a-b": one-way delay each way
	Jitter string             `json:"jitter,omitempty"`
	Loss   float64            `json:"loss,omitempty"`
	// DelayError is how late the emulator delivered messages against their due time (never
	// early), so no result hides its own imprecision.
	DelayError *Percentiles `json:"delay_error_ms,omitempty"`
	// MeasuredRTT is, on a real target, the round trip measured through the delay proxy
	// ("client>n3", "n1>n3"; milliseconds, median of a TCP echo).
	MeasuredRTT map[string]float64 `json:"measured_rtt_ms,omitempty"`
}

// Percentiles is a pair of error percentiles in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
	N   int64   `json:"n"`
}

// Latency is a latency distribution in milliseconds (HdrHistogram, 3 significant figures).
type Latency struct {
	// Min is the fastest commit; omitted by files written before it was recorded, so a 0
	// with a non-zero mean means "not recorded".
	Min  float64 `json:"min,omitempty"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	// At holds the percentiles asked for with --percentile, keyed by PercentileKey
	// ("p99.9"); omitted when none were.
	At map[string]float64 `json:"at,omitempty"`
}

// PercentileKey names percentile q in Latency.At and in column heads: "p99.9", "p90".
func PercentileKey(q float64) string { return "p" + strconv.FormatFloat(q, 'f', -1, 64) }

// TypeStats is one transaction type's outcome.
type TypeStats struct {
	Committed int64   `json:"committed"`
	Aborted   int64   `json:"aborted"`
	Latency   Latency `json:"latency_ms"`
}

// Bound is the Callaghan's-law model of a point: the physical floor on commit latency that
// the network and the protocol impose, and what it implies for throughput. It is a model,
// not a measurement, and says how it was derived.
type Bound struct {
	CommitFloorMs float64 `json:"commit_floor_ms"` // lowest possible commit latency
	MaxTPS        float64 `json:"max_tps"`         // throughput bound for this thread count
	HotRowMaxTPS  float64 `json:"hot_row_max_tps"` // one modification of a given row per floor
	// Limit names what binds: "latency" (threads x 1/floor), "hot_row", "serialised",
	// "send_window" (Galera without aggregation), "cpu" (a node's cores under its cost profile)
	// "apply" (the slowest applier, through flow control) or "pipeline" (the commit
	// pipeline: MariaDB's AFTER_SYNC lock chain, Galera's send window on a far writer);
	// "none" when the model sets no network limit.
	Limit      string `json:"limit"`
	Derivation string `json:"derivation"` // one sentence: which path or quorum sets the floor
}

// Reference is a published figure a point reproduces.
type Reference struct {
	Source string  `json:"source"` // document and table
	Metric string  `json:"metric"` // e.g. "seconds per 500 inserts"
	Value  float64 `json:"value"`
	// Measured is this point's value of the same metric; Ratio = Measured / Value.
	Measured float64 `json:"measured"`
	Ratio    float64 `json:"ratio"`
}

// SetBound attaches the Callaghan's-law model to a point and sets Efficiency = TPS / the
// bound's MaxTPS. A bound with MaxTPS 0 means the model puts no network limit on throughput
// (async, standalone without sync), so Efficiency stays unset rather than being divided by
// zero: an efficiency against "no limit" would say nothing.
func (p *Point) SetBound(b *Bound) {
	p.Bound = b
	p.Efficiency = nil
	if b != nil && b.MaxTPS > 0 && p.TPS > 0 {
		e := p.TPS / b.MaxTPS
		p.Efficiency = &e
	}
}

// TotalAborts is the sum of the point's aborts over every cause.
func (p *Point) TotalAborts() int64 {
	var n int64
	for _, v := range p.Aborts {
		n += v
	}
	return n
}

// AbortRate is aborts / (committed + aborts): the share of attempts that failed, the figure
// certification studies plot against writers. 0 when nothing was attempted.
func (p *Point) AbortRate() float64 {
	a := p.TotalAborts()
	if a+p.Committed == 0 {
		return 0
	}
	return float64(a) / float64(a+p.Committed)
}
