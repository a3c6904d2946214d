package storage

import (
	"fmt"
	"strconv"
	"time"

	"github.com/replbench/replbench/protocols"
)

// Params are the engine parameters the harness passes through --param, under MySQL's names.
var Params = []protocols.Param{
	{Name: "innodb_flush_log_at_trx_commit", Default: "1", Choices: []string{"0", "1", "2"},
		Help: "1 writes and syncs Pebble's WAL at every commit (durable); 2 writes it at every commit and syncs once a second (a crash fault loses up to a second, a kill nothing); 0 writes and syncs once a second (a kill or a crash loses up to a second). In memory the node runs on Pebble's crash-testing filesystem, so kill= and crash= faults lose exactly what this setting leaves unsynced."},
	{Name: "innodb_lock_wait_timeout", Default: "50", Min: new(1.0), Max: new(1073741824.0),
		Help: "seconds a local transaction waits for a row lock before failing with 1205; appliers never time out."},
	{Name: "replbench.apply_delay", Default: "0s",
		Help: "artificial cost added to applying every remote write-set on this node (a slow applier); set it per node to see flow control slow the whole cluster to this node's pace."},
}

// OptionsFromParams builds a node's Options from resolved parameters (a missing name takes
// its default).
func OptionsFromParams(node, dir string, p protocols.Params) (Options, error) {
	get := func(name string) string {
		if v, ok := p[name]; ok {
			return v
		}
		for _, d := range Params {
			if d.Name == name {
				return d.Default
			}
		}
		return ""
	}
	o := Options{Node: node, Dir: dir}
	switch v := get("innodb_flush_log_at_trx_commit"); v {
	case "1":
		o.Sync, o.LogFlush = true, LogFlushCommit
	case "2":
		o.LogFlush = LogFlushOS
	case "0":
		o.LogFlush = LogFlushSecond
	default:
		return o, fmt.Errorf("parameter innodb_flush_log_at_trx_commit: invalid value %q (accepted: 0, 1, 2)", v)
	}
	secs, err := strconv.ParseFloat(get("innodb_lock_wait_timeout"), 64)
	if err != nil || secs <= 0 {
		return o, fmt.Errorf("parameter innodb_lock_wait_timeout: invalid value %q (accepted: a positive number of seconds, default 50)", get("innodb_lock_wait_timeout"))
	}
	o.LockWaitTimeout = time.Duration(secs * float64(time.Second))
	d, err := time.ParseDuration(get("replbench.apply_delay"))
	if err != nil || d < 0 {
		return o, fmt.Errorf("parameter replbench.apply_delay: invalid value %q (accepted: a non-negative duration such as 2ms)", get("replbench.apply_delay"))
	}
	o.ApplyDelay = d
	return o, nil
}
