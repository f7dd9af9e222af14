#!/usr/bin/env bash
# Installs what the browser and API tests need when it is missing: Debian's chromium and wrk, and the pinned
# Python tools in requirements-dev.txt (Playwright drives /usr/bin/chromium; no browser is downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-pip)
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing ${missing[*]}…" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
# Every pin satisfied already? Then pip is not asked at all.
if ! python3 - requirements-dev.txt <<'PY' 2>/dev/null; then
import sys, importlib.metadata as m
for line in open(sys.argv[1]):
    line = line.split('#')[0].strip()
    if not line:
        continue
    name, version = line.split('==')
    if m.version(name) != version:
        sys.exit(1)
PY
    echo "Installing the Python test tools (requirements-dev.txt)…" >&2
    python3 -m pip --version >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-pip
    # Debian's own python3 refuses system-wide installs (PEP 668) unless told; a pyenv python does not.
    python3 -m pip install -q --disable-pip-version-check -r requirements-dev.txt ||
        python3 -m pip install -q --disable-pip-version-check --break-system-packages -r requirements-dev.txt
fi
