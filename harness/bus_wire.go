package harness

import (
	"fmt"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/replbench/replbench/protocols"
)

// wireStats is the merged clientStats of one node's clients as it travels from a node
// process to the coordinator: the histograms in HdrHistogram's compressed V2 encoding
// (lossless, a few hundred bytes where the raw counts are 100 KiB), the counters as they
// are. Merging first is exact (histograms and counters add), and it keeps one message per
// node however many clients it runs. The per-interval figures stay behind: the
// coordinator records no per-second series for external nodes.
type wireStats struct {
	All       []byte              `json:"all"`
	ByType    map[string]wireType `json:"by_type,omitempty"`
	Aborts    map[string]int64    `json:"aborts,omitempty"`
	Retries   int64               `json:"retries"`
	ServerRe  int64               `json:"server_retries"`
	Committed int64               `json:"committed"`
	Failed    int64               `json:"failed"`
	FirstErr  map[string]string   `json:"first_errors,omitempty"`
}

type wireType struct {
	Hist      []byte `json:"hist"`
	Committed int64  `json:"committed"`
	Aborted   int64  `json:"aborted"`
}

// encodeStats merges the clients' statistics into one wireStats.
func encodeStats(stats []*clientStats) *wireStats { return encodeStatsInterval(stats, nil) }

// encodeStatsInterval is encodeStats that also drains each client's interval figures
// into iv (nil: leaves them), under the same lock as its totals, so that a report's
// totals and its interval cover exactly the same transactions.
func encodeStatsInterval(stats []*clientStats, iv *wireInterval) *wireStats {
	m := newClientStats()
	var ivh *hdr.Histogram
	causes := map[protocols.Cause]int64{}
	if iv != nil {
		ivh = newHist()
	}
	for _, s := range stats {
		s.mu.Lock()
		if iv != nil {
			ivh.Merge(s.ivHist)
			s.ivHist.Reset()
			iv.Committed += s.ivCommitted
			iv.Aborts += s.ivAborts
			s.ivCommitted, s.ivAborts = 0, 0
			for c, n := range s.ivCauses {
				causes[c] += n
			}
			clear(s.ivCauses)
		}
		m.all.Merge(s.all)
		for name, t := range s.byType {
			mt := m.typ(name)
			mt.hist.Merge(t.hist)
			mt.committed += t.committed
			mt.aborted += t.aborted
		}
		for c, n := range s.aborts {
			m.aborts[c] += n
		}
		for c, e := range s.firstErr {
			if _, ok := m.firstErr[c]; !ok {
				m.firstErr[c] = e
			}
		}
		m.retries += s.retries
		m.serverRe += s.serverRe
		m.committed += s.committed
		m.failed += s.failed
		s.mu.Unlock()
	}
	if iv != nil {
		iv.Hist = encodeHist(ivh)
		if len(causes) > 0 {
			iv.Causes = map[string]int64{}
			for c, n := range causes {
				iv.Causes[string(c)] = n
			}
		}
	}
	w := &wireStats{All: encodeHist(m.all), Retries: m.retries, ServerRe: m.serverRe, Committed: m.committed, Failed: m.failed,
		ByType: map[string]wireType{}, Aborts: map[string]int64{}, FirstErr: map[string]string{}}
	for name, t := range m.byType {
		w.ByType[name] = wireType{Hist: encodeHist(t.hist), Committed: t.committed, Aborted: t.aborted}
	}
	for c, n := range m.aborts {
		w.Aborts[string(c)] = n
	}
	for c, e := range m.firstErr {
		w.FirstErr[string(c)] = e
	}
	return w
}

func encodeHist(h *hdr.Histogram) []byte {
	b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		panic(fmt.Sprintf("encode a histogram: %v", err)) // only on a broken writer
	}
	return b
}

// decode turns a node's statistics back into a clientStats for mergeStats.
func (w *wireStats) decode() (*clientStats, error) {
	s := newClientStats()
	if w == nil {
		return s, nil
	}
	h, err := hdr.Decode(w.All)
	if err != nil {
		return nil, fmt.Errorf("decode the latency histogram: %w", err)
	}
	s.all.Merge(h)
	for name, t := range w.ByType {
		th, err := hdr.Decode(t.Hist)
		if err != nil {
			return nil, fmt.Errorf("decode the histogram of %s: %w", name, err)
		}
		st := s.typ(name)
		st.hist.Merge(th)
		st.committed, st.aborted = t.Committed, t.Aborted
	}
	for c, n := range w.Aborts {
		s.aborts[protocols.Cause(c)] = n
	}
	for c, e := range w.FirstErr {
		s.firstErr[protocols.Cause(c)] = e
	}
	s.retries, s.serverRe, s.committed, s.failed = w.Retries, w.ServerRe, w.Committed, w.Failed
	return s, nil
}
