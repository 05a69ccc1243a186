#!/usr/bin/env bash
# Runs the XCTest suite (release, already built by `make test`) and closes with one plain summary
# line, "swift: N passed, N failed, N skipped", taken from XCTest's own 'All tests' total.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
${SWIFT:-swift} test -c release -Xswiftc -enable-testing --skip-build --disable-swift-testing 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
total=$(grep -A1 "Test Suite 'All tests'" "$log" | grep -o 'Executed [0-9]* tests\?.*' | tail -n 1)
executed=$(grep -o 'Executed [0-9]*' <<<"$total" | grep -o '[0-9]*$')
skipped=$(grep -o '[0-9]* tests\? skipped' <<<"$total" | grep -o '^[0-9]*')
failed=$(grep -o '[0-9]* failures\?' <<<"$total" | grep -o '^[0-9]*')
if [[ -z $executed || -z $failed ]]; then
    echo "swift-test: no XCTest summary found (exit $status)" >&2
    exit $(( status == 0 ? 1 : status ))
fi
skipped=${skipped:-0}
echo "swift: $(( executed - skipped - failed )) passed, $failed failed, $skipped skipped"
exit "$status"
