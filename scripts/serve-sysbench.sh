#!/usr/bin/env bash
# Point the real clients at an emulated cluster: bring up `replbench serve` (galera, 3 nodes,
# wan-50 unless told otherwise), run Debian's unmodified sysbench oltp scripts (prepare, run,
# cleanup) and the documents' mysqlslap command against n1's endpoint, stop the server
# (which checks convergence and writes its run directory), then run `replbench run` with the
# same workload on the same cluster and network, and print both side by side.
#
# Usage: scripts/serve-sysbench.sh [--protocol P] [--network N] [--nodes N] [--port PORT]
#          [--scripts S,...] [--threads T] [--time SECONDS] [--tables N] [--table-size N]
#          [--concurrency C,...] [--queries N] [--param NAME=VALUE]... [--fault AT:EVENT]...
#          [--out DIR]
#          [--no-compare] [--ci]
#   --port 0 lets every node pick a free port (default 3311: n1 3311, n2 3312, ...)
#   --param and --fault go to serve and to the replbench run beside it
#   --ci    fail on any client error other than 1213 (sysbench --mysql-ignore-errors=1213)
#           and when serve reports that the nodes did not converge
#   REPLBENCH=path   use an existing binary instead of building one
# Tools: sysbench and mariadb-client (mysql, mysqlslap) from Debian.
# Exit status: 0 when every client run succeeded and the cluster converged; 1 otherwise;
# 2 for bad arguments.
set -euo pipefail
cd "$(dirname "$0")/.."

protocol=galera
network=wan-50
nodes=""
port=3311
scripts="oltp_read_write,oltp_point_select,oltp_insert"
threads=8
time=10
tables=1
tablesize=10000
concurrency="1,8"
queries=500
params=()
out=""
compare=1
ci=0
while [ $# -gt 0 ]; do
	case "$1" in
	--protocol) protocol="$2"; shift 2 ;;
	--network) network="$2"; shift 2 ;;
	--nodes) nodes="$2"; shift 2 ;;
	--port) port="$2"; shift 2 ;;
	--scripts) scripts="$2"; shift 2 ;;
	--threads) threads="$2"; shift 2 ;;
	--time) time="$2"; shift 2 ;;
	--tables) tables="$2"; shift 2 ;;
	--table-size) tablesize="$2"; shift 2 ;;
	--concurrency) concurrency="$2"; shift 2 ;;
	--queries) queries="$2"; shift 2 ;;
	--param) params+=(--param "$2"); shift 2 ;;
	--fault) params+=(--fault "$2"); shift 2 ;;
	--out) out="$2"; shift 2 ;;
	--no-compare) compare=0; shift ;;
	--ci) ci=1; shift ;;
	*) echo "serve-sysbench: unknown argument $1 (accepted: --protocol, --network, --nodes, --port, --scripts, --threads, --time, --tables, --table-size, --concurrency, --queries, --param, --fault, --out, --no-compare, --ci)" >&2; exit 2 ;;
	esac
done
for tool in sysbench mysql mysqlslap; do
	if ! command -v "$tool" >/dev/null; then
		echo "serve-sysbench: $tool is not installed (apt-get install sysbench mariadb-client)" >&2
		exit 2
	fi
done
work="$(mktemp -d)"
[ -n "$out" ] || out="$work/runs"
mkdir -p "$out"

bin="${REPLBENCH:-}"
if [ -z "$bin" ]; then
	bin="$work/replbench"
	echo "== building replbench" >&2
	go build -o "$bin" ./cmd/replbench
fi

nodeflags=()
[ -z "$nodes" ] || nodeflags=(--nodes "$nodes")

# serve in the background; its table and final line go to serve.log.
"$bin" serve --protocol "$protocol" --network "$network" "${nodeflags[@]}" "${params[@]}" \
	--listen "127.0.0.1:$port" --out "$out" >"$work/serve.log" 2>"$work/serve.err" &
serve_pid=$!
stop_serve() {
	if kill -0 "$serve_pid" 2>/dev/null; then
		kill -TERM "$serve_pid"
		wait "$serve_pid" || return $?
	fi
}
trap 'kill -TERM $serve_pid 2>/dev/null || true; wait $serve_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
	grep -q '^connect: ' "$work/serve.log" 2>/dev/null && break
	if ! kill -0 "$serve_pid" 2>/dev/null; then
		cat "$work/serve.err" >&2
		echo "serve-sysbench: replbench serve exited before serving" >&2
		exit 1
	fi
	sleep 0.1
done
cat "$work/serve.log"
read -r host sport < <(sed -n 's/^connect: mysql -h \([^ ]*\) -P \([0-9]*\) .*/\1 \2/p' "$work/serve.log")
if [ -z "${sport:-}" ]; then
	echo "serve-sysbench: replbench serve did not print its address" >&2
	exit 1
fi

failed=0
results=() # "client|workload|threads|serve tps|run flags"
run_client() { # name args...: run a client, print its output, record a failure
	echo "\$ $*"
	if ! "$@" 2>&1 | tee "$work/last.out"; then
		failed=1
		echo "serve-sysbench: FAILED: $*" >&2
		return 1
	fi
	if grep -q 'FATAL' "$work/last.out"; then
		failed=1
		echo "serve-sysbench: FAILED (fatal error): $*" >&2
		return 1
	fi
}

mysql -h "$host" -P "$sport" -uroot -e "CREATE DATABASE IF NOT EXISTS sbtest; CREATE DATABASE IF NOT EXISTS test"
sb=(--db-driver=mysql --mysql-host="$host" --mysql-port="$sport" --mysql-user=root --mysql-db=sbtest
	--tables="$tables" --table-size="$tablesize")
[ "$ci" -eq 0 ] || sb+=(--mysql-ignore-errors=1213)
IFS=, read -r -a scriptlist <<<"$scripts"
for s in "${scriptlist[@]}"; do
	echo "== sysbench $s against replbench serve ($protocol, $network)"
	run_client sysbench "$s" prepare "${sb[@]}" || continue
	if run_client sysbench "$s" run --threads="$threads" --time="$time" --report-interval=0 "${sb[@]}"; then
		tps="$(sed -n 's/.*transactions: *[0-9]* *(\([0-9.]*\) per sec.*/\1/p' "$work/last.out")"
		ign="$(sed -n 's/.*ignored errors: *\([0-9]*\) .*/\1/p' "$work/last.out")"
		results+=("sysbench|$s|$threads|$tps|${ign:-0}|--workload $s --threads $threads --duration ${time}s --tables $tables --table-size $tablesize")
	fi
	run_client sysbench "$s" cleanup "${sb[@]}" || true
done

# The documents' command: mysqlslap inserting into t1 with --concurrency=$i.
mysql -h "$host" -P "$sport" -uroot test -e "CREATE TABLE IF NOT EXISTS t1 (id INT AUTO_INCREMENT PRIMARY KEY, a CHAR(5) DEFAULT NULL)"
IFS=, read -r -a conclist <<<"$concurrency"
for i in "${conclist[@]}"; do
	echo "== mysqlslap (the documents' command) --concurrency=$i against replbench serve ($protocol, $network)"
	if run_client mysqlslap --host="$host" --port="$sport" --user=root --delimiter=";" --number-of-queries="$queries" \
		--create-schema=test --concurrency="$i" --query="insert into t1 set a='fooBa'"; then
		secs="$(sed -n 's/.*Average number of seconds to run all queries: *\([0-9.]*\) .*/\1/p' "$work/last.out")"
		tps="$(awk -v q="$queries" -v s="$secs" 'BEGIN { if (s > 0) printf "%.2f", q / s; else print "inf" }')"
		results+=("mysqlslap|insert|$i|$tps|0|--workload insert --threads $i --queries $queries")
	fi
done

echo "== stopping replbench serve"
serve_rc=0
stop_serve || serve_rc=$?
trap - EXIT
cat "$work/serve.err" | grep -v '^replbench serve: \(loading\|starting\)' || true
tail -n 1 "$work/serve.log"
if [ "$serve_rc" -ne 0 ]; then
	echo "serve-sysbench: FAILED: replbench serve exited $serve_rc (not converged, or an error above)" >&2
	failed=1
fi

printf '\n== %s, %s: the real client against replbench serve, beside replbench run on the same workload\n' "$protocol" "$network"
table="$work/table"
printf 'client\tworkload\tthreads\tserve tps\tignored errors\trun tps\n' >"$table"
for r in "${results[@]}"; do
	IFS='|' read -r client wl thr tps ign flags <<<"$r"
	runtps="-"
	if [ "$compare" -eq 1 ]; then
		# shellcheck disable=SC2086 # flags is a word list built above
		if "$bin" run --protocol "$protocol" --network "$network" "${nodeflags[@]}" "${params[@]}" $flags \
			--out "$work/runs-run" --no-progress >"$work/run.out" 2>&1; then
			runtps="$(sed -n 's/.*transactions: *[0-9]* *(\([0-9.]*\) per sec.*/\1/p' "$work/run.out" | head -n 1)"
		else
			runtps="failed"
			tail -n 3 "$work/run.out" >&2
		fi
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$client" "$wl" "$thr" "$tps" "$ign" "$runtps" >>"$table"
done
column -t -s $'\t' "$table"
echo "serve's run directory: $(ls -d "$out"/*-serve-* | tail -n 1)"
rm -rf "$work"
exit "$failed"
