#!/usr/bin/env bash
# HAProxy in front of two `dfgaze serve` instances (the two servers of the config, health check
# GET /readyz), under a steady client load through HAProxy's frontend:
#   run 1: kill -9 one instance mid-run;
#   run 2: SIGTERM one instance mid-run (graceful drain).
# Expectation: the clients see no failed request in either run (HAProxy retries and redispatches),
# HAProxy takes the dead/draining instance out of rotation, the drained instance exits 0.
#
#   Tests/Load/haproxy.sh [seconds per run, default 30]
# Env: DFGAZE_BIN, CLIENTS (4), WORKERS (--workers of each instance, 1), HAPROXY_CFG (default Deploy/haproxy/haproxy.cfg, the deployed one). Addresses come from the config's first `bind` and its two
# `server` lines.
set -euo pipefail
trap 'echo "haproxy.sh: command failed at line $LINENO" >&2' ERR

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${DFGAZE_BIN:-$repo/.build/release/dfgaze}
seconds=${1:-30}
clients=${CLIENTS:-4}
drain=10
# The deployment's config when the repo has one, else the minimal one beside this script.
cfg=${HAPROXY_CFG:-$repo/Deploy/haproxy/haproxy.cfg}
lb_port=$(awk '$1 == "bind" { n = split($2, p, ":"); print p[n]; exit }' "$cfg")
mapfile -t servers < <(awk '$1 == "server" { n = split($3, p, ":"); print p[n] }' "$cfg")
(( ${#servers[@]} == 2 )) || { echo "$cfg must have exactly two server lines" >&2; exit 2; }
a_port=${servers[0]}
b_port=${servers[1]}

[[ -x $bin ]] || { echo "no dfgaze binary at $bin" >&2; exit 2; }
command -v haproxy >/dev/null || { echo "haproxy is not installed (apt-get install haproxy)" >&2; exit 2; }
for port in "$a_port" "$b_port" "$lb_port"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "port $port is already in use" >&2; exit 2; fi
done

tmp=$(mktemp -d -t dfgaze-haproxy.XXXXXX)
declare -A pid
cleanup() {
    for name in "${!pid[@]}"; do kill -9 "${pid[$name]}" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

failures=0
expect() {  # expect <condition-exit-status> <description>
    if [[ $1 == 0 ]]; then echo "  [ok] $2"; else echo "  [FAIL] $2"; failures=$((failures + 1)); fi
}

start_instance() {  # start_instance <a|b> <port>
    "$bin" serve --host 127.0.0.1 --port "$2" --workers "${WORKERS:-1}" --queue-depth 8 --drain-seconds "$drain" --data-dir "$tmp/data-$1" \
        2>>"$tmp/$1.log" >/dev/null &
    pid[$1]=$!
}

wait_ready() {  # wait_ready <port> <seconds>
    local deadline=$((SECONDS + $2))
    until [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/readyz") == 200 ]]; do
        (( SECONDS < deadline )) || { echo "instance on port $1 not ready in $2 s" >&2; exit 1; }
        sleep 0.3
    done
}

lb_stats() {  # lb_stats status <port> | lb_stats counters: from HAProxy's "show stat" (stats socket)
    python3 - "$tmp/stats.sock" "$@" <<'EOF'
import csv, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"show stat\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
for row in csv.DictReader(data.decode().lstrip("# ").splitlines()):
    if sys.argv[2] == "status" and row.get("addr") == f"127.0.0.1:{sys.argv[3]}":
        print(row["status"], row["check_status"], row["check_code"] or "-")
    elif sys.argv[2] == "counters" and row["svname"] == "BACKEND":
        print(f"HAProxy backend {row['pxname']}: {row['stot']} sessions, {row['wretr']} retries, "
              f"{row['wredis']} redispatches, {row['econ']} connection errors, {row['eresp']} response errors, "
              f"{row['hrsp_5xx']} 5xx sent to clients")
EOF
}

# The server at 127.0.0.1:<port>: HAProxy's status and last check.
lb_status() { lb_stats status "$1"; }
# The backend's retries, redispatches and 5xx answers.
lb_counters() { lb_stats counters; }

wait_lb_up() {  # wait_lb_up <port> <seconds>
    local deadline=$((SECONDS + $2))
    until [[ $(lb_status "$1") == UP* ]]; do
        (( SECONDS < deadline )) || { echo "HAProxy never saw $1 UP" >&2; exit 1; }
        sleep 0.2
    done
}

# Polls HAProxy's view of a server until it leaves rotation; prints the time taken and the check result.
watch_leave() {  # watch_leave <port> <since-epoch-ms>
    local status
    for _ in $(seq 1 100); do
        status=$(lb_status "$1")
        if [[ $status != UP* ]]; then
            echo "$(( $(date +%s%3N) - $2 )) ms, $status"
            return
        fi
        sleep 0.1
    done
    echo "never left rotation: $status"
}

echo "haproxy: config $cfg, instances :$a_port :$b_port, LB :$lb_port, $clients clients, ${seconds} s per run"
start_instance a "$a_port"
start_instance b "$b_port"
wait_ready "$a_port" 300
wait_ready "$b_port" 300
# A second global section adds the stats socket this script reads HAProxy's view from.
printf 'global\n    stats socket %s mode 600 level admin\n' "$tmp/stats.sock" >"$tmp/stats.cfg"
haproxy -db -f "$cfg" -f "$tmp/stats.cfg" >"$tmp/haproxy.log" 2>&1 &
pid[haproxy]=$!
sleep 0.5
wait_lb_up "$a_port" 20
wait_lb_up "$b_port" 20

run_load() {  # run_load <name>: client load in the background, its JSON summary in $tmp/<name>.json
    python3 "$here/client_load.py" --port "$lb_port" --seconds "$seconds" --clients "$clients" >"$tmp/$1.json" &
    pid[client]=$!
}

# Run 1: kill -9 instance a a third of the way in.
echo "run 1: kill -9 instance a after $((seconds / 3)) s"
run_load kill
sleep $((seconds / 3))
t=$(date +%s%3N)
kill -9 "${pid[a]}"
left=$(watch_leave "$a_port" "$t")
client_rc=0; wait "${pid[client]}" || client_rc=$?
unset 'pid[client]'
wait "${pid[a]}" 2>/dev/null || true
echo "  clients: $(cat "$tmp/kill.json")"
echo "  a left rotation after $left"
echo "  $(lb_counters)"
expect "$client_rc" "run 1: no failed request while an instance was killed"

# Bring a back for run 2.
start_instance a "$a_port"
wait_ready "$a_port" 120
wait_lb_up "$a_port" 20

# Run 2: SIGTERM instance b a third of the way in.
echo "run 2: SIGTERM instance b after $((seconds / 3)) s (drain ${drain} s)"
run_load drain
sleep $((seconds / 3))
t=$(date +%s%3N)
kill -TERM "${pid[b]}"
left=$(watch_leave "$b_port" "$t")
b_rc=0; wait "${pid[b]}" || b_rc=$?
b_exit_ms=$(( $(date +%s%3N) - t ))
client_rc=0; wait "${pid[client]}" || client_rc=$?
unset 'pid[client]' 'pid[b]'
echo "  clients: $(cat "$tmp/drain.json")"
echo "  b left rotation after $left; b exited $b_rc after $b_exit_ms ms"
echo "  $(lb_counters) (both runs)"
expect "$client_rc" "run 2: no failed request while an instance drained"
expect "$([[ $b_rc == 0 ]]; echo $?)" "run 2: the drained instance exited 0"
expect "$([[ $left != never* ]]; echo $?)" "run 2: HAProxy took the draining instance out of rotation"
grep -h "is DOWN" "$tmp/haproxy.log" | sed 's/^/  haproxy: /' || true

echo "haproxy: $failures failed expectations (logs in $tmp)"
exit $(( failures > 0 ))
