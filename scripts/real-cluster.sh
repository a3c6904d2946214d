#!/usr/bin/env bash
# real-cluster.sh: real MariaDB 10.11 clusters on this host, from Debian's packages, as
# replbench targets (issue 12). One cluster per state directory; everything it starts is
# stopped by PID and every namespace it made is deleted by `down`.
#
#   up galera     3 nodes (--nodes N) of MariaDB + Galera 4, rsync SST, n1 bootstraps
#   up semisync   n1 a semi-sync source, n2..nN replicas (master_use_gtid=slave_pos)
#   up standalone one MariaDB server (the calibration baseline)
#   up gr         MySQL Group Replication is not in Debian: give --target FILE of a cluster
#                 you run elsewhere; the script checks it and makes it the current target
#   down          stop the servers and the delay proxy, delete namespaces and the state dir
#   status        each node's state (wsrep or replication), the proxy and its delays
#   delay ...     change delays while running (nodes must already be in a namespace)
#   check         measure the round trips through the proxy (TCP echo)
#
# Delays (--delay NODE=DUR: egress, everything the node sends waits DUR, as tc netem on its
# interface and as `replbench run --delay`; --link A-B=DUR or A>B=DUR: per pair): every node
# named runs in its own network namespace with its usual address, and `replbench netdelay`
# joins the namespaces with the delays on node-to-node ports (Galera's gmcast, the
# replication port) and no delay on SQL, IST and SST ports. --delay n3=0 puts n3 in a
# namespace without delay, so that `delay n3=10ms` can move it later.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${REPLBENCH_REAL_STATE:-/tmp/replbench-real}
BASE=13300

usage() {
	cat <<'EOF'
usage:
  scripts/real-cluster.sh up galera|semisync|standalone [--nodes N] [--delay NODE=DUR]...
        [--link A-B=DUR|A>B=DUR]... [--flush 0|1|2] [--sync-binlog N]
        [--wait-point AFTER_SYNC|AFTER_COMMIT] [--set VAR=VALUE]... [--base-port P]
        [--state DIR] [--target FILE]
  scripts/real-cluster.sh up gr --target FILE
  scripts/real-cluster.sh down|status|check [--state DIR]
  scripts/real-cluster.sh delay NODE=DUR|A-B=DUR|A>B=DUR... [--state DIR]
Defaults: --nodes 3 (standalone 1), --flush 1, --sync-binlog 1 with a binlog (semisync),
--wait-point AFTER_COMMIT (MariaDB's default), --base-port 13300, --state /tmp/replbench-real
(or $REPLBENCH_REAL_STATE); the target file is STATE/target.yaml unless --target says.
Node i listens on 127.0.0.1: SQL BASE+i, gmcast BASE+10+i, IST BASE+20+i, SST BASE+30+i,
echo check BASE+40+i, replication (extra_port) BASE+50+i.
EOF
}

die() { echo "real-cluster.sh: $*" >&2; exit 1; }
bad() { echo "real-cluster.sh: $*" >&2; exit 2; }

# ---------------------------------------------------------------- arguments
CMD=${1:-}
[ -n "$CMD" ] || { usage >&2; exit 2; }
shift
KIND=""
case "$CMD" in
up)
	KIND=${1:-}
	[ -n "$KIND" ] || bad "up: which cluster? (accepted: galera, semisync, standalone, gr)"
	shift
	case "$KIND" in galera|semisync|standalone|gr) ;; *) bad "up: unknown kind '$KIND' (accepted: galera, semisync, standalone, gr)";; esac
	;;
down|status|check|delay) ;;
help|-h|--help) usage; exit 0;;
*) bad "unknown command '$CMD' (accepted: up, down, status, delay, check)";;
esac

NODES=""; FLUSH=1; SYNC_BINLOG=""; WAIT_POINT=AFTER_COMMIT; TARGET=""
DELAYS=(); LINKS=(); SETS=(); CHANGES=()
DUR_RE='^[0-9]+(\.[0-9]+)?(ns|us|ms|s)$|^0$'
while [ $# -gt 0 ]; do
	case "$1" in
	--nodes) NODES=${2:?--nodes needs a number}; shift 2;;
	--delay) DELAYS+=("${2:?--delay needs NODE=DUR}"); shift 2;;
	--link) LINKS+=("${2:?--link needs A-B=DUR}"); shift 2;;
	--flush) FLUSH=${2:?}; shift 2;;
	--sync-binlog) SYNC_BINLOG=${2:?}; shift 2;;
	--wait-point) WAIT_POINT=${2:?}; shift 2;;
	--set) SETS+=("${2:?--set needs VAR=VALUE}"); shift 2;;
	--base-port) BASE=${2:?}; shift 2;;
	--state) STATE=${2:?}; shift 2;;
	--target) TARGET=${2:?}; shift 2;;
	-h|--help) usage; exit 0;;
	-*) bad "unknown option '$1' (see real-cluster.sh --help)";;
	*) [ "$CMD" = delay ] || bad "unexpected argument '$1'"; CHANGES+=("$1"); shift;;
	esac
done
STATE=$(realpath -m "$STATE")

SQL() { # SQL NODE STATEMENT...: run on a node through its socket, tab-separated, no header
	local i=$1; shift
	mariadb --no-defaults -S "$STATE/n$i/sock" -uroot -N -B -e "$*"
}
var() { SQL "$1" "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='$2'" 2>/dev/null || true; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
nodepid() { cat "$STATE/n$1/mariadbd.pid" 2>/dev/null || cat "$STATE/n$1/launch.pid" 2>/dev/null || true; }
nsname() { echo "rb$BASE-n$1"; }
port_sql() { echo $((BASE + $1)); }
port_gm() { echo $((BASE + 10 + $1)); }
port_ist() { echo $((BASE + 20 + $1)); }
port_sst() { echo $((BASE + 30 + $1)); }
port_echo() { echo $((BASE + 40 + $1)); }
port_repl() { echo $((BASE + 50 + $1)); }

replbench_bin() { # the proxy's binary, built from this checkout once per state dir
	if [ -n "${REPLBENCH_BIN:-}" ]; then echo "$REPLBENCH_BIN"; return; fi
	if [ ! -x "$STATE/replbench" ]; then
		(cd "$ROOT" && go build -o "$STATE/replbench" ./cmd/replbench) >&2 || die "cannot build replbench for the delay proxy (set REPLBENCH_BIN to a built binary)"
	fi
	echo "$STATE/replbench"
}

# in_ns NODE: is the node in a namespace of its own (named by --delay or --link)?
in_ns() { [ -f "$STATE/n$1/netns" ]; }

# ---------------------------------------------------------------- delay proxy
write_netdelay_config() { # from $STATE/delays and $STATE/links
	local f=$STATE/netdelay.yaml i ns
	{
		echo "# written by scripts/real-cluster.sh; see harness/netdelay.Config"
		echo "host: 127.0.0.1"
		echo "nodes:"
		for i in $(seq 1 "$N"); do
			ns=""; in_ns "$i" && ns=$(cat "$STATE/n$i/netns")
			if [ "$KIND" = semisync ]; then
				echo "  - {name: n$i, netns: \"$ns\", ports: [$(port_sql "$i")], delayed: [$(port_repl "$i")], echo: $(port_echo "$i")}"
			else
				echo "  - {name: n$i, netns: \"$ns\", ports: [$(port_sql "$i"), $(port_ist "$i"), $(port_sst "$i")], delayed: [$(port_gm "$i")], echo: $(port_echo "$i")}"
			fi
		done
		echo "delay:"
		while read -r d; do [ -n "$d" ] && echo "  ${d%%=*}: ${d#*=}"; done < "$STATE/delays"
		echo "links:"
		while read -r l; do [ -n "$l" ] && echo "  - \"$l\""; done < "$STATE/links"
	} > "$f.new"
	mv "$f.new" "$f"
}

check_rtt() {
	local bin; bin=$(replbench_bin)
	echo "round trips through the proxy (TCP echo, 20 pings each):"
	"$bin" netdelay check --config "$STATE/netdelay.yaml" --json "$STATE/rtt.json" | sed 's/^/  /' || echo "  WARNING: a round trip is off (see above)" >&2
}

# ---------------------------------------------------------------- server config
write_cnf() { # write_cnf NODE
	local i=$1 d=$STATE/n$1 addr gm=""
	{
		echo "[mariadbd]"
		echo "datadir=$d/data"
		echo "socket=$d/sock"
		echo "pid-file=$d/mariadbd.pid"
		echo "log-error=$d/error.log"
		echo "bind-address=127.0.0.1"
		echo "port=$(port_sql "$i")"
		echo "server_id=$i"
		echo "skip-name-resolve"
		echo "max_connections=500"
		echo "innodb_buffer_pool_size=256M"
		echo "innodb_log_file_size=256M"
		echo "innodb_flush_log_at_trx_commit=$FLUSH"
		echo "max_prepared_stmt_count=100000"
		case "$KIND" in
		galera)
			for j in $(seq 1 "$N"); do gm="$gm${gm:+,}127.0.0.1:$(port_gm "$j")"; done
			echo "binlog_format=ROW"
			echo "innodb_autoinc_lock_mode=2"
			echo "wsrep_on=ON"
			echo "wsrep_provider=/usr/lib/galera/libgalera_smm.so"
			echo "wsrep_cluster_name=replbench"
			echo "wsrep_cluster_address=gcomm://$gm"
			echo "wsrep_node_name=n$i"
			echo "wsrep_node_address=127.0.0.1:$(port_gm "$i")"
			echo "wsrep_node_incoming_address=127.0.0.1:$(port_sql "$i")"
			echo "wsrep_provider_options=\"gmcast.listen_addr=tcp://127.0.0.1:$(port_gm "$i");ist.recv_addr=127.0.0.1:$(port_ist "$i");gcache.size=128M\""
			echo "wsrep_sst_method=rsync"
			echo "wsrep_sst_receive_address=127.0.0.1:$(port_sst "$i")"
			if [ -n "$SYNC_BINLOG" ]; then echo "log_bin=$d/binlog"; echo "sync_binlog=$SYNC_BINLOG"; fi
			;;
		semisync)
			echo "binlog_format=ROW"
			echo "relay_log=$d/relay"
			echo "extra_port=$(port_repl "$i")"
			echo "extra_max_connections=20"
			if [ "$i" = 1 ]; then
				echo "log_bin=$d/binlog"
				echo "sync_binlog=${SYNC_BINLOG:-1}"
				echo "rpl_semi_sync_master_enabled=ON"
				echo "rpl_semi_sync_master_wait_point=$WAIT_POINT"
			else
				echo "rpl_semi_sync_slave_enabled=ON"
				echo "read_only=ON"
			fi
			;;
		standalone)
			if [ -n "$SYNC_BINLOG" ]; then echo "log_bin=$d/binlog"; echo "sync_binlog=$SYNC_BINLOG"; fi
			;;
		esac
		for s in "${SETS[@]}"; do echo "$s"; done
	} > "$d/my.cnf"
}

# detached CMD...: run a long-lived process in its own session with no descriptor above 2
# inherited, so a lock the caller holds (flock /tmp/bench.lock scripts/real-cluster.sh up
# ...) is released when `up` returns instead of living on in the servers until `down`.
detached() {
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-"; fi
		done
		exec setsid "$@"
	) &
}

start_node() { # start_node NODE [mariadbd args]: start and wait until it answers
	local i=$1 d=$STATE/n$1 pid t; shift
	local cmd=(mariadbd --defaults-file="$d/my.cnf" --user=mysql "$@")
	if in_ns "$i"; then cmd=(ip netns exec "$(cat "$d/netns")" "${cmd[@]}"); fi
	detached "${cmd[@]}" > "$d/stdout.log" 2>&1 < /dev/null
	echo $! > "$d/launch.pid"
	pid=$!
	for t in $(seq 1 600); do
		if SQL "$i" "SELECT 1" >/dev/null 2>&1; then return 0; fi
		alive "$pid" || { tail -n 20 "$d/error.log" >&2; die "n$i exited while starting (log: $d/error.log)"; }
		sleep 0.2
	done
	die "n$i did not answer within 120 s (log: $d/error.log)"
}

wait_synced() { # wait_synced NODE
	local t s
	for t in $(seq 1 600); do
		s=$(var "$1" WSREP_LOCAL_STATE_COMMENT)
		[ "$s" = Synced ] && return 0
		sleep 0.2
	done
	die "n$1 is not Synced after 120 s (state '$s'; log: $STATE/n$1/error.log)"
}

# ---------------------------------------------------------------- target file
write_target() {
	local out=$1 i role ns names settings
	names="'innodb_flush_log_at_trx_commit','sync_binlog','log_bin','binlog_format','innodb_autoinc_lock_mode','innodb_buffer_pool_size','innodb_log_file_size','transaction_isolation','tx_isolation','wsrep_provider_options','wsrep_slave_threads','wsrep_sync_wait','wsrep_retry_autocommit','rpl_semi_sync_master_enabled','rpl_semi_sync_master_wait_point','rpl_semi_sync_master_timeout','rpl_semi_sync_master_wait_no_slave','binlog_order_commits','version'"
	{
		echo "# replbench target, written by scripts/real-cluster.sh up $KIND on $(date -Is); see harness/target"
		echo "kind: $KIND"
		echo "database: replbench"
		echo "nodes:"
		for i in $(seq 1 "$N"); do
			role=member
			[ "$KIND" = semisync ] && { role=replica; [ "$i" = 1 ] && role=source; }
			ns=""; in_ns "$i" && ns=$(cat "$STATE/n$i/netns")
			echo "  - {name: n$i, host: 127.0.0.1, port: $(port_sql "$i"), user: rb, password: rb, role: $role, netns: \"$ns\"}"
		done
		echo "settings:  # SHOW GLOBAL VARIABLES on n1 after start"
		SQL 1 "SELECT LOWER(VARIABLE_NAME), VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES WHERE LOWER(VARIABLE_NAME) IN ($names) ORDER BY 1" |
			while IFS=$'\t' read -r k v; do printf '  %s: "%s"\n' "$k" "${v//\"/\\\"}"; done
		if [ -s "$STATE/delays" ] || [ -s "$STATE/links" ]; then
			echo "network:"
			echo "  delay: {$(paste -sd, "$STATE/delays" | sed 's/=/: /g; s/,/, /g')}"
			echo "  links: [$(sed 's/.*/"&"/' "$STATE/links" | paste -sd, | sed 's/,/, /g')]"
			echo "  netdelay_config: $STATE/netdelay.yaml"
			[ -f "$STATE/rtt.json" ] && echo "  rtt_file: $STATE/rtt.json"
		fi
	} > "$out.new"
	mv "$out.new" "$out"
}

save_env() {
	{
		echo "KIND=$KIND"; echo "N=$N"; echo "BASE=$BASE"; echo "TARGET=$TARGET"
	} > "$STATE/cluster.env"
}

# ---------------------------------------------------------------- commands
cmd_up() {
	if [ -f "$STATE/cluster.env" ]; then
		bad "a cluster is already up in $STATE ($(grep KIND "$STATE/cluster.env")); run 'real-cluster.sh down' first or pass --state DIR"
	fi
	if [ "$KIND" = gr ]; then
		[ -n "$TARGET" ] || bad "up gr: MySQL Group Replication is not in Debian's packages, so this script cannot start it; run a GR cluster elsewhere and pass --target FILE describing it (kind: gr, nodes n1..nN with host/port/user/password)"
		[ -r "$TARGET" ] || bad "up gr: cannot read target file $TARGET"
		grep -q '^kind: *gr' "$TARGET" || bad "up gr: $TARGET does not say 'kind: gr'"
		mkdir -p "$STATE"
		N=0; save_env
		cp "$TARGET" "$STATE/target.yaml"
		echo "gr: using the existing cluster described by $TARGET (nothing started; 'down' forgets it)"
		return
	fi
	case "$KIND" in standalone) N=${NODES:-1};; *) N=${NODES:-3};; esac
	[[ "$N" =~ ^[1-9]$ ]] || bad "--nodes $N: want 1 to 9"
	[ "$KIND" = standalone ] && [ "$N" != 1 ] && bad "--nodes $N: standalone is one server"
	[ "$KIND" = semisync ] && [ "$N" -lt 2 ] && bad "--nodes $N: semisync needs a source and at least one replica"
	[[ "$FLUSH" =~ ^[012]$ ]] || bad "--flush $FLUSH: innodb_flush_log_at_trx_commit is 0, 1 or 2"
	[ -z "$SYNC_BINLOG" ] || [[ "$SYNC_BINLOG" =~ ^[0-9]+$ ]] || bad "--sync-binlog $SYNC_BINLOG: want a number"
	case "$WAIT_POINT" in AFTER_SYNC|AFTER_COMMIT) ;; *) bad "--wait-point $WAIT_POINT (accepted: AFTER_SYNC, AFTER_COMMIT)";; esac
	[[ "$BASE" =~ ^[0-9]+$ ]] && [ "$BASE" -ge 1024 ] && [ "$BASE" -le 65400 ] || bad "--base-port $BASE: want 1024-65400"
	[ "$KIND" != semisync ] && [ "$WAIT_POINT" != AFTER_COMMIT ] && bad "--wait-point is for semisync"
	local s d i nsnodes=" "
	for s in "${SETS[@]}"; do [[ "$s" =~ ^[a-z_0-9-]+=.*$ ]] || bad "--set $s: want VAR=VALUE"; done
	for d in "${DELAYS[@]}"; do
		[[ "${d%%=*}" =~ ^n[1-9]$ ]] && [ "${d%%=*}" != "$d" ] || bad "--delay $d: want NODE=DUR such as n3=10ms"
		[ "${d#n}" != "$d" ] && [ "${d:1:1}" -le "$N" ] || bad "--delay $d: unknown node ${d%%=*} (accepted: n1..n$N)"
		[[ "${d#*=}" =~ $DUR_RE ]] || bad "--delay $d: '${d#*=}' is not a duration (such as 10ms)"
		nsnodes="$nsnodes${d:1:1} "
	done
	for l in "${LINKS[@]}"; do
		[[ "$l" =~ ^n([1-9])[-\>]n([1-9])=(.+)$ ]] || bad "--link $l: want A-B=DUR (both ways) or A>B=DUR (one way), such as n1-n3=10ms"
		[ "${BASH_REMATCH[1]}" -le "$N" ] && [ "${BASH_REMATCH[2]}" -le "$N" ] || bad "--link $l: unknown node (accepted: n1..n$N)"
		[[ "${BASH_REMATCH[3]}" =~ $DUR_RE ]] || bad "--link $l: '${BASH_REMATCH[3]}' is not a duration"
		nsnodes="$nsnodes${BASH_REMATCH[1]} ${BASH_REMATCH[2]} "
	done
	command -v mariadbd >/dev/null || die "mariadbd not found: apt-get install mariadb-server mariadb-client"
	[ "$KIND" != galera ] || [ -f /usr/lib/galera/libgalera_smm.so ] || die "Galera not found: apt-get install galera-4 rsync"
	for i in $(seq 1 "$N"); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$(port_sql "$i")") 2>/dev/null; then die "port $(port_sql "$i") is in use: another cluster runs there (use --base-port)"; fi
	done

	rm -rf "$STATE"/n* # logs of an earlier failed attempt
	mkdir -p "$STATE"
	# The servers run as mysql (rsync SST's daemon would drop root to nobody and fail).
	runuser -u mysql -- test -x "$STATE" || bad "--state $STATE: the mysql user cannot reach it (every parent directory needs o+x); choose another directory"
	save_env
	printf '%s\n' "${DELAYS[@]}" | sed '/^$/d' > "$STATE/delays"
	printf '%s\n' "${LINKS[@]}" | sed '/^$/d' > "$STATE/links"
	trap 'echo "real-cluster.sh: up failed; stopping what it started (logs kept in $STATE/n*/error.log)" >&2; KEEP_LOGS=1 cmd_down >/dev/null 2>&1 || true' EXIT
	for i in $(seq 1 "$N"); do
		d=$STATE/n$i
		mkdir -p "$d/data"
		if [[ "$nsnodes" == *" $i "* ]]; then
			echo "$(nsname "$i")" > "$d/netns"
			ip netns add "$(nsname "$i")" || die "ip netns add $(nsname "$i") failed (needs root)"
			ip netns exec "$(nsname "$i")" ip link set lo up
		fi
		write_cnf "$i"
		chown -R mysql:mysql "$d"
		mariadb-install-db --defaults-file="$d/my.cnf" --user=mysql --skip-test-db > "$d/install.log" 2>&1 ||
			{ tail "$d/install.log" >&2; die "mariadb-install-db failed for n$i"; }
	done
	if [ "$nsnodes" != " " ]; then
		local bin; bin=$(replbench_bin)
		write_netdelay_config
		detached "$bin" netdelay run --config "$STATE/netdelay.yaml" --pid-file "$STATE/netdelay.pid" > "$STATE/netdelay.log" 2>&1 < /dev/null
		for _ in $(seq 1 100); do [ -s "$STATE/netdelay.pid" ] && break; sleep 0.1; done
		[ -s "$STATE/netdelay.pid" ] || { cat "$STATE/netdelay.log" >&2; die "the delay proxy did not start"; }
	fi

	case "$KIND" in
	galera)
		start_node 1 --wsrep-new-cluster
		wait_synced 1
		SQL 1 "CREATE USER 'rb'@'%' IDENTIFIED BY 'rb'; GRANT ALL ON *.* TO 'rb'@'%'; CREATE DATABASE IF NOT EXISTS replbench"
		for i in $(seq 2 "$N"); do start_node "$i"; wait_synced "$i"; done
		;;
	semisync)
		start_node 1
		SQL 1 "CREATE USER 'rb'@'%' IDENTIFIED BY 'rb'; GRANT ALL ON *.* TO 'rb'@'%'; CREATE USER 'repl'@'%' IDENTIFIED BY 'repl'; GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'; CREATE DATABASE IF NOT EXISTS replbench"
		for i in $(seq 2 "$N"); do
			start_node "$i"
			SQL "$i" "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$(port_repl 1), MASTER_USER='repl', MASTER_PASSWORD='repl', MASTER_USE_GTID=slave_pos; START SLAVE"
		done
		for _ in $(seq 1 600); do
			[ "$(var 1 RPL_SEMI_SYNC_MASTER_CLIENTS)" = "$((N - 1))" ] && break
			sleep 0.2
		done
		[ "$(var 1 RPL_SEMI_SYNC_MASTER_CLIENTS)" = "$((N - 1))" ] || die "the source has $(var 1 RPL_SEMI_SYNC_MASTER_CLIENTS) semi-sync replicas after 120 s, want $((N - 1))"
		;;
	standalone)
		start_node 1
		SQL 1 "CREATE USER 'rb'@'%' IDENTIFIED BY 'rb'; GRANT ALL ON *.* TO 'rb'@'%'; CREATE DATABASE IF NOT EXISTS replbench"
		;;
	esac
	trap - EXIT
	[ -f "$STATE/netdelay.yaml" ] && check_rtt
	TARGET=${TARGET:-$STATE/target.yaml}
	save_env
	write_target "$TARGET"
	[ "$TARGET" = "$STATE/target.yaml" ] || cp "$TARGET" "$STATE/target.yaml"
	echo "target file: $TARGET"
	cmd_status
}

load_env() {
	[ -f "$STATE/cluster.env" ] || bad "no cluster in $STATE (run 'real-cluster.sh up KIND' first, or pass --state DIR)"
	# shellcheck disable=SC1091
	. "$STATE/cluster.env"
}

cmd_status() {
	load_env
	local i pid ns st
	echo "$KIND cluster in $STATE"
	[ "$KIND" = gr ] && { echo "  existing GR cluster: $(grep -c 'name: n' "$STATE/target.yaml") nodes in $STATE/target.yaml"; return; }
	for i in $(seq 1 "$N"); do
		pid=$(nodepid "$i"); ns="-"; in_ns "$i" && ns=$(cat "$STATE/n$i/netns")
		if ! alive "$pid"; then echo "  n$i  port $(port_sql "$i")  netns $ns  DOWN"; continue; fi
		case "$KIND" in
		galera) st="$(var "$i" WSREP_LOCAL_STATE_COMMENT) cluster_size=$(var "$i" WSREP_CLUSTER_SIZE) $(var "$i" WSREP_CLUSTER_STATUS) ready=$(var "$i" WSREP_READY) recv_queue=$(var "$i" WSREP_LOCAL_RECV_QUEUE)";;
		semisync)
			if [ "$i" = 1 ]; then
				st="source semi_sync=$(var 1 RPL_SEMI_SYNC_MASTER_STATUS) clients=$(var 1 RPL_SEMI_SYNC_MASTER_CLIENTS) wait_point=$(SQL 1 'SELECT @@rpl_semi_sync_master_wait_point') gtid=$(SQL 1 'SELECT @@gtid_binlog_pos')"
			else
				st="replica $(SQL "$i" 'SHOW SLAVE STATUS\G' | awk '/Slave_IO_Running:|Slave_SQL_Running:|Seconds_Behind_Master:/{printf "%s%s ", $1, $2}')semi_sync=$(var "$i" RPL_SEMI_SYNC_SLAVE_STATUS) gtid=$(SQL "$i" 'SELECT @@gtid_slave_pos')"
			fi;;
		standalone) st="up $(SQL 1 'SELECT VERSION()')";;
		esac
		echo "  n$i  pid $pid  port $(port_sql "$i")  netns $ns  $st"
	done
	if [ -f "$STATE/netdelay.pid" ] && alive "$(cat "$STATE/netdelay.pid")"; then
		echo "  proxy pid $(cat "$STATE/netdelay.pid"): delays {$(paste -sd, "$STATE/delays")} links {$(paste -sd, "$STATE/links")} (config $STATE/netdelay.yaml)"
	elif [ -f "$STATE/netdelay.yaml" ]; then
		echo "  proxy DOWN (config $STATE/netdelay.yaml)"
	fi
}

stop_pid() { # stop_pid PID NAME: TERM, wait up to 60 s, then KILL
	local pid=$1 t
	alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for t in $(seq 1 300); do alive "$pid" || return 0; sleep 0.2; done
	echo "  $2 (pid $pid) ignored SIGTERM for 60 s; killing it" >&2
	kill -KILL "$pid" 2>/dev/null || true
}

cmd_down() {
	load_env
	local i pid
	if [ "$KIND" != gr ]; then
		for i in $(seq "$N" -1 1); do
			pid=$(nodepid "$i")
			alive "$pid" || continue
			echo "stopping n$i (pid $pid)"
			timeout 60 mariadb-admin --no-defaults -S "$STATE/n$i/sock" -uroot shutdown 2>/dev/null || true
			for _ in $(seq 1 150); do alive "$pid" || break; sleep 0.2; done
			stop_pid "$pid" "n$i"
		done
		if [ -f "$STATE/netdelay.pid" ]; then echo "stopping the delay proxy"; stop_pid "$(cat "$STATE/netdelay.pid")" proxy; fi
		for i in $(seq 1 "$N"); do
			if [ -f "$STATE/n$i/netns" ]; then ip netns del "$(cat "$STATE/n$i/netns")" 2>/dev/null || true; fi
		done
	fi
	if [ "${KEEP_LOGS:-}" = 1 ]; then
		rm -rf "$STATE"/n*/data "$STATE/cluster.env"
	else
		rm -rf "$STATE"
	fi
	echo "down: nothing left running from $STATE"
}

cmd_delay() {
	load_env
	[ ${#CHANGES[@]} -gt 0 ] || bad "delay: give NODE=DUR, A-B=DUR or A>B=DUR (such as n3=20ms)"
	[ -f "$STATE/netdelay.yaml" ] || bad "delay: this cluster runs without the proxy; bring it up with --delay NODE=0 for every node to be delayed later"
	local c n nodes
	cp "$STATE/delays" "$STATE/delays.new"; cp "$STATE/links" "$STATE/links.new"
	for c in "${CHANGES[@]}"; do
		if [[ "$c" =~ ^n([1-9])=(.+)$ ]]; then
			nodes=${BASH_REMATCH[1]}
			grep -v "^n$nodes=" "$STATE/delays.new" > "$STATE/delays.tmp" || true
			echo "$c" >> "$STATE/delays.tmp"; mv "$STATE/delays.tmp" "$STATE/delays.new"
		elif [[ "$c" =~ ^n([1-9])([-\>])n([1-9])=(.+)$ ]]; then
			nodes="${BASH_REMATCH[1]} ${BASH_REMATCH[3]}"
			grep -v "^n${BASH_REMATCH[1]}${BASH_REMATCH[2]}n${BASH_REMATCH[3]}=" "$STATE/links.new" > "$STATE/links.tmp" || true
			echo "$c" >> "$STATE/links.tmp"; mv "$STATE/links.tmp" "$STATE/links.new"
		else
			bad "delay $c: want NODE=DUR, A-B=DUR or A>B=DUR"
		fi
		[[ "${c#*=}" =~ $DUR_RE ]] || bad "delay $c: '${c#*=}' is not a duration (such as 10ms)"
		for n in $nodes; do
			[ "$n" -le "$N" ] || bad "delay $c: unknown node n$n (accepted: n1..n$N)"
			in_ns "$n" || bad "delay $c: n$n is not in a namespace of its own; bring the cluster up with --delay n$n=0 to delay it later"
		done
	done
	mv "$STATE/delays.new" "$STATE/delays"; mv "$STATE/links.new" "$STATE/links"
	write_netdelay_config
	kill -HUP "$(cat "$STATE/netdelay.pid")"
	sleep 0.3
	tail -n 1 "$STATE/netdelay.log"
	check_rtt
	write_target "${TARGET:-$STATE/target.yaml}"
	[ "${TARGET:-$STATE/target.yaml}" = "$STATE/target.yaml" ] || cp "$TARGET" "$STATE/target.yaml"
}

case "$CMD" in
up) cmd_up;;
down) cmd_down;;
status) cmd_status;;
check) load_env; [ -f "$STATE/netdelay.yaml" ] || bad "check: no delay proxy in this cluster"; check_rtt;;
delay) cmd_delay;;
esac
