// Package all registers every workload; the harness and the CLI import it for its side
// effect, so that adding a workload is one blank import here rather than an edit in every
// binary that lists workloads.
package all

import (
	_ "github.com/replbench/replbench/workloads/hotspot"  // hotspot
	_ "github.com/replbench/replbench/workloads/insert"   // insert
	_ "github.com/replbench/replbench/workloads/jepsen"   // list-append, rw-register, register, bank
	_ "github.com/replbench/replbench/workloads/sysbench" // oltp_*
	_ "github.com/replbench/replbench/workloads/tpcc"     // tpcc
)
