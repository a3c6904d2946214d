#!/usr/bin/env bash
# Run every workload on every protocol, through the binary exactly as a user would, and
# print one table: throughput, abort rate, latency, the model's commit floor, convergence
# and the workload's end-of-run checks per point. The matrix is
#   workloads: insert, hotspot (counter and users-groups), the eight sysbench oltp_*
#              scripts, tpcc
#   protocols: standalone (1 node), async, semisync, galera, group-replication (3 nodes);
#              plus group-replication multi-primary (--writers all,
#              group_replication_single_primary_mode=OFF) for hotspot and the sysbench
#              write workloads
#   networks:  lan and wan-50 (50 ms egress on n1, the writer)
# Sizes are small so that the whole matrix runs in minutes on two cores; a point is only
# meaningful as a smoke test of the workload on that protocol, not as a benchmark.
#
# Usage: scripts/workload-matrix.sh [--out DIR] [--networks lan,wan-50] [--protocols P,...]
#                                   [--workloads W,...] [--duration D] [--threads N]
#   REPLBENCH=path   use an existing binary instead of building one
# Exit status: 0 when every point ran, converged and passed its checks; 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

out="$(mktemp -d)/workload-matrix"
networks="lan,wan-50"
protos="standalone,async,semisync,galera,group-replication,gr-multi-primary"
wls="insert,hotspot-counter,hotspot-users-groups,oltp_read_write,oltp_write_only,oltp_read_only,oltp_point_select,oltp_insert,oltp_update_index,oltp_update_non_index,oltp_delete,tpcc"
duration=2s
wanduration=4s
threads=4
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out="$2"; shift 2 ;;
	--networks) networks="$2"; shift 2 ;;
	--protocols) protos="$2"; shift 2 ;;
	--workloads) wls="$2"; shift 2 ;;
	--duration) duration="$2"; wanduration="$2"; shift 2 ;;
	--threads) threads="$2"; shift 2 ;;
	*) echo "workload-matrix: unknown argument $1 (accepted: --out, --networks, --protocols, --workloads, --duration, --threads)" >&2; exit 2 ;;
	esac
done
mkdir -p "$out"

bin="${REPLBENCH:-}"
if [ -z "$bin" ]; then
	bin="$(mktemp -d)/replbench"
	echo "== building replbench" >&2
	go build -o "$bin" ./cmd/replbench
fi

# workload_args NAME prints the flags of one matrix workload.
workload_args() {
	case "$1" in
	hotspot-counter) echo "--workload hotspot --mode counter" ;;
	hotspot-users-groups) echo "--workload hotspot --mode users-groups --users 2000" ;;
	oltp_*) echo "--workload $1 --table-size 2000" ;;
	tpcc) echo "--workload tpcc --warehouses 2 --scale 0.02" ;;
	*) echo "--workload $1" ;;
	esac
}

# writes: the workloads that multi-primary runs with writers on every node.
is_write_workload() {
	case "$1" in
	hotspot-*|oltp_read_write|oltp_write_only|oltp_insert|oltp_update_index|oltp_update_non_index|oltp_delete) return 0 ;;
	esac
	return 1
}

IFS=, read -r -a netlist <<<"$networks"
IFS=, read -r -a protolist <<<"$protos"
IFS=, read -r -a wllist <<<"$wls"
status=0
rows="$out/rows.tsv"
: >"$rows"
for net in "${netlist[@]}"; do
	d="$duration"
	[ "$net" = lan ] || d="$wanduration"
	for p in "${protolist[@]}"; do
		for w in "${wllist[@]}"; do
			proto_args="--protocol $p"
			label="$p"
			case "$p" in
			standalone) proto_args="--protocol standalone --nodes 1" ;;
			gr-multi-primary)
				is_write_workload "$w" || continue
				proto_args="--protocol group-replication --writers all --param group_replication_single_primary_mode=OFF"
				label="gr-mp" ;;
			group-replication) label="gr" ;;
			esac
			json="$out/$net-$label-$w.json"
			log="$out/$net-$label-$w.log"
			# shellcheck disable=SC2046 # the argument strings are word lists on purpose
			set +e
			"$bin" run $proto_args $(workload_args "$w") --network "$net" --threads "$threads" \
				--duration "$d" --retries 0 --no-progress --out "$out/runs" --json "$json" >"$log" 2>&1
			rc=$?
			set -e
			if [ ! -s "$json" ]; then
				printf '%s\t%s\t%s\tFAILED(exit %s): %s\n' "$net" "$label" "$w" "$rc" "$(tail -n 1 "$log")" >>"$rows"
				status=1
				continue
			fi
			jq -r --arg net "$net" --arg lbl "$label" --arg w "$w" --arg rc "$rc" '
				.points[0] as $p
				| ([$p.aborts // {} | .[]] | add // 0) as $ab
				| ($p.checks // {}) as $ck
				| [$net, $lbl, $w, ($p.nodes|tostring), ($p.writers|join(",")),
				   ($p.committed|tostring), ($p.tps*10|round/10|tostring),
				   (if ($p.committed+$ab) > 0 then ($ab*1000/($p.committed+$ab)|round/10|tostring) + "%" else "-" end),
				   ($p.aborts // {} | to_entries | map("\(.key)=\(.value)") | join(" ") | if . == "" then "-" else . end),
				   ($p.latency_ms.p50|tostring), ($p.latency_ms.p95|tostring),
				   (($p.bound.commit_floor_ms // 0)*1000|round/1000|tostring),
				   (if $p.converged then "yes" else "NO" end),
				   (if ($ck|length) == 0 then "-" elif ([$ck[]]|all) then "pass(\($ck|length))" else "FAIL:" + ($ck|to_entries|map(select(.value|not).key)|join(",")) end),
				   (if $p.metrics.tpmC then "tpmC=\($p.metrics.tpmC|round) tpmTotal=\($p.metrics.tpmTotal|round)" else "" end)
				   + (if $rc != "0" then " exit=" + $rc else "" end)
				   + (($p.notes // []) | map(" note: " + .) | join(""))]
				| @tsv' "$json" >>"$rows"
			if [ "$rc" != 0 ] || ! jq -e '.points[0] | .converged and ([.checks // {} | .[]] | all)' "$json" >/dev/null; then
				status=1
			fi
			echo "done $net $label $w (exit $rc)" >&2
		done
	done
done

{
	printf 'network\tprotocol\tworkload\tnodes\twriters\tcommitted\ttps\taborts\tby cause\tp50 ms\tp95 ms\tfloor ms\tconverged\tchecks\tnotes\n'
	cat "$rows"
} | column -t -s $'\t'
echo
echo "results: $out (one JSON and one log per point)"
exit "$status"
