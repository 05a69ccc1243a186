#!/usr/bin/env bash
# Failover behind HAProxy with a fast health check (`inter 300ms fall 2`, a common setting) and the
# instances at the default --workers 2: when one instance is killed, the survivor takes all the
# clips, and its /readyz must keep answering within the check's timeout, or HAProxy marks it DOWN
# too and every client gets 503 (issue 16 item 0: 8 of 16 requests failed each time before).
# Runs Tests/Load/haproxy.sh (kill -9 run, then SIGTERM drain run) on the deployed config with
# only the check interval changed. Expectation: no client request fails.
#
#   Tests/Load/haproxy_fast_checks.sh [seconds per run, default 20]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d -t dfgaze-haproxy-fast.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
sed -E 's/^(\s*default-server .*)\binter [0-9a-z]+ fall [0-9]+/\1inter 300ms fall 2/' \
    "${HAPROXY_CFG:-$repo/Deploy/haproxy/haproxy.cfg}" >"$tmp/haproxy.cfg"
grep -q 'inter 300ms fall 2' "$tmp/haproxy.cfg" || { echo "could not set inter 300ms fall 2 in the config" >&2; exit 2; }
HAPROXY_CFG="$tmp/haproxy.cfg" WORKERS=2 CLIENTS=${CLIENTS:-4} "$here/haproxy.sh" "${1:-20}"
