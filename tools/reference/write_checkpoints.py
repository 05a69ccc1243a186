"""Write the dfgaze-demo-v1 weights as the authors' four checkpoint files, for the
importer's full-size test:

    OUTDIR/model1_<id>.pt (GAM)   modelcnn_<id>.pt (TAM)   modelatt_<id>.pt (AAM)
    OUTDIR/capsule_<id>.pt (aggregator)

Each is `torch.save(module.state_dict())`, as the authors' train.py does (an OrderedDict
with `_metadata`), with every key of checkpoint_keys.json, in order.
The keys of the recipe (SPEC.md section 1) carry exactly the demo values (verified against
demo_weights_sha256.json before writing); keys the forward pass never reads get the same
rule applied to their own name (deterministic) and num_batches_tracked = 0.
--legacy writes the pre-1.6 pickle format instead of the zip container; --location cuda:1
tags every storage with that device, as files saved from a GPU model are (load them with
map_location="cpu").

usage: python3 tools/reference/write_checkpoints.py OUTDIR [--id 40] [--legacy] [--location cuda:1]
"""
import argparse
from pathlib import Path

import torch

import dfgaze_ref as ref

FILES = {"gam": "model1", "tam": "modelcnn", "aam": "modelatt", "agg": "capsule"}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--id", type=int, default=40, help="checkpoint id in the file names")
    parser.add_argument("--legacy", action="store_true", help="legacy (non-zip) torch.save format")
    parser.add_argument("--location", help="device tag recorded for every storage, e.g. cuda:1")
    args = parser.parse_args()
    if args.location:
        # consulted before torch's own cpu tagger (priority 10)
        torch.serialization.register_package(0, lambda storage: args.location, lambda obj, loc: None)

    states = ref.demo_state_dicts(all_keys=True)
    ref.verify_demo_weights(states)
    # the files must load into the authors' layout: same keys, order, shapes, dtypes
    nets = ref.build_networks()
    ref.check_state_dict_layout(nets)
    args.outdir.mkdir(parents=True, exist_ok=True)
    for net, prefix in FILES.items():
        nets[net].load_state_dict(states[net], strict=True)
        path = args.outdir / f"{prefix}_{args.id}.pt"
        torch.save(nets[net].state_dict(), path, _use_new_zipfile_serialization=not args.legacy)
        print(f"{path}: {len(states[net])} keys, {path.stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
