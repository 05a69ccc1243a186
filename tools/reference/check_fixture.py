"""Prove the reference graph is the authors' graph: run it with the demo weights on the
fixture frames and compare with expected.json / expected.safetensors (SPEC.md).

Tolerances (SPEC.md section 3): crops exact; maps and logits 1e-4 relative to the largest
magnitude of the expected tensor (elementwise relative error is meaningless on ReLU zeros);
probabilities 1e-5 relative; gaze angles and vectors 1e-4 relative (floor 1 degree / 1).

usage: python3 tools/reference/check_fixture.py        (exit status 0 when all agree)
"""
import json
import math
import sys

import numpy as np
import torch
from safetensors.numpy import load_file

import dfgaze_ref as ref

failures = []


def check(name, got, expected, rtol, scale=None):
    """|got - expected| <= rtol * scale, scale defaulting to max |expected| (at least 1e-30)."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    if scale is None:
        scale = max(np.abs(expected).max(), 1e-30)
    err = np.abs(got - expected).max() / scale
    ok = got.shape == expected.shape and err <= rtol
    if not ok:
        failures.append(name)
    print(f"{'ok  ' if ok else 'FAIL'} {name}: max error {err:.2e} (tolerance {rtol:.0e})")


def gaze_degrees(logits):
    """Expectation of the 90-bin softmax, in degrees."""
    p = torch.softmax(torch.from_numpy(logits).double(), -1).numpy()
    return float(p @ np.arange(90)) * 4 - 180


def gaze_vector(yaw, pitch):
    y, p = math.radians(yaw), math.radians(pitch)
    return [-math.cos(p) * math.sin(y), -math.sin(p), -math.cos(p) * math.cos(y)]


def main():
    torch.set_grad_enabled(False)
    expected = json.loads((ref.FIXTURE / "expected.json").read_text())
    tensors = load_file(str(ref.FIXTURE / "expected.safetensors"))
    nets = ref.load_demo_networks()
    print("state dicts match checkpoint_keys.json; demo weights match all 1586 SHA-256")

    names = [f"{c}_{i}" for c in "ab" for i in range(4)]
    crops = np.stack([ref.crop_rgb(ref.FIXTURE / "frames" / f"{n}.jpg") for n in names])
    for name, crop in zip(names, crops):
        same = np.array_equal(crop, tensors[f"{name}.crop_rgb"])
        failures.extend([] if same else [f"{name}.crop_rgb"])
        print(f"{'ok  ' if same else 'FAIL'} {name}.crop_rgb: exact")

    # Backbones are per frame (eval BatchNorm), so run each frame once, then each clip.
    x = ref.to_input(crops)
    yaw, pitch, gaze = nets["gam"](x)
    texture, attribute = nets["tam"](x), nets["aam"](x)
    for i, name in enumerate(names):
        check(f"{name}.gam.yaw_logits", yaw[i], tensors[f"{name}.gam.yaw_logits"], 1e-4)
        check(f"{name}.gam.pitch_logits", pitch[i], tensors[f"{name}.gam.pitch_logits"], 1e-4)
        if name.startswith("a"):
            check(f"{name}.gam.layer4", gaze[i], tensors[f"{name}.gam.layer4"], 1e-4)
            check(f"{name}.tam.layer4", texture[i], tensors[f"{name}.tam.layer4"], 1e-4)
            check(f"{name}.aam.out", attribute[i], tensors[f"{name}.aam.out"], 1e-4)

    # Aggregator alone, on the authors' own maps of clip a.
    maps = [torch.from_numpy(np.stack([tensors[f"a_{i}.{k}"] for i in range(4)]))
            for k in ("gam.layer4", "tam.layer4", "aam.out")]
    heads = torch.cat(nets["agg"](*maps))
    check("aggregator on fixture maps: head_logits", heads, tensors["video8.clip0.head_logits"], 1e-4)
    check("aggregator on fixture maps: head_softmax", torch.softmax(heads, -1),
          tensors["video8.clip0.head_softmax"], 1e-5, scale=1.0)

    for case, spec in expected["cases"].items():
        index = [names.index(f["name"]) for f in spec["frames"]]
        for f, i in zip(spec["frames"], index):
            yd, pd = gaze_degrees(yaw[i].numpy()), gaze_degrees(pitch[i].numpy())
            check(f"{case}.{f['name']}.yaw_deg", yd, f["yaw_deg"], 1e-4, max(abs(f["yaw_deg"]), 1))
            check(f"{case}.{f['name']}.pitch_deg", pd, f["pitch_deg"], 1e-4, max(abs(f["pitch_deg"]), 1))
            check(f"{case}.{f['name']}.vector", gaze_vector(yd, pd), f["vector"], 1e-4, 1.0)
        clip_probs = []
        for k, clip in enumerate(spec["clips"]):
            rows = [index[j] for j in clip["frames"]]
            heads = torch.cat(nets["agg"](gaze[rows], texture[rows], attribute[rows]))
            softmax = torch.softmax(heads, -1)
            key = f"{case}.clip{k}"
            check(f"{key}.head_logits", heads, tensors[f"{key}.head_logits"], 1e-4)
            check(f"{key}.head_softmax", softmax, tensors[f"{key}.head_softmax"], 1e-5, scale=1.0)
            fake = softmax[:, 0].double()
            check(f"{key}.head_fake_probability", fake, clip["head_fake_probability"], 1e-5, scale=1.0)
            check(f"{key}.fake_probability", fake.mean(), clip["fake_probability"], 1e-5, scale=1.0)
            clip_probs.append(float(fake.mean()))
        check(f"{case}.fake_probability", np.mean(clip_probs), spec["fake_probability"], 1e-5, scale=1.0)

    print(f"\n{'FAILED: ' + ', '.join(failures) if failures else 'all checks passed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
