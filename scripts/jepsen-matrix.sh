#!/usr/bin/env bash
# The Jepsen-style matrix of issue 16: for each protocol, every fault schedule against every
# checker workload, run through the binary exactly as a user would, and one table per
# protocol of what the checkers said: the lost acknowledged writes (with the first one's
# GTID/seqno), the anomaly classes Elle, porcupine and the bank checker found, the strongest
# consistency model the history is still consistent with, convergence and the exit code.
#
#   protocols: galera (writers all), group-replication (single primary, clients on every
#              node: secondaries only read), semisync and async (source n1, clients on every
#              node: replicas only read), standalone (1 node)
#   schedules: none; partition (n3 cut off 1 s-2 s); kill+restart of n1; crash+restart of
#              n1; crash=all with innodb_flush_log_at_trx_commit=1 and with =2; pause of n1
#              (1 s-2 s); the random nemesis (seed 1), one fault at a time;
#              compound ones, a node fault while a network fault is in force:
#              crash-in-partition (n1 cut off at 1 s, crashed at 1.5 s, restarted at 2 s while
#              still cut off, healed at 2.5 s), crash-all-in-partition-flush1 (the same split,
#              every node crashed at 1.5 s and restarted at 2 s, flush=1: Jepsen's "crashes with
#              partitions" at the safe setting), kill-in-pause (n1 paused at 1 s, killed at
#              1.5 s, restarted at 2 s), random-compound (random=SEED,compound: a node fault
#              inside each network fault, see harness/nemesis.go)
#   workloads: list-append and rw-register (plain SELECT then UPDATE, the workloads'
#              default), bank, register (linearizability), insert (lost-acknowledged per row).
#              A workload may carry options as NAME:OPT=V[:OPT=V], e.g.
#              list-append:read=for-update, whose lost-acknowledged column then counts only
#              writes lost by durability or replication (a plain read-modify-write also
#              overwrites appends: lost updates, which that column counts too)
#
# The judged column reads each point's checkers: pass; expected (every anomaly class found
# is one the protocol's documented guarantees allow under the point's settings and faults,
# e.g. InnoDB REPEATABLE READ's lost update under plain reads, stale reads at
# wsrep_sync_wait=0, acknowledged commits lost when every copy crashed at
# innodb_flush_log_at_trx_commit=2; the point's verdicts say which mechanism and why);
# UNEXPECTED: the classes nothing documented allows there (a bug to triage); and
# NOT CONVERGED, never expected. See harness/verdicts.go (allowances) and the README's
# "Reading a failure: expected or unexpected".
#
# A schedule the protocol refuses before the run (a restart where the model cannot rejoin a
# node, a partition of a one-node cluster) is shown as "refused" with the reason, not run.
# Every point is short (--duration, 3 s by default): a cell is evidence of what the
# mechanism does under that schedule, not a statistic. The points run under flock
# /tmp/bench.lock, released between two schedules once held for JEPSEN_MATRIX_HOLD seconds
# (6 minutes): a Galera or GR schedule takes about 20 s, a semi-sync or async one one to two
# minutes (a replica that does not catch up costs the 30 s no-progress bound of the
# convergence wait, and the replicas' read-only clients make histories of up to a million
# operations), so a locked session stays under 10 minutes and other heavy runs get the
# machine between sessions without the matrix queueing for the lock at every schedule.
#
# Usage: scripts/jepsen-matrix.sh [--out DIR] [--protocols P,...] [--schedules S,...]
#                                 [--workloads W,...] [--duration D] [--threads N] [--seed S]
#   REPLBENCH=path   use an existing binary instead of building one
#   JEPSEN_MATRIX_LOCKED=1   the caller holds /tmp/bench.lock already (flock /tmp/bench.lock
#                    env JEPSEN_MATRIX_LOCKED=1 scripts/jepsen-matrix.sh): take it no more
#   JEPSEN_MATRIX_HOLD=S     release the lock between schedules after holding it S seconds
# Output: the tables on standard output; DIR/rows.tsv, DIR/rows.csv and DIR/summary.json
# (the rows as objects, and per protocol the count of points that passed, failed only as
# the protocol documents, failed unexpectedly, were refused), and
# DIR/<protocol>-<schedule>-<workload>.json/.log per point (the run directories, with histories and witness pictures, under
# DIR/runs). Exit status: 0 when every point ran (whatever its verdicts: finding anomalies is
# the point of the matrix), 1 when a point failed to run.
set -euo pipefail
cd "$(dirname "$0")/.."

out="$(mktemp -d)/jepsen-matrix"
protos="galera,group-replication,semisync,async,standalone"
all_schedules="none,partition,kill,crash,crash-all-flush1,crash-all-flush2,pause,random,crash-in-partition,crash-all-in-partition-flush1,kill-in-pause,random-compound"
schedules="$all_schedules"
wls="list-append,rw-register,bank,register,insert"
duration=3s
threads=4
seed=1
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out="$2"; shift 2 ;;
	--protocols) protos="$2"; shift 2 ;;
	--schedules) schedules="$2"; shift 2 ;;
	--workloads) wls="$2"; shift 2 ;;
	--duration) duration="$2"; shift 2 ;;
	--threads) threads="$2"; shift 2 ;;
	--seed) seed="$2"; shift 2 ;;
	*) echo "jepsen-matrix: unknown argument $1 (accepted: --out, --protocols, --schedules, --workloads, --duration, --threads, --seed)" >&2; exit 2 ;;
	esac
done
for s in ${schedules//,/ }; do
	case ",$all_schedules," in
	*",$s,"*) ;;
	*) echo "jepsen-matrix: unknown schedule $s (accepted: ${all_schedules//,/, })" >&2; exit 2 ;;
	esac
done
mkdir -p "$out"

bin="${REPLBENCH:-}"
if [ -z "$bin" ]; then
	bin="$(mktemp -d)/replbench"
	echo "== building replbench" >&2
	go build -o "$bin" ./cmd/replbench
fi

# schedule_args NAME prints the fault (and parameter) flags of one schedule.
schedule_args() {
	case "$1" in
	none) echo "" ;;
	partition) echo "--fault 1s:partition=n3|n1,n2 --fault 2s:heal" ;;
	kill) echo "--fault 1s:kill=n1 --fault 2s:restart=n1" ;;
	crash) echo "--fault 1s:crash=n1 --fault 2s:restart=n1" ;;
	crash-all-flush1) echo "--fault 1500ms:crash=all --fault 2s:restart=all --param innodb_flush_log_at_trx_commit=1" ;;
	crash-all-flush2) echo "--fault 1500ms:crash=all --fault 2s:restart=all --param innodb_flush_log_at_trx_commit=2" ;;
	pause) echo "--fault 1s:pause=n1 --fault 2s:resume=n1" ;;
	random) echo "--fault 0s:random=$seed" ;;
	crash-in-partition) echo "--fault 1s:partition=n1|n2,n3 --fault 1500ms:crash=n1 --fault 2s:restart=n1 --fault 2500ms:heal" ;;
	crash-all-in-partition-flush1) echo "--fault 1s:partition=n1|n2,n3 --fault 1500ms:crash=all --fault 2s:restart=all --fault 2500ms:heal --param innodb_flush_log_at_trx_commit=1" ;;
	kill-in-pause) echo "--fault 1s:pause=n1 --fault 1500ms:kill=n1 --fault 2s:restart=n1" ;;
	random-compound) echo "--fault 0s:random=$seed,compound" ;;
	esac
}

IFS=, read -r -a protolist <<<"$protos"
IFS=, read -r -a schedlist <<<"$schedules"
IFS=, read -r -a wllist <<<"$wls"
status=0
rows="$out/rows.tsv"
: >"$rows"
# The lock is taken before a schedule and released after one once it has been held for
# JEPSEN_MATRIX_HOLD seconds (default 360), so a locked session stays well under 10 minutes
# without queueing for the lock again at every schedule.
hold="${JEPSEN_MATRIX_HOLD:-360}"
held_since=""
lock() {
	[ -z "${JEPSEN_MATRIX_LOCKED:-}" ] || return 0
	if [ -z "$held_since" ]; then
		flock 9
		held_since=$SECONDS
	fi
}
unlock() {
	[ -z "${JEPSEN_MATRIX_LOCKED:-}" ] || return 0
	if [ -n "$held_since" ] && { [ "${1:-}" = now ] || [ $((SECONDS - held_since)) -ge "$hold" ]; }; then
		flock -u 9
		held_since=""
	fi
}
exec 9>>/tmp/bench.lock
for p in "${protolist[@]}"; do
	case "$p" in
	standalone) proto_args="--protocol standalone --nodes 1" ;;
	*) proto_args="--protocol $p --writers all" ;;
	esac
	for s in "${schedlist[@]}"; do
		lock
		for w in "${wllist[@]}"; do
			base="$out/$p-$s-$w"
			if [ "$p" = standalone ] && [[ "$s" == *partition* ]]; then
				printf '%s\t%s\t%s\trefused\t-\t-\t-\t-\t-\t-\ta one-node cluster has no link to cut\n' "$p" "$s" "$w" >>"$rows"
				continue
			fi
			# shellcheck disable=SC2046 # the argument strings are word lists on purpose
			set +e
			IFS=: read -r -a wparts <<<"$w"
			wl_args="--workload ${wparts[0]}"
			for o in "${wparts[@]:1}"; do wl_args="$wl_args --workload-option $o"; done
			"$bin" run $proto_args $wl_args $(schedule_args "$s") \
				--threads "$threads" --duration "$duration" --seed "$seed" --bus memory \
				--no-progress --out "$out/runs" --json "$base.json" >"$base.log" 2>&1
			rc=$?
			set -e
			echo "done $p $s $w (exit $rc)" >&2
			if [ "$rc" = 2 ]; then
				printf '%s\t%s\t%s\trefused\t-\t-\t-\t-\t-\t-\t%s\n' "$p" "$s" "$w" "$(tail -n 1 "$base.log" | sed 's/^replbench run: //')" >>"$rows"
				continue
			fi
			if [ ! -s "$base.json" ]; then
				printf '%s\t%s\t%s\tFAILED(exit %s)\t-\t-\t-\t-\t-\t-\t%s\n' "$p" "$s" "$w" "$rc" "$(tail -n 1 "$base.log")" >>"$rows"
				status=1
				continue
			fi
			jq -r --arg p "$p" --arg s "$s" --arg w "$w" --arg rc "$rc" '
				.points[0] as $pt
				| ($pt.checkers // {}) as $c
				| ($c.lost_acknowledged // null) as $lost
				| [$p, $s, $w, $rc,
				   (if $pt.converged then "yes" else "NO" end),
				   ($pt.committed|tostring),
				   (if $lost == null then "not run"
				    elif ($lost|length) == 0 then "0"
				    else "\($lost|length) (first: \($lost[0].gtid // (if ($lost[0].seqno // 0) != 0 then "seqno \($lost[0].seqno)" else "no id" end)) missing on \($lost[0].missing_on|join(",")))" end),
				   (($c.anomalies // {}) | to_entries | map(select(.key != "lost-acknowledged")) | map("\(.key)×\(.value)") | join(" ") | if . == "" then "none" else . end),
				   (if $pt.verdicts == null or ([$pt.verdicts[] | select(.outcome != "pass")] | length) == 0 then "pass"
				    elif $c.expected == true then "expected"
				    elif ($c.unexpected // null) != null then "UNEXPECTED: " + ($c.unexpected | join(", "))
				    elif ([$pt.verdicts[] | select(.outcome == "unknown")] | length) > 0 then "unknown"
				    else "not judged (binary predates expected/unexpected)" end)
				   + (if $pt.converged then "" else "; NOT CONVERGED" end),
				   (if $c.linearizable == null then "-" else ($c.linearizable|tostring) end)
				   + (if $c.consistent_with then " / " + ($c.consistent_with|join(",")) else "" end),
				   ([($c.verdicts // [])[] | select(.valid == "unknown") | "\(.checker) unknown: \(.note // "")"]
				    + [($pt.faults // [])[] | select(test("failed|refused|still down|ignored|while it rejoined"))]
				    + [($pt.notes // [])[] | select(test("stalled|did not fire|not read|did not run"))] | join("; "))]
				| @tsv' "$base.json" >>"$rows"
		done
		unlock
	done
done
unlock now

for p in "${protolist[@]}"; do
	echo
	echo "== $p"
	{
		printf 'schedule\tworkload\texit\tconverged\tcommitted\tlost acknowledged\tanomalies\tjudged\tlinearizable / consistent with\tnotes\n'
		awk -F'\t' -v p="$p" 'BEGIN { OFS = "\t" } $1 == p { $1 = ""; sub(/^\t/, ""); print }' "$rows"
	} | column -t -s $'\t'
done
# The same rows as CSV, and a JSON summary: every row as an object, and per protocol how
# many points passed, failed only as the protocol documents (expected), failed in a way
# nothing documented allows (unexpected: to triage), were refused or did not run.
cols=(protocol schedule workload exit converged committed lost_acknowledged anomalies judged linearizable_consistent_with notes)
{
	(IFS=,; echo "${cols[*]}")
	jq -R -r 'split("\t") | @csv' "$rows"
} >"$out/rows.csv"
jq -R -s --args '
	($ARGS.positional) as $cols
	| [split("\n")[] | select(. != "") | split("\t") | [$cols, .] | transpose | map({(.[0]): (.[1] // "")}) | add]
	| {rows: .,
	   by_protocol: (group_by(.protocol) | map({key: .[0].protocol, value: {
	       points: length,
	       pass: map(select(.judged == "pass")) | length,
	       expected: map(select(.judged | startswith("expected"))) | length,
	       unexpected: map(select(.judged | test("UNEXPECTED|NOT CONVERGED|not judged"))) | length,
	       refused: map(select(.exit == "refused")) | length,
	       failed_to_run: map(select(.exit | startswith("FAILED"))) | length}}) | from_entries)}
' "${cols[@]}" <"$rows" >"$out/summary.json"
echo
echo "results: $out (rows.tsv, rows.csv, summary.json; one JSON and one log per point; run directories under $out/runs)"
exit "$status"
