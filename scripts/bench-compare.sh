#!/usr/bin/env bash
# Side-by-side speed: our binary (one 4-frame clip, JPEG bytes in, JSON out, warm process) against
# PyTorch eager and ONNX Runtime (model only, the authors' graph) on the same clip and machine,
# at 1 and 2 threads, in one run, then the ratios. Needs the release binary and
# `pip install torch torchvision onnx onnxruntime pillow numpy safetensors` (tools/reference/README.md).
# Usage: scripts/bench-compare.sh [RUNS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-5}
dfgaze=${DFGAZE:-.build/release/dfgaze}
[ -x "$dfgaze" ] || swift build -c release --product dfgaze
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
for t in 1 2; do
    "$dfgaze" bench --runs "$runs" --threads "$t" --json > "$out/ours-$t.json"
    python3 tools/reference/bench_peers.py --threads "$t" --runs "$runs" | tail -n 1 > "$out/peers-$t.json"
done
python3 - "$out" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
print(f"{'threads':>7} {'ours e2e':>10} {'torch eager':>12} {'onnxruntime':>12} {'ours/ORT':>9} {'ours/torch':>10}"
      f" {'GEMM GFLOP/s':>13} {'sgemm':>7} {'GEMM/sgemm':>10} {'non-GEMM':>9} {'peak RSS':>9}")
for t in (1, 2):
    ours = json.loads((out / f"ours-{t}.json").read_text())
    peers = json.loads((out / f"peers-{t}.json").read_text())
    e2e, torch_s, ort_s = ours["end_to_end_s"], peers["torch_eager_ms"] / 1e3, peers["onnxruntime_ms"] / 1e3
    print(f"{t:>7} {e2e:>9.3f}s {torch_s:>11.3f}s {ort_s:>11.3f}s {e2e / ort_s:>9.2f} {e2e / torch_s:>10.2f}"
          f" {ours['gemm_gflops']:>13.1f} {ours['sgemm_2048_gflops']:>7.1f} {ours['gemm_fraction_of_sgemm']:>10.2f}"
          f" {ours['non_gemm_fraction']:>9.2f} {ours['peak_rss_mib']:>7.0f}MiB")
    print(f"        stages: " + ", ".join(f"{k} {v:.3f}s" for k, v in sorted(ours["stages_s"].items())))
print("goal: ours/ORT <= 0.67 and ours/torch <= 0.40 (ours: end to end without AAM, whose maps never reach the score;"
      " peers: model only, all four networks); GEMM/sgemm >= 0.85; non-GEMM share < 0.10")
PY
