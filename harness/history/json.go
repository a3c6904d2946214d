package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// The JSON form of an Op is one object per line of history.jsonl:
//
//	{"index":12,"process":3,"node":"n1","outcome":"ok","invoke":1200345,"complete":1500876,
//	 "mops":[["r","x",[1,2]],["append","y",7]],"gtid":"3e11fa47-...:44","seqno":44}
//
// Micro-operations are Elle-style arrays [f, key, value] so a history stays readable with
// grep and jq: ["append","x",3], ["add","x",3], ["w","x",3], ["r","x",[1,2]] (list or set),
// ["r","x",3] (register), ["r","x",null] (register never written), ["r","x"] (result
// unknown), ["cas","x",[1,2]] (from 1 to 2), ["transfer","a",{"to":"b","amount":5}].
// error, gtid and seqno are omitted when empty.

// MarshalJSON encodes m in the array form above.
func (m Mop) MarshalJSON() ([]byte, error) { return m.appendJSON(nil) }

func (m Mop) appendJSON(b []byte) ([]byte, error) {
	if m.F < Append || m.F > Transfer {
		return nil, fmt.Errorf("history: cannot encode micro-operation %v", m.F)
	}
	b = append(b, '[')
	b = appendStr(b, m.F.String())
	b = append(b, ',')
	b = appendStr(b, m.Key)
	switch m.F {
	case Read:
		switch m.Result {
		case ListResult:
			b = append(b, ",["...)
			for i, v := range m.List {
				if i > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendInt(b, v, 10)
			}
			b = append(b, ']')
		case ValueResult:
			b = append(b, ',')
			b = strconv.AppendInt(b, m.Value, 10)
		case Nil:
			b = append(b, ",null"...)
		}
	case CAS:
		b = append(b, ",["...)
		b = strconv.AppendInt(b, m.From, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, m.Value, 10)
		b = append(b, ']')
	case Transfer:
		b = append(b, `,{"to":`...)
		b = appendStr(b, m.To)
		b = append(b, `,"amount":`...)
		b = strconv.AppendInt(b, m.Value, 10)
		b = append(b, '}')
	default:
		b = append(b, ',')
		b = strconv.AppendInt(b, m.Value, 10)
	}
	return append(b, ']'), nil
}

// UnmarshalJSON decodes the array form above, naming what is wrong with a malformed one.
func (m *Mop) UnmarshalJSON(data []byte) error {
	var parts []json.RawMessage
	if err := json.Unmarshal(data, &parts); err != nil {
		return fmt.Errorf("micro-operation %s: want an array [f, key, value]", clip(data))
	}
	if len(parts) < 2 || len(parts) > 3 {
		return fmt.Errorf("micro-operation %s: want [f, key] or [f, key, value]", clip(data))
	}
	var f, key string
	if err := json.Unmarshal(parts[0], &f); err != nil {
		return fmt.Errorf("micro-operation %s: f must be a string", clip(data))
	}
	if err := json.Unmarshal(parts[1], &key); err != nil {
		return fmt.Errorf("micro-operation %s: key must be a string", clip(data))
	}
	mf, err := parseMopF(f)
	if err != nil {
		return err
	}
	*m = Mop{F: mf, Key: key}
	if len(parts) == 2 {
		if mf != Read {
			return fmt.Errorf("micro-operation %s: %s needs a value", clip(data), f)
		}
		return nil
	}
	v := bytes.TrimSpace(parts[2])
	bad := func(want string) error {
		return fmt.Errorf("micro-operation %s: %s wants %s", clip(data), f, want)
	}
	switch mf {
	case Read:
		switch {
		case bytes.Equal(v, []byte("null")):
			m.Result = Nil
		case len(v) > 0 && v[0] == '[':
			m.List = []int64{}
			if err := json.Unmarshal(v, &m.List); err != nil {
				return bad("a list of integers, an integer or null")
			}
			m.Result = ListResult
		default:
			if err := json.Unmarshal(v, &m.Value); err != nil {
				return bad("a list of integers, an integer or null")
			}
			m.Result = ValueResult
		}
	case CAS:
		var pair []int64
		if err := json.Unmarshal(v, &pair); err != nil || len(pair) != 2 {
			return bad("[from, to]")
		}
		m.From, m.Value = pair[0], pair[1]
	case Transfer:
		var t struct {
			To     *string `json:"to"`
			Amount *int64  `json:"amount"`
		}
		if err := json.Unmarshal(v, &t); err != nil || t.To == nil || t.Amount == nil {
			return bad(`{"to": account, "amount": integer}`)
		}
		m.To, m.Value = *t.To, *t.Amount
	default:
		if err := json.Unmarshal(v, &m.Value); err != nil {
			return bad("an integer")
		}
	}
	return nil
}

// opJSON is the wire form of Op; field names are the stable history.jsonl names.
type opJSON struct {
	Index    int     `json:"index"`
	Process  int     `json:"process"`
	Node     string  `json:"node"`
	Outcome  Outcome `json:"outcome"`
	Invoke   int64   `json:"invoke"`
	Complete int64   `json:"complete"`
	Mops     []Mop   `json:"mops"`
	Error    string  `json:"error,omitempty"`
	GTID     string  `json:"gtid,omitempty"`
	Seqno    int64   `json:"seqno,omitempty"`
}

// MarshalJSON encodes o as one history.jsonl object (without the newline).
func (o Op) MarshalJSON() ([]byte, error) { return o.appendJSON(nil) }

// appendJSON writes the object directly, without reflection: a recorder of a long run
// writes hundreds of thousands of these.
func (o *Op) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(o.Index), 10)
	b = append(b, `,"process":`...)
	b = strconv.AppendInt(b, int64(o.Process), 10)
	b = append(b, `,"node":`...)
	b = appendStr(b, o.Node)
	b = append(b, `,"outcome":`...)
	b = appendStr(b, string(o.Outcome))
	b = append(b, `,"invoke":`...)
	b = strconv.AppendInt(b, o.Invoke, 10)
	b = append(b, `,"complete":`...)
	b = strconv.AppendInt(b, o.Complete, 10)
	b = append(b, `,"mops":[`...)
	var err error
	for i, m := range o.Mops {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = m.appendJSON(b); err != nil {
			return nil, fmt.Errorf("op %d: %w", o.Index, err)
		}
	}
	b = append(b, ']')
	if o.Error != "" {
		b = append(b, `,"error":`...)
		b = appendStr(b, o.Error)
	}
	if o.GTID != "" {
		b = append(b, `,"gtid":`...)
		b = appendStr(b, o.GTID)
	}
	if o.Seqno != 0 {
		b = append(b, `,"seqno":`...)
		b = strconv.AppendInt(b, o.Seqno, 10)
	}
	return append(b, '}'), nil
}

// appendStr quotes s as JSON does. Keys, node names and outcomes are plain ASCII and take
// the fast path; anything else (error messages can carry any byte) goes through
// encoding/json, whose escapes are JSON's where strconv.Quote's are Go's.
func appendStr(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// UnmarshalJSON decodes one history.jsonl object, rejecting unknown fields so that a typo
// in a hand-written history is an error rather than a silently empty field.
func (o *Op) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w opJSON
	if err := dec.Decode(&w); err != nil {
		return err
	}
	if !w.Outcome.Valid() {
		return fmt.Errorf("outcome %q (accepted: ok, fail, info)", w.Outcome)
	}
	*o = Op(w)
	return nil
}

func clip(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "..."
	}
	return string(b)
}
