#!/usr/bin/env bash
# The front end must never be what limits a run (issue 15, "Performance"). This script
# measures, side by side in one run, the same unmodified sysbench command against
# `replbench serve` and against a real MariaDB 10.11 from Debian on the same machine:
#   1. oltp_point_select: serve --protocol standalone vs one real MariaDB;
#   2. oltp_insert: serve --protocol galera (3 nodes, lan) vs a real 3-node MariaDB Galera
#      cluster (scripts/real-cluster.sh);
# each with the service-time model off (--cost-profile none: the front end must reach at
# least the real server's qps) and with the flavour's default profile (where the model
# should predict the real server). The real cluster of a case stays up while its runs
# alternate: real, serve none, serve default, repeated --repeat times, so that load from
# elsewhere on the machine falls on both sides alike. Every run's sysbench output is
# printed; the table at the end gives each side's median qps, each repeat's ratio
# serve / real (paired: the runs of one repeat are adjacent in time), their median and
# their spread (min-max). The real clusters are brought down (by PID, namespaces deleted)
# before the script exits.
#
# Usage: scripts/serve-vs-real.sh [--state DIR] [--base-port P] [--port P] [--time S]
#          [--threads T] [--table-size N] [--repeat N] [--cases point,insert]
#   --state/--base-port are the real cluster's (scripts/real-cluster.sh), default
#   /tmp/rb-serve-real and 13400; --port is serve's first port (default 13311).
#   REPLBENCH=path   use an existing binary instead of building one
# Needs root (real-cluster.sh), sysbench, mariadb-client, mariadb-server, galera-4.
# Run it alone (flock /tmp/bench.lock scripts/serve-vs-real.sh ...) on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."

state=/tmp/rb-serve-real
base=13400
port=13311
time=10
threads=8
tablesize=10000
repeat=3
cases="point,insert"
while [ $# -gt 0 ]; do
	case "$1" in
	--state) state="$2"; shift 2 ;;
	--base-port) base="$2"; shift 2 ;;
	--port) port="$2"; shift 2 ;;
	--time) time="$2"; shift 2 ;;
	--threads) threads="$2"; shift 2 ;;
	--table-size) tablesize="$2"; shift 2 ;;
	--repeat) repeat="$2"; shift 2 ;;
	--cases) cases="$2"; shift 2 ;;
	*) echo "serve-vs-real: unknown argument $1 (accepted: --state, --base-port, --port, --time, --threads, --table-size, --repeat, --cases)" >&2; exit 2 ;;
	esac
done
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "serve-vs-real: --repeat $repeat: want a positive number" >&2; exit 2; }
for c in ${cases//,/ }; do
	case "$c" in point|insert) ;; *) echo "serve-vs-real: --cases: unknown case $c (accepted: point, insert)" >&2; exit 2 ;; esac
done
for tool in sysbench mysql; do
	command -v "$tool" >/dev/null || { echo "serve-vs-real: $tool is not installed (apt-get install sysbench mariadb-client)" >&2; exit 2; }
done
work="$(mktemp -d)"
bin="${REPLBENCH:-}"
if [ -z "$bin" ]; then
	bin="$work/replbench"
	echo "== building replbench" >&2
	go build -o "$bin" ./cmd/replbench
fi

# sb HOST PORT USER PASSWORD SCRIPT: prepare, run, cleanup; prints the run's output and
# leaves its qps in $work/qps.
sb() {
	local host=$1 p=$2 user=$3 pw=$4 script=$5
	local args=(--db-driver=mysql --mysql-host="$host" --mysql-port="$p" --mysql-user="$user" --mysql-password="$pw"
		--mysql-db=sbtest --tables=1 --table-size="$tablesize")
	mysql -h "$host" -P "$p" -u"$user" ${pw:+-p"$pw"} -e "CREATE DATABASE IF NOT EXISTS sbtest"
	sysbench "$script" prepare "${args[@]}" >/dev/null
	echo "\$ sysbench $script run --threads=$threads --time=$time --mysql-port=$p ..."
	sysbench "$script" run --threads="$threads" --time="$time" "${args[@]}" | tee "$work/sb.out" | sed -n '/SQL statistics/,/Latency/p'
	sysbench "$script" cleanup "${args[@]}" >/dev/null
	sed -n 's/.*queries: *[0-9]* *(\([0-9.]*\) per sec.*/\1/p' "$work/sb.out" >"$work/qps"
}

# against_serve PROTOCOL SCRIPT PROFILE: SCRIPT against a fresh replbench serve.
against_serve() {
	local proto=$1 script=$2 profile=$3 extra=()
	[ "$profile" = default ] || extra=(--cost-profile "$profile")
	"$bin" serve --protocol "$proto" --network lan "${extra[@]}" --listen "127.0.0.1:$port" --out "$work/runs" \
		>"$work/serve.log" 2>"$work/serve.err" &
	local pid=$!
	for _ in $(seq 1 600); do
		grep -q '^connect: ' "$work/serve.log" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || { cat "$work/serve.err" >&2; exit 1; }
		sleep 0.1
	done
	echo "== replbench serve --protocol $proto --network lan --cost-profile $profile"
	sb 127.0.0.1 "$port" root "" "$script"
	kill -TERM "$pid"
	wait "$pid" || { echo "serve-vs-real: replbench serve exited $? (did not converge?)" >&2; tail -n 2 "$work/serve.log" >&2; }
	tail -n 1 "$work/serve.log"
}

trap 'scripts/real-cluster.sh down --state "$state" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

profiles=(none default)
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
declare -A qps # [case,side,repeat]
for c in ${cases//,/ }; do
	case "$c" in
	point) proto=standalone script=oltp_point_select kind=standalone ;;
	insert) proto=galera script=oltp_insert kind=galera ;;
	esac
	echo "== real MariaDB: scripts/real-cluster.sh up $kind --state $state --base-port $base"
	scripts/real-cluster.sh up "$kind" --state "$state" --base-port "$base" >"$work/real.log" 2>&1 ||
		{ cat "$work/real.log" >&2; exit 1; }
	for r in $(seq 1 "$repeat"); do
		echo "== repeat $r/$repeat: real MariaDB ($kind)"
		sb 127.0.0.1 "$((base + 1))" rb rb "$script"
		qps[$c,real,$r]="$(cat "$work/qps")"
		for pr in "${profiles[@]}"; do
			echo "== repeat $r/$repeat: serve ($proto, $pr)"
			against_serve "$proto" "$script" "$pr"
			qps[$c,$pr,$r]="$(cat "$work/qps")"
		done
	done
	scripts/real-cluster.sh down --state "$state" >/dev/null
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# stats V...: "median min max" of the values.
stats() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f %.2f %.2f", m, v[1], v[NR] }'; }

printf '\n== sysbench --threads=%s --time=%s, table-size %s, %s repeats: replbench serve vs real MariaDB 10.11 on this machine\n' "$threads" "$time" "$tablesize" "$repeat"
table="$work/table"
printf 'workload\tserve\tcost profile\treal qps (median)\tserve qps (median)\tserve/real per repeat\tratio median\tspread\n' >"$table"
for c in ${cases//,/ }; do
	case "$c" in point) script=oltp_point_select what=standalone ;; insert) script=oltp_insert what=galera-3 ;; esac
	reals=()
	for r in $(seq 1 "$repeat"); do reals+=("${qps[$c,real,$r]}"); done
	read -r rmed _ _ <<<"$(stats "${reals[@]}")"
	for pr in "${profiles[@]}"; do
		serves=() ratios=()
		for r in $(seq 1 "$repeat"); do
			serves+=("${qps[$c,$pr,$r]}")
			ratios+=("$(awk -v a="${qps[$c,$pr,$r]}" -v b="${qps[$c,real,$r]}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print 0 }')")
		done
		read -r smed _ _ <<<"$(stats "${serves[@]}")"
		read -r qmed qmin qmax <<<"$(stats "${ratios[@]}")"
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$script" "$what" "$pr" "$rmed" "$smed" "${ratios[*]}" "$qmed" "$qmin-$qmax" >>"$table"
	done
done
column -t -s $'\t' "$table"
