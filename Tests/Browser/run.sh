#!/usr/bin/env bash
# The review page (issue 20) in a real browser against the real service: starts `dfgaze serve` (demo
# weights, loopback, a free port) twice, once plain and once with an API keys file, and runs
# Tests/Browser/review_page.py (selenium + Debian's chromium/chromium-driver + axe-core) against them.
# The log and one screenshot per test (plus axe-core's findings) go to $BROWSER_OUT.
# Nothing is skipped: a missing browser, driver or Python package is a failure, not a skip.
#
#   Tests/Browser/run.sh
# Env: DFGAZE_BIN (default .build/release/dfgaze), BROWSER_OUT (default .build/browser),
#      DFGAZE_SCREENSHOT=docs/review-page.png also writes the README's screenshot there.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${DFGAZE_BIN:-$repo/.build/release/dfgaze}
out=${BROWSER_OUT:-$repo/.build/browser}
python=$repo/.venv-tools/bin/python
# shellcheck source=Tests/Load/serve.sh
source "$repo/Tests/Load/serve.sh"

fail() { echo "browser: $*" >&2; echo "browser: 0 passed, 1 failed"; exit 1; }
[[ -x $bin ]] || fail "no dfgaze binary at $bin (set DFGAZE_BIN)"
for tool in /usr/bin/chromium /usr/bin/chromedriver ffmpeg; do
    command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/install-deps.sh"
done
if ! [[ -x $python ]] || ! "$python" -c 'import selenium, axe_selenium_python' 2>/dev/null; then
    fail ".venv-tools lacks selenium or axe-selenium-python: run scripts/install-deps.sh --tools"
fi
if [[ -n ${DFGAZE_SCREENSHOT:-} ]]; then
    mkdir -p "$(dirname "$DFGAZE_SCREENSHOT")"
    DFGAZE_SCREENSHOT=$(cd "$(dirname "$DFGAZE_SCREENSHOT")" && pwd)/$(basename "$DFGAZE_SCREENSHOT")
    export DFGAZE_SCREENSHOT
fi

rm -rf "$out"
mkdir -p "$out"
tmp=$(mktemp -d -t dfgaze-browser.XXXXXX)
servers=()
# shellcheck disable=SC2329 # invoked by the EXIT trap
cleanup() {
    for pid in "${servers[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${servers[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

start_server "$out/server.log"
servers+=("$server")
plain=$port
key=browser-test-key-$RANDOM$RANDOM
printf '%s\n' "$key" >"$tmp/keys"
start_server "$out/server-keyed.log" --api-keys-file "$tmp/keys"
servers+=("$server")
keyed=$port
wait_ready "http://127.0.0.1:$plain/readyz"
wait_ready "http://127.0.0.1:$keyed/readyz"

echo "== review page in chromium ($(/usr/bin/chromium --version 2>/dev/null | head -n 1)), log and screenshots in $out"
rc=0
"$python" "$repo/Tests/Browser/review_page.py" --url "http://127.0.0.1:$plain" \
    --keyed-url "http://127.0.0.1:$keyed" --key "$key" --out "$out" 2>&1 | tee "$out/browser.log" || rc=$?
exit "$rc"
