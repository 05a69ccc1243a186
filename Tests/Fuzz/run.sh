#!/usr/bin/env bash
# Builds the libFuzzer targets under Tests/Fuzz (swiftc -sanitize=fuzzer,address) and runs each for
# SECONDS_PER_TARGET on a temporary copy of its seed corpus Tests/Fuzz/corpus/<target>/.
#
#   Tests/Fuzz/run.sh [SECONDS_PER_TARGET] [target...]      (default: 20 s, every target)
#
# Each target links only the package files it exercises, compiled as their own modules so the entry
# file uses the public API exactly as the package does. Binaries go to .build-fuzz/; a crashing,
# hanging or memory-hungry input is kept in fuzz-artifacts/<target>/ and the script exits non-zero.
# FUZZ_KEEP_CORPUS=<dir> keeps the grown corpora in <dir>/<target> (outside the repo) for a later run.
set -euo pipefail

cd "$(dirname "$0")/../.."
SECONDS_PER_TARGET=${1:-20}
shift $(( $# > 0 ? 1 : 0 ))
ALL_TARGETS=(http_request multipart safetensors jpeg checkpoint pickle faces)
TARGETS=("${@:-${ALL_TARGETS[@]}}")

BUILD=.build-fuzz
ARTIFACTS=fuzz-artifacts
# The package dependency ZIPFoundation, as SwiftPM checks it out (from its cache when offline).
ZIP=.build/checkouts/ZIPFoundation
SWIFTC=(swiftc -parse-as-library -sanitize=fuzzer,address -O -g -I "$BUILD/modules"
        -I Sources/CBLAS -I Sources/COpenSSL -I Sources/CTurboJPEG -I "$ZIP/Sources/CZLib"
        -I Sources/CDlibFaces/include)
# libFuzzer reports crashes itself; swift-backtrace would outlive the dead fuzzer and hold its output open.
export SWIFT_BACKTRACE=enable=no

# As ZIPFoundation's Package.swift builds it on Linux.
ZIP_FLAGS=(-swift-version 5 -Xcc -D_GNU_SOURCE=1)

# The package files each module is compiled from: only those the targets need.
module_sources() {
    case $1 in
        Tensors) echo Sources/Tensors/*.swift ;;
        HTTPServer) echo Sources/HTTPServer/{HTTPRequestParser,HTTPTypes,MultipartParser}.swift ;;
        Imaging) echo Sources/Imaging/*.swift ;;
        ZIPFoundation) echo "$ZIP"/Sources/ZIPFoundation/*.swift ;;
        Weights) echo Sources/Weights/SafeTensors.swift Sources/Weights/Checkpoint/*.swift ;;
        Faces) echo Sources/Faces/*.swift ;;
        *) echo "unknown module $1" >&2; return 1 ;;
    esac
}

# Modules a target links, dependencies first, and the largest input it is fed.
target_modules() {
    case $1 in
        http_request | multipart) echo HTTPServer ;;
        safetensors | checkpoint | pickle) echo Tensors ZIPFoundation Weights ;;
        jpeg) echo Imaging ;;
        faces) echo CDlibFaces Tensors Imaging Faces ;;
        *) echo "unknown target $1 (known: ${ALL_TARGETS[*]})" >&2; return 1 ;;
    esac
}
max_len() {
    case $1 in
        http_request) echo 4096 ;;
        multipart) echo 8192 ;;
        safetensors) echo 4096 ;;
        jpeg) echo 65536 ;;
        checkpoint) echo 16384 ;;
        pickle) echo 4096 ;;
        faces) echo 16384 ;;
    esac
}

# The C++ shim of Faces, with the sanitizers (dlib's templates are compiled into it, so they are
# instrumented too; libdlib.so itself is not), no fused multiply-adds, as Package.swift builds it.
build_cxx_shim() {
    local object=$BUILD/obj/CDlibFaces.o source=Sources/CDlibFaces/FrontalFaces.cpp
    [[ -f $object && $object -nt $source ]] && return
    echo "build module CDlibFaces"
    # The toolchain's clang++, whose sanitizer runtime is the one swiftc links.
    "$(dirname "$(command -v swiftc)")/clang++" -O2 -ffp-contract=off -g -fsanitize=fuzzer-no-link,address -I Sources/CDlibFaces/include \
        -c -o "$object" "$source" > "$BUILD/logs/module-CDlibFaces.log" 2>&1 \
        || { cat "$BUILD/logs/module-CDlibFaces.log"; return 1; }
}

# Compiles a module to one object and its .swiftmodule, unless both are newer than its sources.
build_module() {
    local name=$1 sources flags=()
    [[ $name == CDlibFaces ]] && { build_cxx_shim; return; }
    sources=$(module_sources "$name")
    [[ $name == ZIPFoundation ]] && flags=("${ZIP_FLAGS[@]}")
    local object=$BUILD/obj/$name.o
    # shellcheck disable=SC2086
    if [[ -f $object && $(cat "$object.sources" 2>/dev/null) == "$sources" && -z $(find $sources -newer "$object") ]]; then
        return
    fi
    echo "build module $name"
    # shellcheck disable=SC2086
    "${SWIFTC[@]}" "${flags[@]}" -wmo -module-name "$name" -emit-module -emit-module-path "$BUILD/modules/$name.swiftmodule" \
        -c -o "$object" $sources > "$BUILD/logs/module-$name.log" 2>&1 \
        || { cat "$BUILD/logs/module-$name.log"; return 1; }
    echo "$sources" > "$object.sources"
}

build_target() {
    local target=$1 modules objects=() m
    modules=$(target_modules "$target")
    for m in $modules; do build_module "$m"; objects+=("$BUILD/obj/$m.o"); done
    echo "build target $target"
    rm -f "$BUILD/bin/$target"
    # ld.gold warns about every ASan helper symbol; keep only real diagnostics.
    local libraries=()
    [[ $target == faces ]] && libraries=(-ldlib -lstdc++)
    "${SWIFTC[@]}" Tests/Fuzz/"$target"/*.swift "${objects[@]}" "${libraries[@]}" -o "$BUILD/bin/$target" 2>&1 \
        | grep -v "ld.gold: warning: Cannot export local symbol" > "$BUILD/logs/target-$target.log" || true
    [[ -x $BUILD/bin/$target ]] \
        || { cat "$BUILD/logs/target-$target.log"; return 1; }
}

# Runs one target on a copy of its seeds; prints its line of the summary; fails on a crash, hang or OOM.
fuzz_target() {
    local target=$1 corpus log status=0 executions coverage artifact
    if [[ -n ${FUZZ_KEEP_CORPUS:-} ]]; then corpus=$FUZZ_KEEP_CORPUS/$target; mkdir -p "$corpus"
    else corpus=$(mktemp -d); fi
    cp -r Tests/Fuzz/corpus/"$target"/. "$corpus"/
    mkdir -p "$ARTIFACTS/$target"
    log=$BUILD/logs/run-$target.log
    "$BUILD/bin/$target" "$corpus" -max_total_time="$SECONDS_PER_TARGET" -max_len="$(max_len "$target")" \
        -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$target/" \
        > "$log" 2>&1 || status=$?
    [[ -n ${FUZZ_KEEP_CORPUS:-} ]] || rm -rf "$corpus"
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    coverage=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 || true)
    artifact=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
    printf '%-14s %10s %8s %8s %8s  %s\n' "$target" "${executions:-?}" "$(awk '{print $2}' <<< "$coverage")" \
        "$(awk '{print $4}' <<< "$coverage")" "$(( status != 0 ))" "${artifact:-}"
    if (( status != 0 )); then
        grep -E '==ERROR|^SUMMARY|Fatal error' "$log" | head -5 || true
        echo "  full log: $log"
        return 1
    fi
}

# A function, so bash has read the whole script before it runs (editing the file mid-run is harmless).
main() {
    local target failed=0
    mkdir -p "$BUILD"/{obj,modules,bin,logs}
    [[ -d $ZIP ]] || swift package resolve
    for target in "${TARGETS[@]}"; do build_target "$target"; done
    printf '\n%-14s %10s %8s %8s %8s  %s\n' target executions cov ft crashes artifact
    for target in "${TARGETS[@]}"; do fuzz_target "$target" || failed=1; done
    return $failed
}

main
