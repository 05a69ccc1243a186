#!/usr/bin/env bash
# Side-by-side speed: our binary (one 4-frame clip, JPEG bytes in, JSON out, warm process) against
# PyTorch eager and ONNX Runtime (model only, the authors' graph) on the same clip and machine,
# at 1 and 2 threads, in one run, then the ratios. Needs the release binary and
# `pip install torch torchvision onnx onnxruntime pillow numpy safetensors` (tools/reference/README.md).
#
# This kind of shared machine swings by 10-30 % from minute to minute, so the three runtimes are
# measured in ROUNDS interleaved rounds (ours, then the peers, at each thread count, RUNS timed runs
# each) and every ratio is taken within a round; the table gives each figure's median over the
# rounds and each ratio's range.
# Usage: scripts/bench-compare.sh [RUNS [ROUNDS]]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-3}
rounds=${2:-3}
dfgaze=${DFGAZE:-.build/release/dfgaze}
[ -x "$dfgaze" ] || swift build -c release --product dfgaze
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
    for t in 1 2; do
        "$dfgaze" bench --runs "$runs" --threads "$t" --json > "$out/ours-$t-$round.json"
        python3 tools/reference/bench_peers.py --threads "$t" --runs "$runs" | tail -n 1 > "$out/peers-$t-$round.json"
    done
    echo "round $round of $rounds done"
done
python3 - "$out" "$rounds" <<'PY'
import json, pathlib, statistics, sys
out, rounds = pathlib.Path(sys.argv[1]), int(sys.argv[2])
def load(name): return json.loads((out / name).read_text())
print(f"{'threads':>7} {'ours e2e':>9} {'torch eager':>11} {'onnxruntime':>11} {'ours/ORT':>17} {'ours/torch':>17}"
      f" {'GEMM GFLOP/s':>12} {'sgemm':>6} {'GEMM/sgemm':>10} {'non-GEMM':>8} {'peak RSS':>8}")
for t in (1, 2):
    ours = [load(f"ours-{t}-{r}.json") for r in range(1, rounds + 1)]
    peers = [load(f"peers-{t}-{r}.json") for r in range(1, rounds + 1)]
    e2e = [o["end_to_end_s"] for o in ours]
    torch_s = [p["torch_eager_ms"] / 1e3 for p in peers]
    ort_s = [p["onnxruntime_ms"] / 1e3 for p in peers]
    vs_ort = [a / b for a, b in zip(e2e, ort_s)]
    vs_torch = [a / b for a, b in zip(e2e, torch_s)]
    med = statistics.median
    def ratio(xs): return f"{med(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})"
    def of(key): return med([o[key] for o in ours])
    print(f"{t:>7} {med(e2e):>8.3f}s {med(torch_s):>10.3f}s {med(ort_s):>10.3f}s {ratio(vs_ort):>17} {ratio(vs_torch):>17}"
          f" {of('gemm_gflops'):>12.1f} {of('sgemm_2048_gflops'):>6.1f} {of('gemm_fraction_of_sgemm'):>10.2f}"
          f" {of('non_gemm_fraction'):>8.3f} {max(o['peak_rss_mib'] for o in ours):>6.0f}MiB")
    stages = {k: med([o["stages_s"][k] for o in ours]) for k in ours[0]["stages_s"]}
    print(f"        stages: " + ", ".join(f"{k} {v:.3f}s" for k, v in sorted(stages.items())))
    floor = [o["gemm_floor_s"] for o in ours]
    print(f"        floor (GEMM work issued at the same run's sgemm rate, nothing else) {med(floor):.3f}s:"
          f" best possible ours/ORT {med([a / b for a, b in zip(floor, ort_s)]):.2f},"
          f" ours/torch {med([a / b for a, b in zip(floor, torch_s)]):.2f}")
    print(f"        per round ours/ORT: " + " ".join(f"{x:.2f}" for x in vs_ort)
          + "; ours/torch: " + " ".join(f"{x:.2f}" for x in vs_torch))
print("goal: ours/ORT <= 0.67 and ours/torch <= 0.40 (ours: end to end without AAM, whose maps never reach the score;"
      " peers: model only, all four networks); GEMM/sgemm >= 0.85; non-GEMM share < 0.10")
PY
