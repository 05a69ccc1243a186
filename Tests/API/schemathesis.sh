#!/usr/bin/env bash
# Contract check of the HTTP API against openapi.yaml:
#  1. openapi-spec-validator accepts openapi.yaml (OpenAPI 3.1);
#  2. a live `dfgaze serve` (demo weights, loopback, free port) serves that very document;
#  3. schemathesis generates requests for every operation (positive and negative data, bounded
#     examples) and checks: no 5xx (not_a_server_error), bodies match the response schemas,
#     statuses and content types are documented.
# The tools live in a venv under .venv-tools/ (git-ignored), made on first use.
#
#   Tests/API/schemathesis.sh [max examples per operation, default 300]
# Env: DFGAZE_BIN, SCHEMATHESIS_SEED (default 1).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${DFGAZE_BIN:-$repo/.build/release/dfgaze}
venv=$repo/.venv-tools
examples=${1:-300}
[[ -x $bin ]] || { echo "no dfgaze binary at $bin" >&2; exit 2; }
# shellcheck source=../Load/serve.sh
source "$repo/Tests/Load/serve.sh"

if [[ ! -x $venv/bin/st || ! -x $venv/bin/openapi-spec-validator ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q schemathesis openapi-spec-validator
fi

tmp=$(mktemp -d -t dfgaze-schemathesis.XXXXXX)
server=
cleanup() { [[ -n $server ]] && kill -9 "$server" 2>/dev/null || true; }
trap cleanup EXIT

echo "== openapi-spec-validator"
"$venv/bin/openapi-spec-validator" "$repo/openapi.yaml"

start_server "$tmp/server.log"
wait_ready "http://127.0.0.1:$port/readyz"

echo "== the server serves the repo's openapi.yaml"
curl -sf "http://127.0.0.1:$port/openapi.yaml" -o "$tmp/served.yaml"
if ! cmp -s "$tmp/served.yaml" "$repo/openapi.yaml"; then
    echo "the served document differs from openapi.yaml: run scripts/embed-openapi.py and rebuild" >&2
    exit 1
fi
echo "identical ($(wc -c <"$repo/openapi.yaml") bytes)"

echo "== schemathesis $("$venv/bin/st" --version | awk '{print $NF}') against 127.0.0.1:$port, $examples examples per operation"
rc=0
# From the temp dir, so schemathesis's own state (.schemathesis/) stays out of the repo.
(cd "$tmp" && "$venv/bin/st" run "http://127.0.0.1:$port/openapi.yaml" --url "http://127.0.0.1:$port" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance,response_headers_conformance \
    --max-examples "$examples" --seed "${SCHEMATHESIS_SEED:-1}" --workers 1 --request-timeout 60 \
    --phases examples,coverage,fuzzing --generation-database none --no-color \
    --report junit --report-junit-path "$tmp/junit.xml") || rc=$?

kill -TERM "$server"
wait "$server" || rc=1
server=
if grep -q '"level":"critical"\|"level":"error"' "$tmp/server.log"; then
    echo "server logged errors:" >&2
    grep '"level":"critical"\|"level":"error"' "$tmp/server.log" | head -5 >&2
    rc=1
fi
echo "schemathesis: exit $rc (server log and JUnit report in $tmp)"
exit $rc
