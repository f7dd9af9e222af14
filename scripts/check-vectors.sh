#!/usr/bin/env bash
# Regenerates the protocol test vectors with the independent Python implementation (PyNaCl) and fails if
# they differ from the committed Tests/WhipCoreTests/Vectors/events.json.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
python3 tools/vectors/gen_vectors.py --check
