package group

import (
	"encoding/binary"
	"errors"

	"github.com/replbench/replbench/groupreplication/certifier"
	"github.com/replbench/replbench/groupreplication/membership"
)

// A clone carries, besides the donor's database, everything the donor's machine derived
// from the agreed order that a joiner must continue from: the certifier, the view, the
// primary, the delivered message ids and the verdict digest. A joiner that installs it
// processes the messages after the donor's position exactly as the donor does.

// AppendState appends that state to b.
func (m *Machine) AppendState(b []byte) []byte {
	cs := m.cert.AppendState(nil)
	b = binary.AppendUvarint(b, uint64(len(cs)))
	b = append(b, cs...)
	b = m.view.AppendState(b)
	b = binary.AppendVarint(b, int64(m.primary))
	b = append(b, boolByte(m.everPrimary), boolByte(m.primaryChange))
	b = binary.AppendUvarint(b, m.verdicts)
	b = binary.AppendUvarint(b, uint64(len(m.delivered)))
	for _, d := range m.delivered {
		b = binary.AppendVarint(b, d.max)
		b = binary.AppendUvarint(b, uint64(len(d.ids)))
		for id := range d.ids {
			b = binary.AppendVarint(b, id)
		}
	}
	return b
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// Cloned is a donor's state, decoded and checked, ready to install.
type Cloned struct {
	cert                       *certifier.Certifier
	view                       *membership.View
	primary                    int
	everPrimary, primaryChange bool
	verdicts                   uint64
	delivered                  []deliveredIDs
}

// errCorruptState is what DecodeState returns for bytes AppendState did not write.
var errCorruptState = errors.New("corrupt group state (donor and joiner must run the same model)")

// DecodeState checks AppendState's bytes without changing the machine, so that a corrupt
// answer leaves the joiner as it was (its database untouched too: the driver restores the
// database only after this succeeded).
func (m *Machine) DecodeState(b []byte) (*Cloned, error) {
	cl, n := binary.Uvarint(b)
	if n <= 0 || cl > uint64(len(b)-n) {
		return nil, errCorruptState
	}
	cert, err := certifier.RestoreState(b[n : n+int(cl)])
	if err != nil {
		return nil, err
	}
	b = b[n+int(cl):]
	view := m.view.Copy()
	if b, err = view.RestoreState(b); err != nil {
		return nil, err
	}
	primary, n := binary.Varint(b)
	if n <= 0 || len(b) < n+2 || primary < -1 || primary >= int64(len(m.cfg.Members)) {
		return nil, errCorruptState
	}
	c := &Cloned{cert: cert, view: view, primary: int(primary), everPrimary: b[n] == 1, primaryChange: b[n+1] == 1}
	b = b[n+2:]
	if c.verdicts, n = binary.Uvarint(b); n <= 0 {
		return nil, errCorruptState
	}
	b = b[n:]
	members, n := binary.Uvarint(b)
	if n <= 0 || members != uint64(len(m.cfg.Members)) {
		return nil, errCorruptState
	}
	b = b[n:]
	c.delivered = make([]deliveredIDs, members)
	for i := range c.delivered {
		mx, n := binary.Varint(b)
		if n <= 0 {
			return nil, errCorruptState
		}
		b = b[n:]
		cnt, k := binary.Uvarint(b)
		if k <= 0 || cnt > uint64(len(b)) {
			return nil, errCorruptState
		}
		b = b[k:]
		d := deliveredIDs{max: mx, ids: make(map[int64]struct{}, cnt)}
		for range cnt {
			id, n := binary.Varint(b)
			if n <= 0 {
				return nil, errCorruptState
			}
			b = b[n:]
			d.ids[id] = struct{}{}
		}
		c.delivered[i] = d
	}
	if len(b) != 0 {
		return nil, errCorruptState
	}
	return c, nil
}

// Install replaces this machine's group state with the donor's. AFTER positions this
// member was tracking are forgotten: the donor's state already decided them.
func (m *Machine) Install(c *Cloned) (eff Effects) {
	m.cert, m.view = c.cert, c.view
	m.primary, m.everPrimary, m.primaryChange = c.primary, c.everPrimary, c.primaryChange
	m.delivered = c.delivered
	m.verdicts = c.verdicts
	m.viewChanged(&eff)
	clear(m.prepared)
	return eff
}
