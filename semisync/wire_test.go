package semisync

import (
	"reflect"
	"testing"
)

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range []message{
		{Type: msgDump, Pos: 1},
		{Type: msgDump, Pos: 1 << 40},
		{Type: msgAck, Pos: 77},
		{Type: msgHeartbeat, Pos: 0},
		{Type: msgHeartbeat, Pos: 9, Sync: true},
		{Type: msgQuit},
		{Type: msgEvent, Pos: 5, Sync: true, TS: -3, WS: []byte{1, 2, 3}},
		{Type: msgEvent, Pos: 6, TS: 1 << 60, WS: []byte{9}},
	} {
		got, err := decodeMessage(appendMessage(nil, m))
		if err != nil {
			t.Fatalf("%+v: %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip %+v gave %+v", m, got)
		}
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{
		nil, {0}, {9, 1}, {byte(msgAck)}, {byte(msgAck), 1, 0}, {byte(msgEvent), 0, 0, 0, 1},
		{byte(msgEvent), 1}, {byte(msgHeartbeat), 1}, {byte(msgHeartbeat), 1, 2}, {byte(msgEvent), 1, 2, 0, 1}, {byte(msgEvent), 1, 0, 0},
		{byte(msgDump), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	} {
		if _, err := decodeMessage(b); err == nil {
			t.Errorf("decodeMessage(%v) accepted garbage", b)
		}
	}
}

// Garbage gives an error, never a panic, and whatever decodes re-encodes to itself.
func FuzzDecodeMessage(f *testing.F) {
	f.Add(appendMessage(nil, message{Type: msgEvent, Pos: 5, Sync: true, TS: 7, WS: []byte{1, 2}}))
	f.Add(appendMessage(nil, message{Type: msgAck, Pos: 3}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err != nil {
			return
		}
		m2, err := decodeMessage(appendMessage(nil, m))
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("%+v re-decoded as %+v, %v", m, m2, err)
		}
	})
}
