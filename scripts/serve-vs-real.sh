#!/usr/bin/env bash
# The front end must never be what limits a run (issue 15, "Performance"). This script
# measures, side by side in one run, the same unmodified sysbench command against
# `replbench serve` and against a real MariaDB 10.11 from Debian on the same machine:
#   1. oltp_point_select --threads=8: serve --protocol standalone vs one real MariaDB;
#   2. oltp_insert --threads=8: serve --protocol galera (3 nodes, lan) vs a real 3-node
#      MariaDB Galera cluster (scripts/real-cluster.sh);
# with the service-time model's profile off (--cost-profile none) and with the default
# profile, when the binary has the flag; and prints the throughputs and the ratios
# serve / real. The real clusters are brought down (by PID, namespaces deleted) before the
# script exits.
#
# Usage: scripts/serve-vs-real.sh [--state DIR] [--base-port P] [--port P] [--time S]
#          [--threads T] [--table-size N]
#   --state/--base-port are the real cluster's (scripts/real-cluster.sh), default
#   /tmp/rb-serve-real and 13400; --port is serve's first port (default 13311).
#   REPLBENCH=path   use an existing binary instead of building one
# Needs root (real-cluster.sh), sysbench, mariadb-client, mariadb-server, galera-4.
set -euo pipefail
cd "$(dirname "$0")/.."

state=/tmp/rb-serve-real
base=13400
port=13311
time=10
threads=8
tablesize=10000
while [ $# -gt 0 ]; do
	case "$1" in
	--state) state="$2"; shift 2 ;;
	--base-port) base="$2"; shift 2 ;;
	--port) port="$2"; shift 2 ;;
	--time) time="$2"; shift 2 ;;
	--threads) threads="$2"; shift 2 ;;
	--table-size) tablesize="$2"; shift 2 ;;
	*) echo "serve-vs-real: unknown argument $1 (accepted: --state, --base-port, --port, --time, --threads, --table-size)" >&2; exit 2 ;;
	esac
done
work="$(mktemp -d)"
bin="${REPLBENCH:-}"
if [ -z "$bin" ]; then
	bin="$work/replbench"
	echo "== building replbench" >&2
	go build -o "$bin" ./cmd/replbench
fi

profiles=("")
if "$bin" serve -h 2>&1 | grep -q -- '-cost-profile'; then
	profiles=("none" "default")
fi

# sb HOST PORT USER PASSWORD SCRIPT: prepare, run, cleanup; prints the run's output and
# leaves "tps qps" in $work/rate.
sb() {
	local host=$1 p=$2 user=$3 pw=$4 script=$5
	local args=(--db-driver=mysql --mysql-host="$host" --mysql-port="$p" --mysql-user="$user" --mysql-password="$pw"
		--mysql-db=sbtest --tables=1 --table-size="$tablesize")
	mysql -h "$host" -P "$p" -u"$user" ${pw:+-p"$pw"} -e "CREATE DATABASE IF NOT EXISTS sbtest"
	sysbench "$script" prepare "${args[@]}" >/dev/null
	echo "\$ sysbench $script run --threads=$threads --time=$time (port $p)"
	sysbench "$script" run --threads="$threads" --time="$time" "${args[@]}" | tee "$work/sb.out" | sed -n '/SQL statistics/,/Latency/p'
	sysbench "$script" cleanup "${args[@]}" >/dev/null
	local tps qps
	tps="$(sed -n 's/.*transactions: *[0-9]* *(\([0-9.]*\) per sec.*/\1/p' "$work/sb.out")"
	qps="$(sed -n 's/.*queries: *[0-9]* *(\([0-9.]*\) per sec.*/\1/p' "$work/sb.out")"
	echo "$tps $qps" >"$work/rate"
}

# against_serve PROTOCOL SCRIPT PROFILE: qps of SCRIPT against replbench serve.
against_serve() {
	local proto=$1 script=$2 profile=$3 extra=()
	[ -z "$profile" ] || [ "$profile" = default ] || extra=(--cost-profile "$profile")
	"$bin" serve --protocol "$proto" --network lan "${extra[@]}" --listen "127.0.0.1:$port" --out "$work/runs" \
		>"$work/serve.log" 2>"$work/serve.err" &
	local pid=$!
	for _ in $(seq 1 600); do
		grep -q '^connect: ' "$work/serve.log" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || { cat "$work/serve.err" >&2; exit 1; }
		sleep 0.1
	done
	echo "== replbench serve --protocol $proto ${extra[*]}"
	sb 127.0.0.1 "$port" root "" "$script"
	kill -TERM "$pid"
	wait "$pid" || { echo "serve-vs-real: replbench serve exited $? (did not converge?)" >&2; tail -n 2 "$work/serve.log" >&2; }
	tail -n 1 "$work/serve.log"
}

# against_real KIND SCRIPT: qps of SCRIPT against a real cluster of KIND.
against_real() {
	local kind=$1 script=$2
	echo "== real MariaDB: scripts/real-cluster.sh up $kind --state $state --base-port $base"
	scripts/real-cluster.sh up "$kind" --state "$state" --base-port "$base" >"$work/real.log" 2>&1 ||
		{ cat "$work/real.log" >&2; scripts/real-cluster.sh down --state "$state" >/dev/null 2>&1 || true; exit 1; }
	sb 127.0.0.1 "$((base + 1))" rb rb "$script"
	scripts/real-cluster.sh down --state "$state" >/dev/null
}
trap 'scripts/real-cluster.sh down --state "$state" >/dev/null 2>&1 || true' EXIT

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
declare -A rate
for case in "standalone oltp_point_select standalone" "galera oltp_insert galera"; do
	read -r proto script kind <<<"$case"
	against_real "$kind" "$script"
	rate[real,$script]="$(cat "$work/rate")"
	for pr in "${profiles[@]}"; do
		against_serve "$proto" "$script" "$pr"
		rate[serve$pr,$script]="$(cat "$work/rate")"
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

printf '\n== sysbench --threads=%s --time=%s, table-size %s: replbench serve vs real MariaDB 10.11 on this machine\n' "$threads" "$time" "$tablesize"
table="$work/table"
printf 'workload\tserve\tcost profile\tserve tps\tserve qps\treal tps\treal qps\tserve/real (qps)\n' >"$table"
for case in "oltp_point_select standalone" "oltp_insert galera-3"; do
	read -r script what <<<"$case"
	read -r rtps rqps <<<"${rate[real,$script]}"
	for pr in "${profiles[@]}"; do
		read -r stps sqps <<<"${rate[serve$pr,$script]}"
		ratio="$(awk -v a="$sqps" -v b="$rqps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')"
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$script" "$what" "${pr:-(none wired)}" "$stps" "$sqps" "$rtps" "$rqps" "$ratio" >>"$table"
	done
done
column -t -s $'\t' "$table"
if [ "${profiles[0]}" = "" ]; then
	echo "note: this binary has no --cost-profile (the service-time model is not wired into serve), so serve runs the pure protocol model; the default-profile row cannot be measured"
fi
rm -rf "$work"
