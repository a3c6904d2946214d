#!/usr/bin/env bash
# Reproduce the documents' WAN table end to end: 3 nodes, 500 single-row inserts at
# concurrency 1, 4, 8, 16, 32, 64, on the LAN and with 50 ms and 100 ms of netem-style
# egress delay on one node, for galera and group-replication; then print the measured
# seconds beside the published ones (Percona XtraDB Cluster 5.7.16, MySQL GR 5.7.17) with
# the ratio and the Callaghan's-law model, and write the plots.
#
# Usage: scripts/reproduce-wan-table.sh [--out DIR] [extra `replbench run` flags...]
#   --out DIR        where the run directory goes (default: runs/)
#   anything else    passed to `replbench run wan-concurrency`, e.g.
#                    --protocol galera, --threads 1,8 or --seed 7; SCENARIO=wan-concurrency-nonwriter
#                    runs the variant with the delay on a non-writer node
#   REPLBENCH=path   use an existing binary instead of building one
#
# At 100 ms and one thread the published run alone takes ~52 s per protocol; the whole
# sweep runs in real time, so expect several minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

scenario="${SCENARIO:-wan-concurrency}"
out=runs
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out="$2"; shift 2 ;;
	--out=*) out="${1#--out=}"; shift ;;
	*) args+=("$1"); shift ;;
	esac
done
mkdir -p "$out"

bin="${REPLBENCH:-}"
if [ -z "$bin" ]; then
	bin="$(mktemp -d)/replbench"
	echo "== building replbench"
	go build -o "$bin" ./cmd/replbench
fi

marker="$(mktemp)"
trap 'rm -f "$marker"' EXIT
echo "== replbench run $scenario --out $out ${args[*]:-}"
"$bin" run "$scenario" --out "$out" ${args[@]+"${args[@]}"}

# The run directory is <out>/<timestamp>-<scenario>; take the one this run created.
rundir="$(find "$out" -mindepth 1 -maxdepth 1 -type d -name "*-$scenario" -newer "$marker" | sort | tail -n 1)"
if [ -z "$rundir" ] || [ ! -f "$rundir/results.json" ]; then
	echo "reproduce-wan-table: no run directory with results.json under $out; did the run fail?" >&2
	exit 1
fi

echo
echo "== side-by-side table from $rundir/results.json"
"$bin" report "$rundir"
