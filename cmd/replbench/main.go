// Command replbench is the benchmark's one binary: it runs scenarios against emulated
// clusters (run), lists what it can run (scenarios, workloads, params), prints Callaghan's-law
// bounds (law) and re-renders finished runs (report). See cli for the subcommands.
package main

import (
	"os"

	"github.com/replbench/replbench/cmd/replbench/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
