#!/usr/bin/env bash
# serve-external-sysbench.sh: sysbench against `replbench serve --nodes-external`, DDL
# included: one nats-server, three `replbench node` processes and the coordinator, all on
# 127.0.0.1; then `sysbench oltp_insert` prepare (CREATE TABLE and CREATE INDEX through
# n1's endpoint, carried to every node process by the coordinator), run, the row count
# read back on n2 and n3, and cleanup (DROP TABLE); then `replbench run --target` on the
# target file serve wrote (its workload drops and creates its tables through the
# endpoints); everything stopped by PID at exit.
#
# usage: scripts/serve-external-sysbench.sh PROTOCOL   (galera | group-replication | semisync)
#   PORT_BASE  NATS on PORT_BASE, the endpoints on PORT_BASE+10.. (default 14700)
#   THREADS    sysbench run threads (default 8); TIME its seconds (default 10)
#   TABLE_SIZE rows prepare loads (default 10000)
#   REPLBENCH  the binary (default: built into the scratch directory)
#   NATS       the nats-server binary (default: built from the module go.mod pins)
set -euo pipefail
cd "$(dirname "$0")/.."
PROTO=${1:?usage: $0 galera|group-replication|semisync}
case "$PROTO" in galera | group-replication | semisync) ;; *)
	echo "unknown protocol $PROTO (accepted: galera, group-replication, semisync)" >&2
	exit 2
	;;
esac
PORT_BASE=${PORT_BASE:-14700}
THREADS=${THREADS:-8}
TIME=${TIME:-10}
TABLE_SIZE=${TABLE_SIZE:-10000}
WORK=$(mktemp -d /tmp/replbench-sb.XXXXXX)
pids=()
cleanup() {
	local status=$?
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$WORK"
	exit "$status"
}
trap cleanup EXIT INT TERM
REPLBENCH=${REPLBENCH:-}
if [[ -z "$REPLBENCH" ]]; then
	REPLBENCH=$WORK/replbench
	go build -o "$REPLBENCH" ./cmd/replbench
fi
NATS=${NATS:-}
if [[ -z "$NATS" ]]; then
	NATS=$WORK/nats-server
	go build -o "$NATS" github.com/nats-io/nats-server/v2
fi
URL=nats://127.0.0.1:$PORT_BASE
RUN=sb$$
EP=$((PORT_BASE + 10))
"$NATS" -a 127.0.0.1 -p "$PORT_BASE" >"$WORK/nats.log" 2>&1 &
pids+=($!)
# The nodes and serve connect once: wait until the server accepts clients.
for _ in $(seq 100); do
	grep -q 'Server is ready' "$WORK/nats.log" && break
	sleep 0.1
done
grep -q 'Server is ready' "$WORK/nats.log" || { echo "nats-server did not start:" >&2; cat "$WORK/nats.log" >&2; exit 1; }
for n in n1 n2 n3; do
	"$REPLBENCH" node --name $n --nats-url "$URL" --run-id "$RUN" >"$WORK/$n.log" 2>&1 &
	pids+=($!)
done
"$REPLBENCH" serve --nodes-external --nats-url "$URL" --run-id "$RUN" --protocol "$PROTO" \
	--listen 127.0.0.1:$EP --out "$WORK/runs" --target-file "$WORK/target.yaml" >"$WORK/serve.log" 2>&1 &
serve=$!
pids+=($serve)
for _ in $(seq 600); do
	grep -q '^connect:' "$WORK/serve.log" && break
	kill -0 "$serve" 2>/dev/null || break
	sleep 0.1
done
cat "$WORK/serve.log"
grep -q '^connect:' "$WORK/serve.log" || { echo "serve did not start serving (its log is above)" >&2; exit 1; }
my() { mysql -h 127.0.0.1 -P "$1" -uroot --skip-ssl -N -e "$2"; }
sb() {
	sysbench oltp_insert --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port=$EP --mysql-user=root \
		--mysql-password= --mysql-db=sbtest --mysql-ssl=off --tables=1 --table-size="$TABLE_SIZE" "$@"
}
echo "== n1: CREATE DATABASE sbtest"
my $EP "CREATE DATABASE sbtest"
echo "== sysbench prepare (through n1)"
sb prepare
for i in 1 2; do
	echo "== n$((i + 1)): SHOW CREATE TABLE / COUNT(*)"
	my $((EP + i)) "SHOW CREATE TABLE sbtest.sbtest1" | tr '\t' '\n' | tail -n +2
done
echo "== sysbench run --threads $THREADS --time $TIME (through n1)"
sb --threads="$THREADS" --time="$TIME" --report-interval=0 run | sed -n '/SQL statistics/,/Latency/p;/Latency/,/sum:/p'
n1=$(my $EP "SELECT COUNT(*) FROM sbtest.sbtest1")
sleep 1 # the replicas apply asynchronously to their readers
echo "== rows: n1 $n1, n2 $(my $((EP + 1)) "SELECT COUNT(*) FROM sbtest.sbtest1"), n3 $(my $((EP + 2)) "SELECT COUNT(*) FROM sbtest.sbtest1")"
echo "== sysbench cleanup (through n1)"
sb cleanup
echo "== n3: SHOW TABLES FROM sbtest: [$(my $((EP + 2)) "SHOW TABLES FROM sbtest")]"
my $EP "DROP DATABASE sbtest"
echo "== replbench run --target (the file serve wrote): insert, $THREADS threads, 5 s"
"$REPLBENCH" run --target "$WORK/target.yaml" --workload insert --threads "$THREADS" --duration 5s \
	--out "$WORK/target-runs" 2>&1 | tail -n 14
kill -TERM "$serve"
wait "$serve" && echo "== serve exited 0"
tail -n 2 "$WORK/serve.log"
