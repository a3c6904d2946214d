package storage

import "github.com/cockroachdb/pebble/v2/vfs"

// LogFS is the node's crash-testing filesystem (nil for an on-disk engine): the one Down
// clones, so that a log another layer keeps beside Pebble's (a source's binary log, which
// sync_binlog makes durable on its own schedule) survives a kill or a crash exactly as
// its own writes and fsyncs say.
func (e *Engine) LogFS() vfs.FS {
	if e.fs == nil {
		return nil
	}
	return e.fs
}
