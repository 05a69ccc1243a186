#!/usr/bin/env bash
# Issue 18's speed figures: `dfgaze bench --video` on a test video made here at runtime with
# ffmpeg's lavfi (nothing large is committed): testsrc2's moving pattern with a fixture face
# (Tests/Fixtures/dfgaze-video-v1/frames/astronaut.jpg, scaled to 5/6 of the frame's height)
# overlaid and swaying left and right, so detection does real work on every sampled frame.
# H.264 (libx264, preset $BENCH_PRESET, default medium), yuv420p, in MP4.
#   scripts/bench-video.sh [SECONDS] [FPS] [MAX_WINDOWS] [SIZE...]   (default 60 30 32 1280x720 1920x1080)
#   BENCH_VIDEO=file.mp4 scripts/bench-video.sh    (measure that file instead of making any)
# For each video, each a fresh process: the service's ScoringPipeline (exact detector), then the
# same stages timed one by one with the fast detection mode (the pipeline has no mode option).
# Needs the release binary (swift build -c release --product dfgaze). Not a test; nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_LONG="${1:-60}"; FPS="${2:-30}"; W="${3:-32}"; shift $(( $# > 3 ? 3 : $# ))
SIZES=("${@:-1280x720 1920x1080}"); read -r -a SIZES <<<"${SIZES[*]}"
FACE=Tests/Fixtures/dfgaze-video-v1/frames/astronaut.jpg
DFGAZE=.build/release/dfgaze
[[ -x $DFGAZE ]] || { echo "build it first: swift build -c release --product dfgaze" >&2; exit 1; }
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT

echo "$(date -u '+%F %T UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD)"
bench() { # video
    ls -l "$1" | awk '{print "file bytes:", $5}'
    for mode in service fast; do
        "$DFGAZE" bench --video "$1" --max-windows "$W" --detection "$mode"
        echo "  (load $(cut -d' ' -f1-3 /proc/loadavg))"
    done
}
if [[ -n ${BENCH_VIDEO:-} ]]; then bench "$BENCH_VIDEO"; exit; fi
for size in "${SIZES[@]}"; do
    h=${size#*x}; face=$(( h * 5 / 6 / 2 * 2 ))
    video="$TMP/bench-$size.mp4"
    echo "making $size ${SECONDS_LONG}s ${FPS}fps H.264 (testsrc2 + face overlay, libx264 ${BENCH_PRESET:-medium}, yuv420p)..."
    start=$(date +%s.%N)
    ffmpeg -nostdin -v error -f lavfi -i "testsrc2=s=$size:r=$FPS:d=$SECONDS_LONG" -loop 1 -framerate "$FPS" -i "$FACE" \
        -filter_complex "[1:v]scale=-2:$face[f];[0:v][f]overlay=x='(W-w)/2+(W-w)/3*sin(t/3)':y='(H-h)/2':shortest=1" \
        -c:v libx264 -preset "${BENCH_PRESET:-medium}" -pix_fmt yuv420p -t "$SECONDS_LONG" "$video"
    echo "  made in $(echo "$(date +%s.%N) - $start" | bc) s"
    bench "$video"
done
