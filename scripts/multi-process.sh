#!/usr/bin/env bash
# multi-process.sh: replbench with every node in its own process, over a 3-server NATS
# cluster, all on this machine: the same layout as three machines, with 127.0.0.1 for
# their addresses.
#
# It builds nats-server from the module go.mod pins and replbench, starts three NATS
# servers joined by cluster routes, three `replbench node` processes (one per server),
# and a coordinator (`replbench run --nodes-external`) that runs insert and hotspot on
# galera, gr and semisync; then prints the results and stops everything it started, by
# PID, on any exit.
#
# With --kill-restart (the first argument) every node runs under `replbench node --supervise`
# and the coordinator runs insert for DURATION on galera, gr and semisync with n2's process
# killed (SIGKILL) at 1 s and restarted at 2 s: the new process reopens n2's data directory
# and rejoins through the protocol's restart path; the table shows what was committed, the
# lost-acknowledged verdict and convergence.
#
# With --serve (the first argument) every node runs under `replbench node --supervise` and
# the coordinator is `replbench serve --nodes-external` on galera: each node process opens
# its own MySQL endpoint at its own address (--listen n1=...,n2=...,n3=...), n2's process
# is killed at 2 s and restarted at 5 s, and the mysql client inserts through n1 the whole
# for INSERT_FOR and reads back through n2 once it serves again; then the script stops serve
# with SIGTERM (as Ctrl-C would), serve checks convergence and writes its run directory, and
# the script prints its fault record, verdict and each node's Com_insert / Com_select /
# wsrep_cluster_size.
#
# usage: scripts/multi-process.sh [--kill-restart | --serve] [extra replbench run/serve flags...]
#   PORT_BASE   first of the ports used (default 14700: client ports BASE..BASE+2,
#               cluster ports BASE+10..BASE+12)
#   WORK        scratch directory (default: a fresh one under /tmp, removed at exit)
#   QUERIES     transactions per point (default 2000)
#   THREADS     client threads per point (default 8)
#   NETWORK     network preset (default lan)
#   DURATION    measured phase of --kill-restart (default 4s)
#   INSERT_FOR  seconds --serve inserts through n1 (default 8); endpoints on ports BASE+20..BASE+22
set -euo pipefail

cd "$(dirname "$0")/.."
PORT_BASE=${PORT_BASE:-14700}
QUERIES=${QUERIES:-2000}
THREADS=${THREADS:-8}
NETWORK=${NETWORK:-lan}
DURATION=${DURATION:-4s}
INSERT_FOR=${INSERT_FOR:-8}
KILL_RESTART=""
SERVE=""
if [[ "${1:-}" == "--kill-restart" ]]; then
	KILL_RESTART=1
	shift
elif [[ "${1:-}" == "--serve" ]]; then
	SERVE=1
	shift
fi
KEEP_WORK=${WORK:+1}
WORK=${WORK:-$(mktemp -d /tmp/replbench-mp.XXXXXX)}
mkdir -p "$WORK"
RUN_ID="mp$$"

pids=()
cleanup() {
	local status=$?
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [[ -z "$KEEP_WORK" ]]; then
		rm -rf "$WORK"
	fi
	exit "$status"
}
trap cleanup EXIT INT TERM

echo "== building nats-server (pinned in go.mod) and replbench into $WORK"
go build -o "$WORK/nats-server" github.com/nats-io/nats-server/v2
go build -o "$WORK/replbench" ./cmd/replbench

urls=()
routes=""
for i in 0 1 2; do
	routes+="${routes:+,}nats://127.0.0.1:$((PORT_BASE + 10 + i))"
	urls+=("nats://127.0.0.1:$((PORT_BASE + i))")
done
echo "== starting a 3-server NATS cluster on ${urls[*]}"
for i in 0 1 2; do
	"$WORK/nats-server" -a 127.0.0.1 -p $((PORT_BASE + i)) -n "nats$((i + 1))" \
		--cluster_name replbench --cluster "nats://127.0.0.1:$((PORT_BASE + 10 + i))" \
		--routes "$routes" >"$WORK/nats$((i + 1)).log" 2>&1 &
	pids+=($!)
done
for i in 1 2 3; do
	for _ in $(seq 50); do
		if grep -q "Server is ready" "$WORK/nats$i.log"; then break; fi
		sleep 0.1
	done
done
sleep 1 # let the routes connect

supervise=()
if [[ -n "$KILL_RESTART$SERVE" ]]; then
	supervise=(--supervise --data-dir "$WORK/data")
fi
echo "== starting replbench node ${supervise[*]:0:1} n1, n2, n3 (run id $RUN_ID), one per NATS server"
for i in 1 2 3; do
	"$WORK/replbench" node --name "n$i" --nats-url "${urls[$((i - 1))]}" --run-id "$RUN_ID" \
		"${supervise[@]}" >"$WORK/n$i.log" 2>&1 &
	pids+=($!)
	echo "   n$i pid $! -> ${urls[$((i - 1))]}"
done

all_urls=$(IFS=,; echo "${urls[*]}")
if [[ -n "$SERVE" ]]; then
	listen="n1=127.0.0.1:$((PORT_BASE + 20)),n2=127.0.0.1:$((PORT_BASE + 21)),n3=127.0.0.1:$((PORT_BASE + 22))"
	echo "== coordinator: serve --nodes-external galera at $listen, kill n2 at 2s, restart at 5s"
	"$WORK/replbench" serve --nodes-external --nats-url "$all_urls" --run-id "$RUN_ID" --protocol galera \
		--listen "$listen" --fault 2s:kill=n2 --fault 5s:restart=n2 \
		--user rb --password rb --out "$WORK/runs" --target-file "$WORK/target.yaml" "$@" \
		>"$WORK/serve.out" 2>"$WORK/serve.err" &
	serve_pid=$!
	pids+=("$serve_pid")
	for _ in $(seq 600); do
		if grep -q "^connect:" "$WORK/serve.out" 2>/dev/null || ! kill -0 "$serve_pid" 2>/dev/null; then break; fi
		sleep 0.1
	done
	sed 's/^/   /' "$WORK/serve.out"
	sql() { mysql -h 127.0.0.1 -P "$1" -urb -prb replbench --connect-timeout=2 -N -e "$2"; }
	ok=0 failed=0
	echo "== mysql: INSERT through n1 (port $((PORT_BASE + 20))) every 50 ms for ${INSERT_FOR}s while n2 is killed and restarted"
	end=$((SECONDS + INSERT_FOR))
	while ((SECONDS < end)); do
		if sql $((PORT_BASE + 20)) "INSERT INTO t1 (a) VALUES ('mp')" 2>>"$WORK/mysql.err"; then ok=$((ok + 1)); else failed=$((failed + 1)); fi
		sleep 0.05
	done
	echo "   $ok inserts acknowledged, $failed failed"
	echo "== mysql: SELECT COUNT(*) through n2 (port $((PORT_BASE + 21)), its new process) with wsrep_sync_wait=1"
	for _ in $(seq 50); do
		if n=$(sql $((PORT_BASE + 21)) "SET SESSION wsrep_sync_wait=1; SELECT COUNT(*) FROM t1 WHERE a = 'mp'" 2>>"$WORK/mysql.err"); then
			echo "   n2 has $n rows 'mp'"
			break
		fi
		sleep 0.2
	done
	echo "== kill -TERM $serve_pid (serve)"
	kill -TERM "$serve_pid"
	set +e
	wait "$serve_pid"
	rc=$?
	set -e
	echo "== serve stopped (exit $rc)"
	sed 's/^/   /' "$WORK/serve.out" | tail -n 1
	sed 's/^/   /' "$WORK/serve.err"
	for f in "$WORK"/runs/*-serve-galera/serve.json; do
		echo "== $f"
		python3 - "$f" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("   converged:", r["converged"], r.get("converge_detail", ""))
for f in r["faults"]:
    print("   fault:", f)
for n, st in sorted(r["status"].items()):
    print("   %s: Com_insert %s, Com_select %s, Connections %s, wsrep_cluster_size %s" % (n, st.get("Com_insert"), st.get("Com_select"), st.get("Connections"), st.get("wsrep_cluster_size")))
PY
	done
	echo "== node logs"
	for i in 1 2 3; do sed "s/^/   /" "$WORK/n$i.log"; done
	exit "$rc"
elif [[ -n "$KILL_RESTART" ]]; then
	cat >"$WORK/multi-process.yaml" <<YAML
name: multi-process-kill-restart
description: >-
  insert on galera, gr and semisync, every node in its own supervised process over a
  3-server NATS cluster, n2's process killed at 1 s and restarted at 2 s
  (scripts/multi-process.sh --kill-restart).
cluster:
  nodes: 3
workload:
  name: insert
duration: $DURATION
threads: [$THREADS]
writers: [n1]
network:
  preset: $NETWORK
faults: ["1s:kill=n2", "2s:restart=n2"]
sweep:
  protocols: [galera, gr, semisync]
YAML
	echo "== coordinator: insert on galera, gr and semisync for $DURATION, $THREADS threads, $NETWORK, kill n2 at 1s, restart at 2s"
else
cat >"$WORK/multi-process.yaml" <<YAML
name: multi-process
description: >-
  insert and hotspot on galera, gr and semisync, every node in its own process over a
  3-server NATS cluster (scripts/multi-process.sh).
cluster:
  nodes: 3
workload:
  name: insert
queries: $QUERIES
threads: [$THREADS]
network:
  preset: $NETWORK
sweep:
  protocols: [galera, gr, semisync]
  workloads:
    - name: insert
    - name: hotspot
YAML
echo "== coordinator: insert and hotspot on galera, gr and semisync, $QUERIES transactions, $THREADS threads, $NETWORK"
fi
set +e
"$WORK/replbench" run "$WORK/multi-process.yaml" --nodes-external --nats-url "$all_urls" \
	--run-id "$RUN_ID" --out "$WORK/runs" --no-progress "$@"
rc=$?
set -e
echo "== convergence per point (results.json)"
for f in "$WORK"/runs/*/results.json; do
	[[ -f "$f" ]] && grep -o '"protocol": "[^"]*"\|"converged": [a-z]*' "$f" | paste -d' ' - - | sed 's/^/   /'
done
echo "== node logs"
for i in 1 2 3; do sed "s/^/   /" "$WORK/n$i.log"; done
exit "$rc"
