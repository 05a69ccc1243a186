#!/usr/bin/env bash
# The fast reliability subset for CI (about 4 minutes on 2 cores), against an already built
# release binary (.build/release/dfgaze or $DFGAZE_BIN): short overload, slow clients, vanishing
# clients, SIGTERM drain and exit, TLS and API keys, HAProxy kill/drain, health checks under load,
# HAProxy failover with a 300 ms check. Runs them all; exits 1 if any failed. Not here (minutes):
# Tests/Load/worst_case_memory.py (docs/reliability.md, "Worst-case memory").
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
failed=()
run() {  # run <name> <command...>
    echo "=== $1"
    local t0=$SECONDS
    if "${@:2}"; then echo "=== $1: passed in $((SECONDS - t0)) s"; else failed+=("$1"); echo "=== $1: FAILED in $((SECONDS - t0)) s"; fi
}

run overload python3 "$here/overload.py" --seconds 30
run slow_clients python3 "$here/slow_clients.py" --connections 300
run vanishing_clients python3 "$here/vanishing_clients.py" --long-clips 3
run shutdown python3 "$here/shutdown.py"
run tls_and_keys "$here/tls_and_keys.sh"
run haproxy "$here/haproxy.sh" 20
run health_under_load python3 "$here/health_under_load.py" --seconds 15
run haproxy_fast_checks "$here/haproxy_fast_checks.sh" 15
run video_faults python3 "$here/video_faults.py"

if (( ${#failed[@]} )); then echo "run-fast: FAILED: ${failed[*]} ($SECONDS s)"; exit 1; fi
echo "run-fast: all passed ($SECONDS s)"
