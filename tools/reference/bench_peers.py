"""Time the model-only forward pass of one 4-frame clip (GAM + TAM + AAM on the 4 frames,
then the PSTA aggregator) in PyTorch eager and in ONNX Runtime, with the demo weights,
plus torch's sgemm 2048^3 rate in the same run, as peers for our Swift binary.

The ONNX model is exported once into a cache directory (default ~/.cache/dfgaze-ref; never
committed), keyed by the torch version and this folder's model code.
The last stdout line is a JSON object for wrapper scripts (times in milliseconds, medians
of --runs after --warmup; *_cpu_ms is process CPU time, wall time otherwise).

usage: python3 tools/reference/bench_peers.py --threads 1|2 [--clip f0.jpg f1.jpg f2.jpg f3.jpg]
                                              [--runs 5] [--warmup 1] [--cache DIR]
"""
import argparse
import hashlib
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

import dfgaze_ref as ref


def median_ms(fn, runs, warmup):
    """(median wall ms, median process CPU ms); CPU time is the steadier figure on a busy
    machine at 1 thread (with more threads it also counts ONNX Runtime's spin-waiting)."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - start_cpu) * 1e3)
    return statistics.median(wall), statistics.median(cpu)


def torch_eager(nets, x, runs, warmup):
    """Median per part over the same runs; the parts run back to back make one clip forward."""
    parts = {k: [] for k in ref.NETWORKS}

    def clip():
        out = {}
        for name, fn in (("gam", lambda: nets["gam"](x)), ("tam", lambda: nets["tam"](x)),
                         ("aam", lambda: nets["aam"](x)),
                         ("agg", lambda: nets["agg"](out["gam"][2], out["tam"], out["aam"]))):
            start = time.perf_counter()
            out[name] = fn()
            parts[name].append((time.perf_counter() - start) * 1e3)
        return out

    with torch.inference_mode():
        for _ in range(warmup):
            clip()
        for v in parts.values():
            v.clear()
        wall, cpu = median_ms(clip, runs, warmup=0)
    return wall, cpu, {k: statistics.median(v) for k, v in parts.items()}


def sgemm_gflops(runs=5):
    """GFLOP/s of a 2048^3 float32 matmul, from wall time and from process CPU time."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    wall, cpu = median_ms(lambda: torch.mm(a, b), runs, warmup=2)
    return tuple(2 * 2048 ** 3 / (ms * 1e-3) / 1e9 for ms in (wall, cpu))


def onnx_model(model, x, cache):
    """Path of the exported clip graph, exporting it when not cached yet."""
    code = hashlib.sha256((Path(ref.__file__)).read_bytes()).hexdigest()[:12]
    path = cache / f"dfgaze-clip-demo-v1-torch{torch.__version__.split('+')[0]}-{code}.onnx"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        print(f"exporting ONNX to {path} ...", flush=True)
        tmp = path.with_suffix(".tmp")
        with torch.inference_mode():
            torch.onnx.export(model, (x,), str(tmp), dynamo=False, opset_version=17,
                              input_names=["frames"], output_names=["yaw", "pitch", "heads"])
        tmp.rename(path)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--clip", nargs=4, type=Path, metavar="JPEG",
                        default=[ref.FIXTURE / "frames" / f"a_{i}.jpg" for i in range(4)])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/dfgaze-ref")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    nets = ref.load_demo_networks()
    model = ref.DFGazeClip(nets).eval()
    x = ref.to_input(np.stack([ref.crop_rgb(p) for p in args.clip]))

    eager_ms, eager_cpu, parts_ms = torch_eager(nets, x, args.runs, args.warmup)
    print(f"torch eager  {args.threads} thread(s): {eager_ms:8.1f} ms/clip (cpu {eager_cpu:.1f})  "
          + "  ".join(f"{k} {v:.1f}" for k, v in parts_ms.items()))
    gflops, gflops_cpu = sgemm_gflops()
    print(f"torch sgemm 2048^3 {args.threads} thread(s): {gflops:.1f} GFLOP/s (per CPU second {gflops_cpu:.1f})")

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(str(onnx_model(model, x, args.cache)), options,
                                   providers=["CPUExecutionProvider"])
    feed = {"frames": x.numpy()}
    ort_ms, ort_cpu = median_ms(lambda: session.run(None, feed), args.runs, args.warmup)
    print(f"onnxruntime  {args.threads} thread(s): {ort_ms:8.1f} ms/clip (cpu {ort_cpu:.1f})")

    # sanity: both peers compute the same clip scores
    with torch.inference_mode():
        eager_heads = torch.softmax(model(x)[2], -1).numpy()
    ort_heads = torch.softmax(torch.from_numpy(session.run(None, feed)[2]), -1).numpy()
    diff = float(np.abs(eager_heads - ort_heads).max())
    print(f"head softmax max |eager - onnxruntime| = {diff:.1e}; "
          f"clip fake probability {eager_heads[0, :, 0].mean():.6f}")

    print(json.dumps({
        "threads": args.threads, "runs": args.runs, "warmup": args.warmup,
        "torch_eager_ms": round(eager_ms, 2), "torch_eager_cpu_ms": round(eager_cpu, 2),
        "torch_eager_parts_ms": {k: round(v, 2) for k, v in parts_ms.items()},
        "onnxruntime_ms": round(ort_ms, 2), "onnxruntime_cpu_ms": round(ort_cpu, 2),
        "torch_sgemm_2048_gflops": round(gflops, 2),
        "torch_sgemm_2048_gflops_cpu": round(gflops_cpu, 2),
        "softmax_max_diff": diff, "torch": torch.__version__, "onnxruntime": ort.__version__,
        "clip": [str(p) for p in args.clip], "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
    }))


if __name__ == "__main__":
    main()
