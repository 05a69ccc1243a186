#!/usr/bin/env python3
"""Writes the tiny PyTorch checkpoints the Swift `PyTorchCheckpoint` tests read.

Run from the repository root with torch installed:
    python3 tools/checkpoints/make_test_checkpoints.py
Outputs go to Tests/WeightsTests/Resources/checkpoints/ (a few KB, committed).

- state_dict.pt          torch.save of a small state dict, in the current zip layout.
- state_dict_torch18.pt  the same state dict in the layout torch 1.8 wrote (see `torch18_layout`).
- state_dict_legacy.pt   the same state dict in the pre-1.6 format (`_use_new_zipfile_serialization=False`),
                         as the 2019 Res2Net and FairFace checkpoints were written.
- expected.json          every tensor's shape and float32 bit patterns, read back with torch.load,
                         so the Swift test can prove the tensors are bit-identical.
- hostile_*.pt           files the loader must refuse with a clear error (see `write_hostile`).
"""
import io
import json
import os
import pickle
import struct
import zipfile

import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "WeightsTests", "Resources", "checkpoints")


def make_state_dict():
    """A module state dict (OrderedDict with `_metadata`, an int64 num_batches_tracked) plus the
    tensor layouts torch.save can produce: 0-d, empty, a view at a storage offset, two tensors
    sharing one storage, a transposed (non-contiguous) view, an nn.Parameter, and float32 bit
    patterns a decimal round trip would lose (-0, inf, NaN with a payload, a subnormal)."""
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3))
    module.eval()
    with torch.no_grad():
        module[1].running_mean.copy_(torch.randn(3))
        module[1].running_var.copy_(torch.rand(3) + 0.5)
    module[1].num_batches_tracked.fill_(7)
    state = module.state_dict()

    special = torch.tensor([-0.0, float("inf"), float("-inf"), 1e-45, 3.4028235e38, 1.0, -2.5])
    special_bits = special.view(torch.int32)
    special_bits[5] = 0x7FC00123  # a quiet NaN with a payload
    state["special"] = special

    base = torch.arange(12, dtype=torch.float32) * 0.25 - 1.0
    state["shared.whole"] = base.view(3, 4)          # storage offset 0
    state["shared.row"] = base[4:8]                  # same storage, offset 4
    state["shared.transposed"] = base.view(3, 4).t()  # same storage, strides (1, 4)
    state["scalar"] = torch.tensor(3.75)             # 0-d
    state["empty"] = torch.zeros(0, 3)
    state["parameter"] = torch.nn.Parameter(torch.randn(2, 2))  # pickled via _rebuild_parameter
    state["step"] = torch.tensor([5, -1], dtype=torch.int64)
    return state


def expected_json(path):
    """Shape and bit patterns of every tensor as torch.load reads the file back."""
    loaded = torch.load(path, weights_only=True)
    floats, others = {}, []
    for key, tensor in loaded.items():
        if tensor.dtype == torch.float32:
            bits = tensor.contiguous().view(torch.int32).flatten().tolist()
            floats[key] = {"shape": list(tensor.shape), "bits": [b & 0xFFFFFFFF for b in bits]}
        else:
            others.append(key)
    return {"float32": floats, "other": sorted(others)}


def records(path):
    """(name without the root folder, bytes) of every record of a torch zip checkpoint."""
    with zipfile.ZipFile(path) as z:
        return [(info.filename.split("/", 1)[1], z.read(info)) for info in z.infolist()]


def write_aligned_zip(path, root, entries):
    """Stored (uncompressed) entries whose data start on a 64-byte boundary, padded like torch's
    PyTorchStreamWriter: a local-header extra field with id 'FB' filled with 'Z'."""
    with open(path, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(f"{root}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            header = f.tell() + 30 + len(info.filename)
            padding = (-(header + 4)) % 64
            info.extra = b"FB" + struct.pack("<H", padding) + b"Z" * padding
            z.writestr(info, data)


def torch18_layout(current, path):
    """torch 1.8 wrote the same data.pkl (protocol 2, _rebuild_tensor_v2, typed storage globals)
    and the same 64-byte aligned stored records, but under the root folder `archive/` and
    without the later records (byteorder came with 1.10-era files, .data/serialization_id,
    .format_version, .storage_alignment later still). No torch 1.8 wheel runs on this Python,
    so the current file is rewritten: same records, root renamed, extras dropped; order as 1.8
    wrote them: data.pkl, data/<key>..., version last."""
    kept = [(n, d) for n, d in records(current) if n == "data.pkl" or n.startswith("data/")]
    version = [(n, d) for n, d in records(current) if n == "version"]
    write_aligned_zip(path, "archive", kept + version)


class Reduce:
    """An object whose pickle calls `function(*args)`: what an attacker's checkpoint contains."""

    def __init__(self, function, args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def replace_record(current, path, name, data):
    root = "hostile"
    write_aligned_zip(path, root, [(n, data if n == name else d) for n, d in records(current)])


def write_hostile(current):
    """Checkpoints torch.load(weights_only=True) also refuses, each for one reason."""
    # A pickle that would run a shell command on an unguarded torch.load.
    payload = pickle.dumps(Reduce(os.system, ("echo pwned",)), protocol=2)
    replace_record(current, os.path.join(OUT, "hostile_os_system.pt"), "data.pkl", payload)
    # The archive cut in half: no end-of-central-directory record.
    with open(current, "rb") as f:
        data = f.read()
    with open(os.path.join(OUT, "hostile_truncated.pt"), "wb") as f:
        f.write(data[: len(data) // 2])
    # A storage record shorter than the tensor's declared element count (data/0: 0.weight).
    short = dict(records(current))["data/0"][:-4]
    replace_record(current, os.path.join(OUT, "hostile_short_storage.pt"), "data/0", short)
    # A file saved on a big-endian machine.
    replace_record(current, os.path.join(OUT, "hostile_big_endian.pt"), "byteorder", b"big")
    # A float16 tensor: a storage type the loader does not convert.
    torch.save({"half": torch.ones(2, dtype=torch.float16)}, os.path.join(OUT, "hostile_float16.pt"))


def main():
    os.makedirs(OUT, exist_ok=True)
    current = os.path.join(OUT, "state_dict.pt")
    torch.save(make_state_dict(), current)
    torch18_layout(current, os.path.join(OUT, "state_dict_torch18.pt"))
    torch.save(make_state_dict(), os.path.join(OUT, "state_dict_legacy.pt"), _use_new_zipfile_serialization=False)
    expected = expected_json(current)
    for layout in ["state_dict_torch18.pt", "state_dict_legacy.pt"]:
        assert expected == expected_json(os.path.join(OUT, layout)), layout
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
    write_hostile(current)


if __name__ == "__main__":
    main()
