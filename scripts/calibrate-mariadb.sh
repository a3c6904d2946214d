#!/usr/bin/env bash
# calibrate-mariadb.sh: the single-node measurements the built-in MariaDB cost profiles come
# from (issue 11, point 4), on this host, with no added delay, from Debian's mariadb-server
# and galera-4 packages. Nothing here is multi-node or delayed: those runs are what the
# profiles must predict.
#
#   1. a standalone server: replbench calibrate --target (every probe at 1, 4 and 16
#      clients, innodb_flush_log_at_trx_commit 2 then 1)        -> OUT/standalone-probes.txt
#   2. a one-member Galera cluster: the certification probe (inserts in wsrep_on=1 and
#      wsrep_on=0 sessions on the same server, alternating rounds) -> OUT/cert-probes.txt
#   3. the binlog's cost on a standalone server: one-client inserts at flush=1 with
#      log_bin + sync_binlog=1 and without, alternating rounds     -> OUT/binlog.txt
#   4. the profiles: OUT/mariadb-10.11.yaml and OUT/galera-4-mariadb-10.11.yaml by
#      replbench calibrate --from, and the binlog cost's median difference (OUT/binlog-us),
#      which the semisync-* and gr-mysql-8.0 profiles take as commit.binlog_fsync_us.
#
# Run it on an idle machine (the load average is printed before and after each step): the
# probes' figures are CPU and fsync times of this host. Servers are started and stopped with
# scripts/real-cluster.sh (by PID); nothing is left running.
#
# usage: scripts/calibrate-mariadb.sh [--out DIR] [--probe-time 5s] [--rounds 3] [--base-port 14800]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=/tmp/replbench-calibration
PT=5s
ROUNDS=3
BASE=14800
while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=${2:?}; shift 2;;
	--probe-time) PT=${2:?}; shift 2;;
	--rounds) ROUNDS=${2:?}; shift 2;;
	--base-port) BASE=${2:?}; shift 2;;
	-h|--help) sed -n 2,22p "$0"; exit 0;;
	*) echo "calibrate-mariadb.sh: unknown argument '$1' (accepted: --out DIR, --probe-time DUR, --rounds N, --base-port P)" >&2; exit 2;;
	esac
done
case "$ROUNDS" in ''|*[!0-9]*|0) echo "calibrate-mariadb.sh: --rounds '$ROUNDS' (accepted: a positive number)" >&2; exit 2;; esac
mkdir -p "$OUT"
ST=$(mktemp -d /tmp/replbench-calibration-state.XXXXXX)
chmod 755 "$ST" # the servers run as the mysql user
RB=$ST/replbench
TT=$ST/target.test
cleanup() { "$ROOT/scripts/real-cluster.sh" down --state "$ST/cluster" >/dev/null 2>&1 || true; rm -rf "$ST"; }
trap cleanup EXIT
(cd "$ROOT" && go build -o "$RB" ./cmd/replbench && go test -c -o "$TT" ./harness/target)
up() { "$ROOT/scripts/real-cluster.sh" up "$@" --state "$ST/cluster" --base-port "$BASE" >/dev/null; }
down() { "$ROOT/scripts/real-cluster.sh" down --state "$ST/cluster" >/dev/null; }
load() { echo "  load $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M:%S)"; }

echo "== 1. standalone: replbench calibrate --target (probe time $PT)"; load
up standalone
"$RB" calibrate --target "$ST/cluster/target.yaml" --probe-time "$PT" --cores "$(nproc)" --name mariadb-10.11 \
	--probes-out "$OUT/standalone-probes.txt" --out "$OUT/standalone-only.yaml"
down
[ -s "$OUT/standalone-probes.txt" ] || { echo "calibrate-mariadb.sh: the standalone probes failed" >&2; exit 1; }

echo "== 2. one-member galera: the certification probe ($ROUNDS rounds, clients 1,4)"; load
up galera --nodes 1 --flush 2
"$RB" calibrate --target "$ST/cluster/target.yaml" --from "$OUT/standalone-probes.txt" --rounds "$ROUNDS" --clients 1,4 \
	--probe-time "$PT" --cores "$(nproc)" --name galera-4-mariadb-10.11 --probes-out "$OUT/cert-probes.txt" \
	--out "$OUT/galera-only.yaml"
down
[ -s "$OUT/cert-probes.txt" ] || { echo "calibrate-mariadb.sh: the certification probe failed" >&2; exit 1; }

echo "== 3. the binlog's cost: insert c=1 at flush=1, log_bin + sync_binlog=1 against without ($ROUNDS rounds)"; load
: > "$OUT/binlog.txt"
for r in $(seq 1 "$ROUNDS"); do
	for b in off on; do
		X=(); [ $b = on ] && X=(--sync-binlog 1)
		up standalone --flush 1 "${X[@]}"
		REPLBENCH_TARGET=$ST/cluster/target.yaml REPLBENCH_PROBE_TIME=$PT REPLBENCH_PROBE_KINDS=insert REPLBENCH_PROBE_CLIENTS=1 \
			"$TT" -test.run '^TestProbe$' -test.v -test.count=1 2>&1 | sed -n 's/^ *real_test.go:[0-9]*: //p' | grep -E '^n1 ' |
			sed "s/^/binlog=$b round=$r /" | tee -a "$OUT/binlog.txt"
		down
	done
done

echo "== 4. profiles"; load
"$RB" calibrate --from "$OUT/standalone-probes.txt" --server standalone --cores "$(nproc)" --name mariadb-10.11 --out "$OUT/mariadb-10.11.yaml"
"$RB" calibrate --from "$OUT/standalone-probes.txt,$OUT/cert-probes.txt" --server galera --cores "$(nproc)" --name galera-4-mariadb-10.11 --out "$OUT/galera-4-mariadb-10.11.yaml"
awk '/^binlog=/ { split($0, a, /mean +/); split(a[2], m, "us"); v[$1] = v[$1] " " m[1] }
	function med(s,   x, n, i, j, t) { n = split(s, x, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] + 0 < x[i] + 0) { t = x[i]; x[i] = x[j]; x[j] = t }
		return n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2 }
	END { on = med(v["binlog=on"]); off = med(v["binlog=off"]); printf "%.0f\n", on - off
		printf "binlog: with log_bin+sync_binlog=1 c=1 insert means (us)%s, median %s; without%s, median %s; difference %.0f us\n", v["binlog=on"], on, v["binlog=off"], off, on - off > "/dev/stderr" }' \
	"$OUT/binlog.txt" > "$OUT/binlog-us"
grep -h '^measured' "$OUT/mariadb-10.11.yaml" "$OUT/galera-4-mariadb-10.11.yaml"
echo "== done: $OUT"; load
pgrep -a mariadbd && { echo "calibrate-mariadb.sh: a mariadbd is still running" >&2; exit 1; } || true
