#!/usr/bin/env bash
# Lints and validates everything under Deploy/ (and ./openapi.yaml), offline:
#   Dockerfile        hadolint (Deploy/hadolint.yaml)
#   kubernetes/*.yaml kubernetes-validate --strict against bundled schemas of KUBE_VERSIONS;
#                     kustomization.yaml must list exactly the other manifests
#   haproxy.cfg       haproxy -c
#   openapi.yaml      openapi-spec-validator (when the file exists)
#   shell scripts     shellcheck (scripts/install-deps.sh, Deploy/lint.sh, .ci/run)
#   dfgaze.service    systemd-analyze verify (any warning fails) and security --offline
#                     (exposure must stay <= 2.0); skipped with a message if systemd-analyze is absent
# The Python tools come from .venv-tools/ (scripts/install-deps.sh --tools). Exits 1 if any check fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.venv-tools/bin"
# Oldest Kubernetes the manifests claim (lifecycle.preStop.sleep is on by default from 1.30) and
# the newest whose schemas kubernetes-validate bundles.
KUBE_VERSIONS=(1.30.0 1.37.0)

passed=0 failed=0 skipped=0
failures=()
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# check NAME COMMAND...: runs one check, prints its output only when it fails.
check() {
    local name="$1"; shift
    if "$@" >"$WORK/out" 2>&1; then
        printf '  ok    %s\n' "$name"; passed=$((passed + 1))
    else
        printf '  FAIL  %s\n' "$name"; sed 's/^/        /' "$WORK/out"
        failed=$((failed + 1)); failures+=("$name")
    fi
}
skip() { printf '  skip  %s (%s)\n' "$1" "$2"; skipped=$((skipped + 1)); }

need_tool() {
    [ -x "$TOOLS/$1" ] || { echo "lint: $TOOLS/$1 missing: run scripts/install-deps.sh --tools" >&2; exit 1; }
}
need_tool hadolint; need_tool kubernetes-validate; need_tool openapi-spec-validator; need_tool shellcheck

echo "== deploy lint"

check "Dockerfile (hadolint)" "$TOOLS/hadolint" --no-color --config Deploy/hadolint.yaml Deploy/Dockerfile

manifests=()
for f in Deploy/kubernetes/*.yaml; do
    [ "$(basename "$f")" = kustomization.yaml ] || manifests+=("$f")
done
for v in "${KUBE_VERSIONS[@]}"; do
    check "kubernetes manifests, schemas $v (kubernetes-validate --strict)" \
        "$TOOLS/kubernetes-validate" --strict --quiet -k "$v" "${manifests[@]}"
done
kustomization_lists_all() {
    "$TOOLS/python" - Deploy/kubernetes <<'EOF'
import pathlib, sys, yaml
folder = pathlib.Path(sys.argv[1])
listed = set(yaml.safe_load((folder / "kustomization.yaml").read_text())["resources"])
present = {p.name for p in folder.glob("*.yaml")} - {"kustomization.yaml"}
if listed != present:
    sys.exit(f"kustomization.yaml resources {sorted(listed)} != manifests {sorted(present)}")
EOF
}
check "kubernetes kustomization.yaml lists every manifest" kustomization_lists_all

if command -v haproxy >/dev/null 2>&1; then
    check "haproxy.cfg (haproxy -c)" haproxy -c -f Deploy/haproxy/haproxy.cfg
else
    skip "haproxy.cfg" "haproxy not installed"
fi

check "shell scripts (shellcheck)" "$TOOLS/shellcheck" scripts/install-deps.sh scripts/swift-test.sh Deploy/lint.sh .ci/run

if [ -f openapi.yaml ]; then
    check "openapi.yaml (openapi-spec-validator)" "$TOOLS/openapi-spec-validator" openapi.yaml
else
    skip "openapi.yaml" "no ./openapi.yaml yet"
fi

# systemd-analyze resolves ExecStart and the unit's dependencies against a root folder: it gets
# the host's unit files and an executable stand-in for /usr/local/bin/dfgaze (the unit is checked
# here, not the binary). verify exits 0 on unknown keys or bad values, so any output is a failure.
systemd_verify() {
    local root="$WORK/root"
    mkdir -p "$root/usr/local/bin" "$root/etc/systemd/system" "$root/usr/lib/systemd"
    cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
    printf '#!/bin/sh\nexit 0\n' > "$root/usr/local/bin/dfgaze"; chmod +x "$root/usr/local/bin/dfgaze"
    cp Deploy/systemd/dfgaze.service "$root/etc/systemd/system/"
    systemd-analyze --root="$root" verify dfgaze.service 2>&1 | tee "$WORK/verify"
    [ ! -s "$WORK/verify" ]
}
systemd_exposure() {
    systemd-analyze security --offline=yes --root="$WORK/root" --threshold=20 --no-pager dfgaze.service
}
if command -v systemd-analyze >/dev/null 2>&1 && [ -d /usr/lib/systemd/system ]; then
    check "dfgaze.service (systemd-analyze verify)" systemd_verify
    check "dfgaze.service hardening (systemd-analyze security, exposure <= 2.0)" systemd_exposure
else
    skip "dfgaze.service" "systemd-analyze not available on this machine"
fi

echo "deploy lint: $passed passed, $failed failed, $skipped skipped"
if [ "$failed" -gt 0 ]; then
    printf 'deploy lint failed: %s\n' "${failures[*]}" >&2
    exit 1
fi
