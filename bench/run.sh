#!/usr/bin/env bash
# One command for the side-by-side benchmarks: bash bench/run.sh [--quick|--full] [--only METRIC]...
# Installs the peers (skipping what is present), builds svinit release, runs bench/run.py.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root (unshare --pid needs it)" >&2; exit 1; }

missing=()
command -v tini >/dev/null || missing+=(tini)
command -v dumb-init >/dev/null || missing+=(dumb-init)
command -v s6-svscan >/dev/null || missing+=(s6)
command -v unshare >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
if ! command -v supervisord >/dev/null || ! command -v supervisorctl >/dev/null; then
    python3 -m pip install --quiet supervisor
fi

cargo build --release
exec python3 bench/run.py "$@"
