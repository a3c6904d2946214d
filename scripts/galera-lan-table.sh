#!/usr/bin/env bash
# galera-lan-table.sh: a real 3-node MariaDB Galera cluster on this host (Debian's
# mariadb-server and galera-4, no added delay) against the model with its built-in cost
# profile, sysbench oltp_insert and oltp_write_only at 1, 8 and 32 threads (issue 11's LAN
# table). Real and model run one after the other in this script, on the same machine and
# the same workload definitions (the model's sysbench workloads are sysbench's), the model's
# three nodes on one shared host as the real servers are; the table is
# throughput and mean latency of each with the model/real ratio, and the flow control the
# second member paused for in each.
#
# usage: scripts/galera-lan-table.sh [--out DIR] [--time 10] [--threads "1 8 32"] [--base-port 14800]
#   REPLBENCH=path   use an existing binary instead of building one
# The cluster is stopped by PID and nothing is left running (scripts/real-cluster.sh down).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=/tmp/replbench-lan-table
TIME=10
THREADS="1 8 32"
BASE=14800
while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=${2:?}; shift 2;;
	--time) TIME=${2:?}; shift 2;;
	--threads) THREADS=${2:?}; shift 2;;
	--base-port) BASE=${2:?}; shift 2;;
	-h|--help) sed -n 2,12p "$0"; exit 0;;
	*) echo "galera-lan-table.sh: unknown argument '$1' (accepted: --out DIR, --time SECONDS, --threads LIST, --base-port P)" >&2; exit 2;;
	esac
done
command -v sysbench >/dev/null || { echo "galera-lan-table.sh: sysbench is not installed (apt-get install sysbench)" >&2; exit 1; }
mkdir -p "$OUT"
ST=$(mktemp -d /tmp/replbench-lan-table-state.XXXXXX)
chmod 755 "$ST" # the servers run as the mysql user
cleanup() { "$ROOT/scripts/real-cluster.sh" down --state "$ST/cluster" >/dev/null 2>&1 || true; rm -rf "$ST"; }
trap cleanup EXIT
RB=${REPLBENCH:-}
if [ -z "$RB" ]; then RB=$ST/replbench; (cd "$ROOT" && go build -o "$RB" ./cmd/replbench); fi
load() { echo "load $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M:%S)"; }

echo "== real: 3-node MariaDB Galera on 127.0.0.1 ($(load))"
"$ROOT/scripts/real-cluster.sh" up galera --base-port "$BASE" --state "$ST/cluster" >/dev/null
P1=$((BASE + 1)); P2=$((BASE + 2))
SB=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-user=rb --mysql-password=rb --mysql-db=replbench --tables=1 --table-size=10000)
# n2's counters, in this order whatever order the server lists them in.
status() { mysql -h 127.0.0.1 -P $P2 -urb -prb -N -e "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_data_fsyncs','wsrep_flow_control_paused_ns','wsrep_last_committed')" |
	awk '{v[$1] = $2} END {print v["Innodb_data_fsyncs"], v["wsrep_flow_control_paused_ns"], v["wsrep_last_committed"]}'; }
: > "$OUT/real.tsv"
for test in oltp_insert oltp_write_only; do
	sysbench $test "${SB[@]}" --mysql-port=$P1 cleanup >/dev/null 2>&1 || true
	sysbench $test "${SB[@]}" --mysql-port=$P1 prepare >/dev/null
	for th in $THREADS; do
		before=$(status)
		sysbench $test "${SB[@]}" --mysql-port=$P1 --threads=$th --time=$TIME --report-interval=0 --histogram=off run > "$OUT/real-$test-$th.txt"
		after=$(status)
		tps=$(sed -n 's/.*transactions: *[0-9]* *(\([0-9.]*\) per sec.*/\1/p' "$OUT/real-$test-$th.txt")
		avg=$(awk '/avg:/ {print $2; exit}' "$OUT/real-$test-$th.txt")
		read -r f0 p0 c0 <<<"$before"; read -r f1 p1 c1 <<<"$after"
		fc=$(awk -v a="$p0" -v b="$p1" -v t="$TIME" 'BEGIN { printf "%.2f", (b - a) / 1e9 / t }')
		printf "%s\t%s\t%s\t%s\t%s\t%s\n" "$test" "$th" "$tps" "$avg" "$fc" "$((f1 - f0))/$((c1 - c0))" >> "$OUT/real.tsv"
		echo "real  $test threads=$th: $tps tps, avg $avg ms, n2 flow control paused $fc of the time, n2 fsyncs/applied $((f1 - f0))/$((c1 - c0)) ($(load))"
	done
done
"$ROOT/scripts/real-cluster.sh" down --state "$ST/cluster" >/dev/null

# The real cluster's three servers share this host's cores, so the model's three nodes share
# one host too: the built-in profile, unchanged but for host.shared_by_nodes (a placement,
# not a cost: nothing in it is fitted to this table).
PROFILE=$ST/galera-4-mariadb-10.11-one-host.yaml
sed -e 's/^name: galera-4-mariadb-10.11$/name: galera-4-mariadb-10.11-one-host/' \
	-e 's/^\(    cores: .*\)$/\1\n    shared_by_nodes: true/' \
	"$ROOT/protocols/servicetime/profiles/galera-4-mariadb-10.11.yaml" > "$PROFILE"
grep -q 'shared_by_nodes: true' "$PROFILE" || { echo "galera-lan-table.sh: could not derive the one-host profile" >&2; exit 1; }
echo "== model: replbench run --protocol galera, the built-in profile on one shared host ($(load))"
: > "$OUT/model.tsv"
for test in oltp_insert oltp_write_only; do
	"$RB" run --protocol galera --workload $test --threads "$(echo $THREADS | tr ' ' ,)" --duration ${TIME}s --cost-profile "$PROFILE" \
		--out "$OUT/runs" --json "$OUT/model-$test.json" > "$OUT/model-$test.log" 2>&1
	python3 - "$OUT/model-$test.json" "$test" >> "$OUT/model.tsv" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for p in d['points']:
    st = p.get('status', {}).get('n2', {})
    paused = float(st.get('wsrep_flow_control_paused', 0) or 0)
    print('%s\t%d\t%.2f\t%.2f\t%.2f' % (sys.argv[2], p['threads'], p['tps'], p['latency_ms']['mean'], paused))
PY
done
echo "== the table ($(load))"
python3 - "$OUT/real.tsv" "$OUT/model.tsv" <<'PY'
import sys
real = {(l.split('\t')[0], l.split('\t')[1]): l.rstrip('\n').split('\t') for l in open(sys.argv[1]) if l.strip()}
print('%-16s %7s %10s %10s %6s %9s %9s %8s %8s' % ('workload', 'threads', 'real tps', 'model tps', 'ratio', 'real ms', 'model ms', 'real FC', 'model FC'))
for l in open(sys.argv[2]):
    m = l.rstrip('\n').split('\t')
    r = real.get((m[0], m[1]))
    if not r:
        continue
    print('%-16s %7s %10.1f %10.1f %6.2f %9.2f %9.2f %8s %8s' % (m[0], m[1], float(r[2]), float(m[2]), float(m[2]) / float(r[2]), float(r[3]), float(m[3]), r[4], m[4]))
PY
pgrep -a mariadbd && { echo "galera-lan-table.sh: a mariadbd is still running" >&2; exit 1; } || true
