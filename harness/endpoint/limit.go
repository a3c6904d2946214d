package endpoint

import (
	"encoding/binary"
	"errors"
	"net"
	"time"
)

// errPacketTooLarge ends a connection whose client sent more than max_allowed_packet.
var errPacketTooLarge = errors.New("endpoint: packet bigger than max_allowed_packet")

// clientSSL is CLIENT_SSL in the capability flags of the client's first packet.
const clientSSL = 0x800

// maxHandshake bounds the client's first packet (its handshake response: user, auth data,
// connection attributes), which real clients keep far below this.
const maxHandshake = 64 << 10

// limitConn enforces max_allowed_packet while the bytes arrive: it follows the packet
// framing (3-byte length, sequence number) and, when a command's payload (spread over
// 16 MiB packets for large ones) would exceed the limit, writes MySQL's 1153 to the client
// and fails the read, so an oversized statement is never buffered, parsed or applied. After
// a TLS upgrade the framing is encrypted; the handler then checks the statement's length.
type limitConn struct {
	net.Conn
	limit int

	hdr     [4]byte
	hdrN    int
	remain  int // payload bytes left in the current packet
	total   int // payload bytes of the current command so far
	packets int
	first   []byte // the first packet's leading payload bytes (for its capability flags)
	passive bool   // TLS: stop following the framing
	tripped bool
}

func newLimitConn(c net.Conn, limit int) *limitConn { return &limitConn{Conn: c, limit: limit} }

func (c *limitConn) Read(p []byte) (int, error) {
	if c.tripped {
		return 0, errPacketTooLarge
	}
	n, err := c.Conn.Read(p)
	if c.passive || n == 0 {
		return n, err
	}
	if seq, bad := c.scan(p[:n]); bad {
		c.tripped = true
		c.refuse(seq + 1)
		c.drain()
		return 0, errPacketTooLarge
	}
	return n, err
}

// scan follows the framing over b; it reports the sequence number of a packet that takes
// the command over the limit.
func (c *limitConn) scan(b []byte) (seq byte, tooLarge bool) {
	for len(b) > 0 {
		if c.remain == 0 {
			k := copy(c.hdr[c.hdrN:], b)
			c.hdrN += k
			b = b[k:]
			if c.hdrN < 4 {
				return 0, false
			}
			c.hdrN = 0
			length := int(c.hdr[0]) | int(c.hdr[1])<<8 | int(c.hdr[2])<<16
			c.packets++
			c.total += length
			limit := c.limit
			if c.packets == 1 {
				limit = maxHandshake
			}
			if c.total > limit {
				return c.hdr[3], true
			}
			c.remain = length
			if length == 0 {
				c.total = 0 // an empty packet ends a command of exactly 16 MiB multiples
			}
			continue
		}
		k := min(c.remain, len(b))
		if c.packets == 1 && len(c.first) < 4 {
			c.first = append(c.first, b[:min(k, 4-len(c.first))]...)
			if len(c.first) == 4 && binary.LittleEndian.Uint32(c.first)&clientSSL != 0 {
				c.passive = true // the TLS handshake follows this packet
				return 0, false
			}
		}
		c.remain -= k
		b = b[k:]
		if c.remain == 0 && c.lastLen() < 0xFFFFFF {
			c.total = 0 // a packet shorter than 16 MiB ends the command
		}
	}
	return 0, false
}

func (c *limitConn) lastLen() int {
	return int(c.hdr[0]) | int(c.hdr[1])<<8 | int(c.hdr[2])<<16
}

// refuse writes ER_NET_PACKET_TOO_LARGE as the reply to the oversized command.
func (c *limitConn) refuse(seq byte) {
	msg := "Got a packet bigger than 'max_allowed_packet' bytes"
	payload := []byte{0xFF, 0x81, 0x04, '#', '0', '8', 'S', '0', '1'} // 1153 = 0x0481
	payload = append(payload, msg...)
	pkt := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}
	_, _ = c.Conn.Write(append(pkt, payload...))
}

// drain reads and discards what the client is still sending of the oversized command (for
// at most a few seconds), so that its write completes and it reads the 1153 before the
// connection closes. Closing with its bytes unread would make the kernel reset the
// connection, and the client would see "connection reset" instead of MySQL's error.
func (c *limitConn) drain() {
	buf := make([]byte, 64<<10)
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		_ = c.Conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := c.Conn.Read(buf); err != nil {
			break
		}
	}
	_ = c.Conn.SetReadDeadline(time.Time{})
}
