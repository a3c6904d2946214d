package protocols

import (
	"crypto/sha1"
	"fmt"
	"strconv"
	"strings"
)

// GTID is a global transaction identifier, uuid:seqno, as both Galera (cluster state UUID
// plus seqno) and MySQL (source or group UUID plus GNO) print it.
type GTID struct {
	UUID  string
	Seqno int64
}

func (g GTID) String() string {
	if g.UUID == "" {
		return strconv.FormatInt(g.Seqno, 10)
	}
	return g.UUID + ":" + strconv.FormatInt(g.Seqno, 10)
}

// ParseGTID parses uuid:seqno.
func ParseGTID(s string) (GTID, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return GTID{}, fmt.Errorf("GTID %q: want uuid:seqno", s)
	}
	n, err := strconv.ParseInt(s[i+1:], 10, 64)
	if err != nil {
		return GTID{}, fmt.Errorf("GTID %q: seqno: %v", s, err)
	}
	return GTID{UUID: s[:i], Seqno: n}, nil
}

// NameUUID derives a stable, UUID-formatted identifier from a name (a cluster name, a
// group name, a node name), so that runs with the same seed print the same GTIDs.
func NameUUID(name string) string {
	h := sha1.Sum([]byte("replbench:" + name))
	h[6] = (h[6] & 0x0f) | 0x50 // version 5, name-based
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
