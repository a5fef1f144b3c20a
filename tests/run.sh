#!/bin/sh
# The test command: installs what the tests need (as root, when missing),
# then runs every test. Tests that need a program that is not installed say
# SKIPPED loudly and pass.
set -eu
cd "$(dirname "$0")/.."
need=""
for pair in unshare:util-linux setpriv:util-linux ps:procps; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need="$need ${pair#*:}"
done
for pair in nginx:nginx-light redis-server:redis-server docker-registry:docker-registry; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need="$need ${pair#*:}"
done
# The bare-root test needs the static busybox, not just any busybox.
dpkg -s busybox-static >/dev/null 2>&1 || need="$need busybox-static"
if [ -n "$need" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing:$need"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null \
        || echo "WARNING: could not install$need; the tests that need them will be SKIPPED"
fi
# Daemons from Debian packages may start on install; the tests run their own.
for svc in nginx redis-server docker-registry; do
    command -v service >/dev/null 2>&1 && service "$svc" stop >/dev/null 2>&1 || true
done
cargo build --all-targets --quiet
# The static release binary (LTO: a few minutes when cold) for the bare-root test.
if [ "$(id -u)" = 0 ]; then
    sh scripts/build-static.sh
fi
exec cargo test --all-targets -- --test-threads=2
