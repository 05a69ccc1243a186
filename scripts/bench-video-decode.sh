#!/usr/bin/env bash
# Decode-time figures for issue 18's speed goal, without the networks: the ffprobe/ffmpeg
# commands the Video module runs (Sources/Video/VideoDecoder.swift) on a test video made here
# with lavfi (testsrc2; nothing large is committed), against SPEC.md section 1's plain full decode.
#   scripts/bench-video-decode.sh [WIDTHxHEIGHT] [SECONDS] [FPS] [MAX_WINDOWS]   (default 1280x720 60 30 32)
#   BENCH_VIDEO=file.mp4 scripts/bench-video-decode.sh ...   (measure that file instead of making one)
# Prints wall time, CPU time and peak RSS of each child, and the totals of the two paths:
# two-pass (probe: stream pass + ffprobe frame pass, then the sampled decode) and one-run
# (decode(_:maxWindows:): stream pass with the packet count, then one ffmpeg run counting every
# frame with showinfo ahead of the select). Not a test; nothing is asserted.
set -euo pipefail
SIZE="${1:-1280x720}"; SECONDS_LONG="${2:-60}"; FPS="${3:-30}"; W="${4:-32}"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
VIDEO="${BENCH_VIDEO:-$TMP/bench.mp4}"
if [[ -z ${BENCH_VIDEO:-} ]]; then
    echo "making $SIZE ${SECONDS_LONG}s ${FPS}fps H.264 (testsrc2, libx264 medium, yuv420p)..."
    ffmpeg -nostdin -v error -f lavfi -i "testsrc2=s=$SIZE:r=$FPS:d=$SECONDS_LONG" -c:v libx264 -pix_fmt yuv420p "$VIDEO"
fi
ls -l "$VIDEO" | awk '{print "file bytes:", $5}'

IN=(-protocol_whitelist file -format_whitelist mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,mpeg,ogg -threads 2)
# Each measurement appends "wall cpu" to $TMP/times.<path> for the totals.
FMT="%e s wall, %U s user + %S s sys, peak RSS %M KB"
record() { # path... (from the last line of $TMP/err)
    local line; line=$(tail -1 "$TMP/err"); echo "$line"
    for p in "$@"; do awk '{print $(NF-13), $(NF-10) + $(NF-6)}' <<<"$line" >>"$TMP/times.$p"; done
}
measure() { # paths label command...
    local paths="$1" label="$2"; shift 2
    /usr/bin/time -f "$label: $FMT" "$@" >"$TMP/out" 2>"$TMP/err" || { cat "$TMP/err"; exit 1; }
    record $paths
}
measure_pipe() { # paths label command... (stdout read through a pipe and counted, as the service reads it)
    local paths="$1" label="$2"; shift 2
    /usr/bin/time -o "$TMP/err" -f "$label: $FMT" "$@" 2>"$TMP/stderr" | wc -c >"$TMP/bytes"
    record $paths; echo "  pipe bytes: $(cat "$TMP/bytes")"
}
total() { awk -v l="$1" '{w += $1; c += $2} END {printf "%s: %.2f s wall, %.2f s CPU\n", l, w, c}' "$TMP/times.$2"; }
measure two "probe 1 (stream, format)" ffprobe -v error "${IN[@]}" -select_streams v:0 \
    -show_entries stream=codec_type,codec_name,width,height,avg_frame_rate:stream_side_data=rotation:format=duration,format_name \
    -of json "file:$VIDEO"
measure two "probe 2 (frame times)    " ffprobe -v error "${IN[@]}" -select_streams v:0 \
    -show_entries frame=best_effort_timestamp_time -of csv=p=0 "file:$VIDEO"
N=$(grep -c . "$TMP/out")
# The window rule (SPEC.md section 2), as WindowRule.windows(frames:maxWindows:).
EXPR=$(python3 - "$N" "$W" <<'PY'
import sys
from fractions import Fraction
n, w = int(sys.argv[1]), int(sys.argv[2])
k = 0 if n < 25 else max(1, n // 32)
ws = list(range(k)) if k <= w else ([0] if w == 1 else sorted({round(Fraction(j * (k - 1), w - 1)) for j in range(w)}))
runs = []
for x in ws:
    if runs and runs[-1][1] + 1 == x: runs[-1][1] = x
    else: runs.append([x, x])
print(f"{len(ws)} {k} not(mod(n,8))*(" + "+".join(f"between(n,{32*a},{32*b+24})" for a, b in runs) + ")")
PY
)
read -r NW K SEL <<<"$EXPR"
echo "N = $N frames, K = $K windows, $NW scored, $((NW * 4)) frames leave ffmpeg"
measure_pipe two "sampled decode (select)  " ffmpeg -nostdin -v error "${IN[@]}" -i "file:$VIDEO" -map 0:v:0 -vf "select='$SEL'" \
    -fps_mode passthrough -f rawvideo -pix_fmt rgb24 -
measure one "one-run 1 (stream, packets)" ffprobe -v error "${IN[@]}" -count_packets -select_streams v:0 \
    -show_entries stream=codec_type,codec_name,width,height,avg_frame_rate,time_base,nb_read_packets:stream_side_data=rotation:format=duration,format_name \
    -of json "file:$VIDEO"
# The packet count equals N here, so the estimate's windows are the true ones: no second run.
measure_pipe one "one-run 2 (showinfo+select)" ffmpeg -nostdin -hide_banner -nostats -v repeat+level+info -copyts "${IN[@]}" -i "file:$VIDEO" \
    -map 0:v:0 -vf "showinfo=checksum=0,select='$SEL',reverse,reverse" -fps_mode passthrough -f rawvideo -pix_fmt rgb24 -
echo "  frames counted by showinfo: $(grep -c '^\[Parsed_showinfo_0 @ 0x[0-9a-f]*\] \[info\] n:' "$TMP/stderr")"
measure_pipe full "full decode (SPEC cmd)   " ffmpeg -nostdin -v error -i "$VIDEO" -map 0:v:0 -fps_mode passthrough -f rawvideo -pix_fmt rgb24 -
total "two-pass (probe + decode)" two
total "one-run (decode(_:maxWindows:))" one
