#!/usr/bin/env python3
"""Regenerates Sources/ScoringService/OpenAPIDocument.swift from openapi.yaml (run after editing it)."""
import pathlib

root = pathlib.Path(__file__).resolve().parent.parent
yaml = (root / "openapi.yaml").read_text()
assert '"""#' not in yaml
(root / "Sources/ScoringService/OpenAPIDocument.swift").write_text(
    "// The API description served at GET /openapi.yaml, generated from the repo-root openapi.yaml by\n"
    "// scripts/embed-openapi.py; APIContractTests keeps the two identical, so the binary serves it\n"
    "// even when installed alone.\n"
    'enum OpenAPIDocument {\n    static let yaml = #"""\n' + yaml + '\n"""#\n}\n')
