#!/bin/sh
# Run the demo stack with svinit as PID 1 of a fresh pid namespace.
#   bash examples/demo/run.sh          # Ctrl-C stops it cleanly
# In another terminal:
#   target/release/svctl --socket /tmp/svinit-demo/svinit.sock status
#   target/release/svctl --socket /tmp/svinit-demo/svinit.sock ps --tree
set -eu
cd "$(dirname "$0")/../.."
command -v cargo >/dev/null || { echo "cargo is needed (https://rustup.rs)"; exit 1; }
cargo build --release --quiet
rm -rf /tmp/svinit-demo && mkdir -p /tmp/svinit-demo
cp -r examples/demo/bin /tmp/svinit-demo/bin
target/release/svinit --check --config examples/demo/svinit.toml >/dev/null
echo "svinit demo: svctl --socket /tmp/svinit-demo/svinit.sock status (Ctrl-C to stop)"
if [ "$(id -u)" = 0 ] && unshare --pid --fork --mount-proc true 2>/dev/null; then
    exec unshare --pid --fork --mount-proc --kill-child \
        target/release/svinit --config examples/demo/svinit.toml
else
    # Without root, svinit runs as a child subreaper and works the same.
    exec target/release/svinit --config examples/demo/svinit.toml
fi
