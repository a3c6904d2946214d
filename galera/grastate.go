package galera

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// This file is grastate.dat, Galera's saved state (galera/src/saved_state.cpp): the
// history uuid, the seqno and safe_to_bootstrap, kept beside the data and fsynced at each
// write. The rules are the real ones:
//   - while the node runs, seqno is -1 (its position is only in the engine: after a kill
//     or a crash the file says -1 and the seqno comes from wsrep-recover, the position
//     the surviving rows carry);
//   - on a clean shutdown it is the last committed seqno;
//   - safe_to_bootstrap is 0 whenever the node is in a primary component with others, and
//     1 only on a node that was the sole member of a primary component, that is, the last
//     one to leave it cleanly: the node whose state is newest after the cluster shut down.
// A restarted node asked to bootstrap a new cluster (pc.bootstrap) with safe_to_bootstrap: 0
// is refused (restart.go); after every node went down, the primary component comes back
// from gvwstate.dat (pc.recovery, gvwstate.go) or by the bootstrap procedure
// (replicator/bootstrap.go).

// grastateFile is the file name Galera uses, in the data directory.
const grastateFile = "grastate.dat"

// grastate is the content of grastate.dat.
type grastate struct {
	UUID            string
	Seqno           int64
	SafeToBootstrap bool
}

func (g grastate) encode() []byte {
	safe := 0
	if g.SafeToBootstrap {
		safe = 1
	}
	return fmt.Appendf(nil, "# GALERA saved state\nversion: 2.1\nuuid:    %s\nseqno:   %d\nsafe_to_bootstrap: %d\n", g.UUID, g.Seqno, safe)
}

func (g grastate) String() string {
	return strings.TrimSpace(strings.ReplaceAll(strings.TrimPrefix(string(g.encode()), "# GALERA saved state\n"), "\n", "; "))
}

// parseGrastate reads grastate.dat's fields; an unknown line is ignored, as Galera does.
func parseGrastate(b []byte) (grastate, error) {
	g := grastate{Seqno: -1}
	sc := bufio.NewScanner(bytes.NewReader(b))
	seen := false
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "uuid":
			g.UUID, seen = v, true
		case "seqno":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return g, fmt.Errorf("galera: %s: seqno %q: %w", grastateFile, v, err)
			}
			g.Seqno = n
		case "safe_to_bootstrap":
			g.SafeToBootstrap = v == "1"
		}
	}
	if !seen {
		return g, fmt.Errorf("galera: %s: no uuid", grastateFile)
	}
	return g, nil
}

// writeGrastate replaces grastate.dat and fsyncs it (and its directory, for a new file).
func writeGrastate(fsys vfs.FS, dir string, g grastate) error {
	return writeSynced(fsys, fsys.PathJoin(dir, grastateFile), g.encode())
}

// writeSynced replaces the file at path with b and fsyncs it and its directory, as Galera
// writes its state files.
func writeSynced(fsys vfs.FS, path string, b []byte) error {
	name := fsys.PathBase(path)
	f, err := fsys.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("galera: write %s: %w", name, err)
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("galera: write %s: %w", name, err)
	}
	if d, err := fsys.OpenDir(fsys.PathDir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// readGrastate returns dir's grastate.dat; ok is false if there is none.
func readGrastate(fsys vfs.FS, dir string) (g grastate, ok bool, err error) {
	f, err := fsys.Open(fsys.PathJoin(dir, grastateFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return grastate{}, false, nil
		}
		return grastate{}, false, fmt.Errorf("galera: read %s: %w", grastateFile, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return grastate{}, false, fmt.Errorf("galera: read %s: %w", grastateFile, err)
	}
	g, err = parseGrastate(b)
	return g, err == nil, err
}
