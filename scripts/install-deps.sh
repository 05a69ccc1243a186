#!/usr/bin/env bash
# Installs what building, running and testing DFGaze Serve needs on Debian 12, and nothing that is
# already there: system packages through apt-get (checked one by one with dpkg -s, `apt-get update`
# at most once), and with --tools the Python lint/validation tools into .venv-tools/.
# Safe to run again and again; CI runs it as root with no terminal.
#
#   scripts/install-deps.sh           system packages + Swift toolchain check (make run)
#   scripts/install-deps.sh --tools   the same, plus .venv-tools/ (make test)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Build: the system libraries of Package.swift (CBLAS, CTurboJPEG, COpenSSL, CDlibFaces).
# Tests and tools: curl and openssl (CLI) used by tests, haproxy (config check and reliability
# tests), python3 + venv for .venv-tools/, git for SwiftPM dependency resolution, make.
# ffmpeg: video decoding (ffprobe/ffmpeg run as child processes; the Faces tests decode the video fixture with it).
PACKAGES=(libopenblas-dev libturbojpeg0-dev libssl-dev libdlib-dev ffmpeg curl openssl haproxy git make python3 python3-venv)
# Jobs: the SQLite and PostgreSQL client libraries (CSQLite, CPostgres), and the PostgreSQL server
# whose binaries Tests/Jobs/postgres.sh runs as a throwaway cluster for the tests.
PACKAGES+=(libsqlite3-dev libpq-dev postgresql)
# chromium + chromium-driver: the review page's browser tests (Tests/Browser/run.sh).
PACKAGES+=(chromium chromium-driver)
TOOLS_REQUIREMENTS="$ROOT/Deploy/requirements-tools.txt"
TOOLS_VENV="$ROOT/.venv-tools"

say() { printf 'install-deps: %s\n' "$*"; }
die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

want_tools=false
for arg in "$@"; do
    case "$arg" in
        --tools) want_tools=true ;;
        -h|--help) sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$arg' (try --help)" ;;
    esac
done

# Runs a command as root: directly when we are root, else through sudo (never prompting when
# there is no terminal to answer it).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        if [ -t 0 ]; then sudo "$@"; else sudo -n "$@"; fi
    else
        die "need root to run '$*': run this script as root, or install sudo"
    fi
}

install_system_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        die "this script installs with apt-get (Debian 12); on another system install: ${PACKAGES[*]}"
    fi
    local missing=()
    for pkg in "${PACKAGES[@]}"; do
        # dpkg -s also succeeds for removed-but-configured packages; require "install ok installed".
        if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
            missing+=("$pkg")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        say "system packages present (${PACKAGES[*]})"
        return
    fi
    say "installing missing packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -q || die "apt-get update failed (network, or not allowed to run it?)"
    as_root apt-get install -y -q --no-install-recommends "${missing[@]}" \
        || die "apt-get install ${missing[*]} failed"
}

check_swift() {
    if command -v swift >/dev/null 2>&1; then
        say "swift: $(swift --version 2>/dev/null | head -n 1)"
    elif [ -x /opt/swift/usr/bin/swift ]; then
        say "swift found at /opt/swift/usr/bin (not on PATH; the Makefile adds it):" \
            "$(/opt/swift/usr/bin/swift --version 2>/dev/null | head -n 1)"
    else
        die "no Swift toolchain: install Swift 6.3 from swift.org (e.g. into /opt/swift) and put its usr/bin on PATH"
    fi
}

# .venv-tools/ is rebuilt only when missing or when Deploy/requirements-tools.txt changed.
install_tools() {
    local stamp="$TOOLS_VENV/.requirements.sha256" want
    want="$(sha256sum "$TOOLS_REQUIREMENTS" | cut -d' ' -f1)"
    if [ -x "$TOOLS_VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        say "lint tools present in .venv-tools/"
        return
    fi
    say "installing lint tools into .venv-tools/ ($(tr '\n' ' ' < "$TOOLS_REQUIREMENTS"))"
    python3 -m venv "$TOOLS_VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$TOOLS_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$TOOLS_REQUIREMENTS" \
        || die "pip install -r Deploy/requirements-tools.txt failed"
    echo "$want" > "$stamp"
}

install_system_packages
check_swift
if $want_tools; then install_tools; fi
