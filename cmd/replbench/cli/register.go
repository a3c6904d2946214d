package cli

// The protocols and workloads the binary can run. Each registers itself from init; the
// harness only knows them by name, so adding one here is all a new protocol needs to be
// measurable.
import (
	_ "github.com/replbench/replbench/galera"
	_ "github.com/replbench/replbench/groupreplication"
	_ "github.com/replbench/replbench/protocols/standalone"
	_ "github.com/replbench/replbench/semisync"
	_ "github.com/replbench/replbench/workloads/hotspot"
	_ "github.com/replbench/replbench/workloads/insert"
	_ "github.com/replbench/replbench/workloads/jepsen"
	_ "github.com/replbench/replbench/workloads/sysbench"
	_ "github.com/replbench/replbench/workloads/tpcc"
)
