#!/bin/sh
# Run the controller stack with svinit as PID 1 of a fresh pid namespace.
#   sh examples/controller/run.sh            # Ctrl-C stops it cleanly
# Needs nginx-light, redis-server, docker-registry and python3
# (apt-get install nginx-light redis-server docker-registry python3).
# Ports and paths: see render.sh (CONTROLLER_ROOT, CONTROLLER_HTTP_PORT, ...).
# In another terminal:
#   target/release/svctl --socket /tmp/svinit-controller/svinit.sock status
#   curl -s localhost:8080/v2/ ; curl -s localhost:8080/api/counter
set -eu
cd "$(dirname "$0")/../.."
command -v cargo >/dev/null || { echo "cargo is needed (https://rustup.rs)"; exit 1; }
svinit="${SVINIT:-target/release/svinit}"
[ -n "${SVINIT:-}" ] || cargo build --release --quiet
config=$(sh examples/controller/render.sh)
"$svinit" --check --config "$config" >/dev/null
echo "svinit controller: svctl --socket $(dirname "$config")/svinit.sock status (Ctrl-C to stop)"
if [ "$(id -u)" = 0 ] && unshare --pid --fork --mount-proc true 2>/dev/null; then
    exec unshare --pid --fork --mount-proc --kill-child "$svinit" --config "$config"
else
    # Without root, svinit runs as a child subreaper and works the same.
    exec "$svinit" --config "$config"
fi
