package results

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/replbench/replbench/protocols"
)

// Stdout is the path that means "standard output" to WriteJSON and CheckWritable, as "-"
// does to most Unix tools (`--json -`).
const Stdout = "-"

// WriteJSON writes run to path as indented JSON with schema replbench/v1; path "-" (Stdout)
// writes it to standard output. A file is written beside its final name and renamed into
// place (WriteFileAtomic), so a reader never sees half a result and an interrupted run
// leaves the previous file intact. An empty Run.Schema is filled in; a different one is
// refused, since this code only knows how to write v1.
func WriteJSON(path string, run *Run) error {
	b, err := encodeJSON(run)
	if err != nil {
		return fmt.Errorf("results: encoding %s: %w", path, err)
	}
	if path == Stdout {
		if _, err := os.Stdout.Write(b); err != nil {
			return fmt.Errorf("results: writing the results to standard output: %w", err)
		}
		return nil
	}
	return WriteFileAtomic(path, b)
}

// WriteJSONTo writes run as WriteJSON does, to w (a pipe, a buffer, an HTTP response).
func WriteJSONTo(w io.Writer, run *Run) error {
	b, err := encodeJSON(run)
	if err != nil {
		return fmt.Errorf("results: encoding the results: %w", err)
	}
	_, err = w.Write(b)
	return err
}

func encodeJSON(run *Run) ([]byte, error) {
	if run == nil {
		return nil, errors.New("WriteJSON needs a run, got nil")
	}
	r := *run
	if r.Schema == "" {
		r.Schema = Schema
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("run has schema %q, this build writes %q only", r.Schema, Schema)
	}
	if r.Points == nil {
		r.Points = []Point{}
	}
	for i := range r.Points {
		if err := checkFinite(&r.Points[i]); err != nil {
			return nil, fmt.Errorf("point %d (%s): %w", i, r.Points[i].Protocol, err)
		}
	}
	b, err := json.MarshalIndent(&r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// checkFinite rejects NaN and infinities, which JSON cannot carry: a producer that computes
// one has a bug (a division by a zero elapsed time, an unbounded bound) worth naming.
func checkFinite(p *Point) error {
	vals := map[string]float64{
		"elapsed_s": p.ElapsedS, "tps": p.TPS, "duration_s": p.Duration,
		"latency_ms.mean": p.Latency.Mean, "latency_ms.p50": p.Latency.P50, "latency_ms.p95": p.Latency.P95,
		"latency_ms.p99": p.Latency.P99, "latency_ms.p999": p.Latency.P999, "latency_ms.max": p.Latency.Max,
	}
	if p.Bound != nil {
		vals["bound.commit_floor_ms"] = p.Bound.CommitFloorMs
		vals["bound.max_tps"] = p.Bound.MaxTPS
		vals["bound.hot_row_max_tps"] = p.Bound.HotRowMaxTPS
	}
	if p.Efficiency != nil {
		vals["efficiency"] = *p.Efficiency
	}
	for k, v := range p.Metrics {
		vals["metrics."+k] = v
	}
	if p.Series != nil {
		for i, s := range p.Series.Samples {
			k := fmt.Sprintf("series.samples[%d].", i)
			vals[k+"tps"], vals[k+"t_s"], vals[k+"fc_paused_ms"] = s.TPS, s.T, s.FCPausedMs
			vals[k+"latency_ms.mean"], vals[k+"latency_ms.max"] = s.Latency.Mean, s.Latency.Max
		}
	}
	for k, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("field %s is %v, which JSON cannot hold: use 0 for \"none\"", k, v)
		}
	}
	return nil
}

// WriteFileAtomic writes data to path through a temporary file in the same directory that
// is synced and renamed into place, so that a reader (a dashboard polling results.json, the
// next `replbench report`) sees the old file or the new one, never a torn one, and a run
// killed mid-write leaves no half file under the real name. The file is mode 0644. Every
// results file goes through it.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("results: cannot write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("results: writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("results: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("results: writing %s: %w", path, err)
	}
	return nil
}

// CheckWritable checks, before anything runs, that a results file can be written at path:
// "-" (standard output) always can; otherwise path must not be a directory or a special file
// (a device would be replaced by the rename, not written to), its parent directory must
// exist, and a file must be creatable there (which is what WriteFileAtomic does, so a
// read-only file system, /proc or a missing permission fails here, not after the run). The
// error is one line that names the path and what is accepted; the probe file it creates is
// removed.
func CheckWritable(path string) error {
	if path == Stdout {
		return nil
	}
	if strings.TrimSpace(path) == "" {
		return errors.New("empty path (accepted: a file name such as out/results.json, or - for standard output)")
	}
	if st, err := os.Stat(path); err == nil {
		if st.IsDir() {
			return fmt.Errorf("%s is a directory (accepted: a file name such as %s, or - for standard output)", path, filepath.Join(path, "results.json"))
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file (accepted: a new or existing regular file, or - for standard output)", path)
		}
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("cannot write %s: directory %s does not exist (create it first, or give a path in an existing directory)", path, dir)
	}
	if !st.IsDir() {
		return fmt.Errorf("cannot write %s: %s is not a directory", path, dir)
	}
	return probeDir(dir, path)
}

// CheckWritableDir checks that dir can hold run directories: an existing directory where a
// file can be created, or a path whose nearest existing ancestor is such a directory (it is
// created by the run). Use it for --out and --data-dir before anything runs.
func CheckWritableDir(dir string) error {
	if strings.TrimSpace(dir) == "" {
		return errors.New("empty directory name (accepted: a directory that exists or can be created)")
	}
	d := filepath.Clean(dir)
	for {
		st, err := os.Stat(d)
		if err == nil {
			if !st.IsDir() {
				if d == filepath.Clean(dir) {
					return fmt.Errorf("%s is a file, not a directory (accepted: a directory that exists or can be created)", dir)
				}
				return fmt.Errorf("cannot create %s: %s is a file, not a directory", dir, d)
			}
			return probeDir(d, dir)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return fmt.Errorf("cannot create %s: no existing parent directory", dir)
		}
		d = parent
	}
}

// probeDir creates and removes a temporary file in dir; what is the name the user gave.
func probeDir(dir, what string) error {
	f, err := os.CreateTemp(dir, ".replbench-probe-*")
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("cannot write %s: creating a file in %s fails: %v (accepted: a path in a writable directory)", what, dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// ReadJSON reads a results file and checks that it is schema replbench/v1, so that a report
// never renders a file it would misread. Unknown fields are ignored: a newer writer may add
// fields without changing the meaning of the old ones (that is what a schema bump is for).
func ReadJSON(path string) (*Run, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read results file: %w", err)
	}
	var probe struct {
		Schema *string          `json:"schema"`
		Points *json.RawMessage `json:"points"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%s is not a replbench results file: %v", path, err)
	}
	if probe.Schema == nil {
		return nil, fmt.Errorf("%s has no \"schema\" field: not a replbench results file (want %q)", path, Schema)
	}
	if *probe.Schema != Schema {
		return nil, fmt.Errorf("%s has schema %q; this build reads %q only (re-run it, or use the replbench version that wrote it)", path, *probe.Schema, Schema)
	}
	if probe.Points == nil {
		return nil, fmt.Errorf("%s has no \"points\" field: the run wrote no results", path)
	}
	var run Run
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&run); err != nil {
		return nil, fmt.Errorf("%s does not match schema %s: %v", path, Schema, err)
	}
	for i, p := range run.Points {
		if p.Protocol == "" {
			return nil, fmt.Errorf("%s: point %d has no protocol", path, i)
		}
		if p.Threads < 0 || p.Nodes < 0 || p.Committed < 0 {
			return nil, fmt.Errorf("%s: point %d (%s) has a negative count", path, i, p.Protocol)
		}
	}
	return &run, nil
}

// CSVColumns is the fixed part of the CSV header, in order: the JSON fields of a point,
// flattened with dots ("latency_ms.p99", "aborts.certification"). Every cause in
// protocols.Causes has a column whether or not it occurred, so files from different runs
// line up in a spreadsheet. Maps whose keys vary by protocol and workload (status
// variables, metrics, checks, parameters, workload options, per-type stats) follow as
// extra columns named by their path ("status.n1.wsrep_local_cert_failures"), sorted.
func CSVColumns() []string {
	cols := []string{"scenario", "seed", "repeat", "protocol", "nodes",
		"network.preset", "network.egress_ms", "network.links_ms", "network.jitter", "network.loss",
		"network.delay_error_ms.p50", "network.delay_error_ms.p99", "network.delay_error_ms.max",
		"workload", "threads", "writers", "queries", "duration_s", "committed"}
	for _, c := range protocols.Causes {
		cols = append(cols, "aborts."+string(c))
	}
	cols = append(cols, "retries", "autocommit_retries", "elapsed_s", "tps",
		"latency_ms.mean", "latency_ms.p50", "latency_ms.p95", "latency_ms.p99", "latency_ms.p999", "latency_ms.max",
		"converged", "convergence_detail",
		"bound.commit_floor_ms", "bound.max_tps", "bound.hot_row_max_tps", "bound.limit", "bound.derivation",
		"efficiency", "reference.source", "reference.metric", "reference.value", "reference.measured", "reference.ratio",
		"faults", "notes")
	return cols
}

// WriteCSV writes one row per point with the columns of CSVColumns plus the variable ones.
// Empty cells mean "not measured" or "not applicable", never zero.
func WriteCSV(path string, run *Run) error {
	if run == nil {
		return errors.New("results: WriteCSV needs a run, got nil")
	}
	fixed := CSVColumns()
	extraSet := map[string]bool{}
	rows := make([]map[string]string, len(run.Points))
	for i := range run.Points {
		rows[i] = flatten(run, &run.Points[i])
		for k := range rows[i] {
			extraSet[k] = true
		}
	}
	for _, c := range fixed {
		delete(extraSet, c)
	}
	extra := make([]string, 0, len(extraSet))
	for k := range extraSet {
		extra = append(extra, k)
	}
	sort.Strings(extra)
	header := append(append([]string{}, fixed...), extra...)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(header); err != nil {
		return err
	}
	for _, r := range rows {
		rec := make([]string, len(header))
		for j, h := range header {
			rec[j] = r[h]
		}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("results: encoding %s: %w", path, err)
	}
	return WriteFileAtomic(path, buf.Bytes())
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// kvList renders a map as "k=v;k=v" sorted by key: one cell for a small map whose keys are
// node or link names.
func kvList(m map[string]float64) string {
	keys := sortedKeys(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + ftoa(m[k])
	}
	return strings.Join(parts, ";")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func flatten(run *Run, p *Point) map[string]string {
	r := map[string]string{
		"scenario":           run.Scenario,
		"seed":               strconv.FormatInt(run.Seed, 10),
		"repeat":             strconv.Itoa(p.Repeat),
		"protocol":           p.Protocol,
		"nodes":              strconv.Itoa(p.Nodes),
		"network.preset":     p.Network.Preset,
		"network.egress_ms":  kvList(p.Network.Egress),
		"network.links_ms":   kvList(p.Network.Links),
		"network.jitter":     p.Network.Jitter,
		"workload":           p.Workload,
		"threads":            strconv.Itoa(p.Threads),
		"writers":            strings.Join(p.Writers, ";"),
		"committed":          strconv.FormatInt(p.Committed, 10),
		"retries":            strconv.FormatInt(p.Retries, 10),
		"elapsed_s":          ftoa(p.ElapsedS),
		"tps":                ftoa(p.TPS),
		"latency_ms.mean":    ftoa(p.Latency.Mean),
		"latency_ms.p50":     ftoa(p.Latency.P50),
		"latency_ms.p95":     ftoa(p.Latency.P95),
		"latency_ms.p99":     ftoa(p.Latency.P99),
		"latency_ms.p999":    ftoa(p.Latency.P999),
		"latency_ms.max":     ftoa(p.Latency.Max),
		"converged":          strconv.FormatBool(p.Converged),
		"convergence_detail": p.ConvergenceDetail,
		"faults":             strings.Join(p.Faults, "; "),
		"notes":              strings.Join(p.Notes, " | "),
	}
	if p.AutocommitRetries != 0 {
		r["autocommit_retries"] = strconv.FormatInt(p.AutocommitRetries, 10)
	}
	if p.Network.Loss != 0 {
		r["network.loss"] = ftoa(p.Network.Loss)
	}
	if d := p.Network.DelayError; d != nil {
		r["network.delay_error_ms.p50"] = ftoa(d.P50)
		r["network.delay_error_ms.p99"] = ftoa(d.P99)
		r["network.delay_error_ms.max"] = ftoa(d.Max)
	}
	if p.Queries != 0 {
		r["queries"] = strconv.FormatInt(p.Queries, 10)
	}
	if p.Duration != 0 {
		r["duration_s"] = ftoa(p.Duration)
	}
	for _, c := range protocols.Causes {
		r["aborts."+string(c)] = strconv.FormatInt(p.Aborts[string(c)], 10)
	}
	for c, n := range p.Aborts { // a cause this build does not list still gets its column
		r["aborts."+c] = strconv.FormatInt(n, 10)
	}
	if b := p.Bound; b != nil {
		r["bound.commit_floor_ms"] = ftoa(b.CommitFloorMs)
		r["bound.max_tps"] = ftoa(b.MaxTPS)
		r["bound.hot_row_max_tps"] = ftoa(b.HotRowMaxTPS)
		r["bound.limit"] = b.Limit
		r["bound.derivation"] = b.Derivation
	}
	if p.Efficiency != nil {
		r["efficiency"] = ftoa(*p.Efficiency)
	}
	if ref := p.Reference; ref != nil {
		r["reference.source"] = ref.Source
		r["reference.metric"] = ref.Metric
		r["reference.value"] = ftoa(ref.Value)
		r["reference.measured"] = ftoa(ref.Measured)
		r["reference.ratio"] = ftoa(ref.Ratio)
	}
	for k, v := range p.Options {
		r["workload_options."+k] = v
	}
	for k, v := range p.Params {
		r["params."+k] = v
	}
	for k, v := range p.Metrics {
		r["metrics."+k] = ftoa(v)
	}
	for k, v := range p.Checks {
		r["checks."+k] = strconv.FormatBool(v)
	}
	for node, vars := range p.Status {
		for k, v := range vars {
			r["status."+node+"."+k] = v
		}
	}
	for t, s := range p.ByType {
		r["by_type."+t+".committed"] = strconv.FormatInt(s.Committed, 10)
		r["by_type."+t+".aborted"] = strconv.FormatInt(s.Aborted, 10)
		r["by_type."+t+".latency_ms.p50"] = ftoa(s.Latency.P50)
		r["by_type."+t+".latency_ms.p95"] = ftoa(s.Latency.P95)
		r["by_type."+t+".latency_ms.p99"] = ftoa(s.Latency.P99)
	}
	return r
}
