#!/usr/bin/env bash
# Pins the demo weights after a deliberate change to the demo recipe or to what a network reads:
# regenerates them with the built binary, writes their manifest to weights-manifest.json (every
# file and tensor, for people and tests) and the per-file pins the binary checks its cache
# against to Sources/DFGaze/Pipeline/DemoPins.swift. Then rebuild; DFGazeTests.RegistryTests
# checks the result against the fixture. Usage: scripts/pin-demo-manifest.sh [path/to/dfgaze]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin="${1:-.build/release/dfgaze}"
[ -x "$bin" ] || { echo "build first: swift build -c release --product dfgaze (or pass the binary)" >&2; exit 1; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# An empty folder: the binary generates the weights afresh, whatever it pins.
"$bin" weights demo --output "$out" >/dev/null
cp "$out/manifest.json" weights-manifest.json
python3 - "$out/manifest.json" > Sources/DFGaze/Pipeline/DemoPins.swift <<'PY'
import json, sys
files = json.load(open(sys.argv[1]))["files"]
print("import Weights\n")
print("// Written by scripts/pin-demo-manifest.sh from weights-manifest.json; do not edit.")
print("extension Networks {")
print("    /// The dfgaze-demo-v1 files for what the networks read, by size and SHA-256: a start keeps a")
print("    /// cached copy only when it has exactly these, and generates them afresh otherwise.")
print("    public static let demoPins: [DemoWeights.Pin] = [")
for f in files:
    print(f'        .init(network: "{f["network"]}", sha256: "{f["sha256"]}", bytes: {f["bytes"]}),')
print("    ]")
print("}")
PY
echo "wrote weights-manifest.json and Sources/DFGaze/Pipeline/DemoPins.swift"
