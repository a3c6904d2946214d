package galera

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/replbench/replbench/galera/gcs"
	"github.com/replbench/replbench/protocols"
)

// This file is gvwstate.dat, the primary view pc.recovery saves (gcomm's
// pc::Proto::write_view / ViewState): written, and fsynced, each time the node installs a
// primary view, removed on a clean shutdown. A node that restarts and finds it restores that
// primary component as the last one it knew, so that when every node went down at once
// (none left cleanly) the members of the saved view restore the primary component on their
// own when they meet again. A node that left cleanly has no file: a cluster shut down node
// by node must be bootstrapped from its last node (safe_to_bootstrap: 1 in grastate.dat).
//
// The format is the real one (my_uuid, a #vwbeg..#vwend block with view_id "3 <rep uuid>
// <seq>" and one "member: <uuid> <segment>" line per member), with node uuids derived
// from the member names (protocols.NameUUID), plus one line the model needs and the real
// file does not carry: conf_id, the component's wsrep_cluster_conf_id.

const gvwstateFile = "gvwstate.dat"

// memberUUID is a member's gcomm uuid in gvwstate.dat.
func memberUUID(name string) string { return protocols.NameUUID("galera-node-" + name) }

func encodeGvwstate(self string, members []string, v gcs.PrimView) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "my_uuid: %s\n#vwbeg\nview_id: 3 %s %d\nbootstrap: 0\n", memberUUID(self), memberUUID(members[v.ID.Rep]), v.ID.Seq)
	for _, m := range v.Members {
		fmt.Fprintf(&b, "member: %s 0\n", memberUUID(members[m]))
	}
	fmt.Fprintf(&b, "#vwend\nconf_id: %d\n", v.ConfID)
	return b.Bytes()
}

// parseGvwstate reads the saved primary view back; members are matched by uuid to the
// configured members (a uuid no member has is an error: the file is from another cluster).
func parseGvwstate(b []byte, members []string, weight func(int) int) (gcs.PrimView, error) {
	byUUID := map[string]int{}
	for i, m := range members {
		byUUID[memberUUID(m)] = i
	}
	var v gcs.PrimView
	seenView := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(val)
		switch strings.TrimSpace(k) {
		case "view_id":
			if len(f) != 3 {
				return v, fmt.Errorf("galera: %s: view_id %q", gvwstateFile, val)
			}
			rep, ok := byUUID[f[1]]
			seq, err := strconv.ParseInt(f[2], 10, 64)
			if !ok || err != nil {
				return v, fmt.Errorf("galera: %s: view_id %q is not a view of this cluster", gvwstateFile, val)
			}
			v.ID, seenView = gcs.ViewID{Seq: seq, Rep: rep}, true
		case "member":
			if len(f) < 1 {
				return v, fmt.Errorf("galera: %s: member %q", gvwstateFile, val)
			}
			i, ok := byUUID[f[0]]
			if !ok {
				return v, fmt.Errorf("galera: %s: member %s is not in this cluster (members: %s)", gvwstateFile, f[0], strings.Join(members, ", "))
			}
			v.Members = append(v.Members, i)
		case "conf_id":
			n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
			if err != nil {
				return v, fmt.Errorf("galera: %s: conf_id %q: %w", gvwstateFile, val, err)
			}
			v.ConfID = n
		}
	}
	if !seenView || len(v.Members) == 0 {
		return v, fmt.Errorf("galera: %s: no view", gvwstateFile)
	}
	slices.Sort(v.Members)
	for _, m := range v.Members {
		v.Weights = append(v.Weights, weight(m))
	}
	return v, nil
}

// writeGvwstate saves v, fsynced (a crash keeps it).
func writeGvwstate(fsys vfs.FS, dir, self string, members []string, v gcs.PrimView) error {
	return writeSynced(fsys, fsys.PathJoin(dir, gvwstateFile), encodeGvwstate(self, members, v))
}

// readGvwstate returns the saved view; ok is false if there is no file.
func readGvwstate(fsys vfs.FS, dir string, members []string, weight func(int) int) (v gcs.PrimView, ok bool, err error) {
	f, err := fsys.Open(fsys.PathJoin(dir, gvwstateFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return v, false, nil
		}
		return v, false, fmt.Errorf("galera: read %s: %w", gvwstateFile, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return v, false, fmt.Errorf("galera: read %s: %w", gvwstateFile, err)
	}
	v, err = parseGvwstate(b, members, weight)
	return v, err == nil, err
}

// removeGvwstate deletes the file on a clean shutdown.
func removeGvwstate(fsys vfs.FS, dir string) {
	_ = fsys.Remove(fsys.PathJoin(dir, gvwstateFile))
}
