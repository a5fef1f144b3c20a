#!/bin/sh
# svctl's /proc inspector against procps and psmisc, 1,000 processes:
#   sh bench/ps_vs_procps.sh [PROCESSES] [RUNS]
# Needs root (a fresh pid namespace); installs procps, psmisc and net-tools
# when missing.
set -eu
cd "$(dirname "$0")/.."
for pair in ps:procps pstree:psmisc netstat:net-tools; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || apt-get install -y -qq "${pair#*:}" >/dev/null
done
cargo build --release --quiet --bin svctl
exec unshare --pid --fork --mount-proc --kill-child \
    python3 bench/ps_vs_procps.py "$PWD/target/release/svctl" "${1:-1000}" "${2:-20}"
