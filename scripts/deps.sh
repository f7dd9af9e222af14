#!/usr/bin/env bash
# Installs the system libraries Whipround links (libsodium, SQLite headers, libqrencode) when they are missing.
set -euo pipefail
missing=()
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
pkg-config --exists libsodium 2>/dev/null || missing+=(libsodium-dev)
[ -f /usr/include/sqlite3.h ] || missing+=(libsqlite3-dev)
pkg-config --exists libqrencode 2>/dev/null || missing+=(libqrencode-dev)
# Test tools: zbarimg reads the QR codes back.
command -v zbarimg >/dev/null 2>&1 || missing+=(zbar-tools)
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing ${missing[*]}…" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
