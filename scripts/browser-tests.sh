#!/usr/bin/env bash
# The pledge desk in a real browser and the API under schemathesis (Tests/browser), against the debug binary
# `swift build --build-tests` made: two gossiping nodes in temporary data directories, Debian's chromium through
# Playwright, screenshots of every screen in ci-artifacts/screenshots/. scripts/test-deps.sh installs the tools.
set -euo pipefail
cd "$(dirname "$0")/.."
export WHIPROUND="${WHIPROUND:-$PWD/.build/debug/whipround}"
if [ ! -x "$WHIPROUND" ]; then
    echo "error: $WHIPROUND is missing: run 'swift build --build-tests' first" >&2
    exit 1
fi
mkdir -p ci-artifacts/screenshots
exec python3 -m pytest -p no:cacheprovider -v -s Tests/browser "$@"
