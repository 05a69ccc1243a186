# Sourced by the shell tests (Tests/API/schemathesis.sh, Tests/Load/tls_and_keys.sh): start
# `dfgaze serve` on a free loopback port and wait until it is ready. loadlib.py's Server does the
# same for the Python scripts.
#
#   start_server <log file> [serve options...]   runs "$bin serve"; sets $server (pid) and $port
#   wait_ready <URL of /readyz> [curl options...]

start_server() {
    local log=$1
    shift
    # The job store goes beside the log unless the caller names one (the flag beats the variable).
    DFGAZE_DATA_DIR=${DFGAZE_DATA_DIR:-$(dirname "$log")/data} "$bin" serve --host 127.0.0.1 --port 0 "$@" 2>"$log" >/dev/null &
    server=$!
    port=
    for _ in $(seq 1 600); do
        port=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    try: d = json.loads(l)
    except ValueError: continue
    if d.get("message") == "listening" and d.get("port"): print(d["port"]); break' "$log")
        [[ -n $port ]] && return 0
        kill -0 "$server" 2>/dev/null || { cat "$log" >&2; return 1; }
        sleep 0.2
    done
    echo "dfgaze serve reported no port (log: $log)" >&2
    return 1
}

wait_ready() {
    local url=$1
    shift
    for _ in $(seq 1 600); do
        [[ $(curl -s "$@" -o /dev/null -w '%{http_code}' "$url") == 200 ]] && return 0
        sleep 0.5
    done
    echo "not ready: $url" >&2
    return 1
}
