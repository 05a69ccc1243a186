#!/usr/bin/env bash
# Full-size check of the checkpoint importer (needs torch; not run in CI): writes the demo weights
# as the authors' four .pt files with real torch.save, imports them with our binary alone, scores
# the fixture frames from the imported folder and compares with expected.json (video8).
# Usage: tools/checkpoints/full_size_import.sh [--legacy]   (after `swift build -c release`)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
dfgaze=${DFGAZE:-.build/release/dfgaze}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 tools/reference/write_checkpoints.py "$work/pt" --id 40 "$@"
ls -l "$work/pt"
time "$dfgaze" weights import "$work/pt" --id 40 --out "$work/weights"
"$dfgaze" weights verify "$work/weights"
"$dfgaze" score --weights "$work/weights" Tests/Fixtures/dfgaze-demo-v1/frames/*.jpg > "$work/score.json"
python3 - "$work/score.json" <<'PY'
import json, sys
got = json.load(open(sys.argv[1]))
want = json.load(open("Tests/Fixtures/dfgaze-demo-v1/expected.json"))["cases"]["video8"]
dp = abs(got["fake_probability"] - want["fake_probability"])
da = max(max(abs(g["yaw_deg"] - w["yaw_deg"]), abs(g["pitch_deg"] - w["pitch_deg"]))
         for g, w in zip(got["frames"], want["frames"]))
print(f"imported weights: video8 fake probability {got['fake_probability']:.9f} "
      f"(expected {want['fake_probability']:.9f}, |diff| {dp:.2e}); worst angle diff {da:.2e} deg")
print(f"model identity: {got['model']}")
sys.exit(0 if dp <= 1e-5 and da <= 1e-3 and not got["model"]["demo"] else 1)
PY
