#!/bin/sh
# Build svinit (and svctl) as fully static binaries for slim images.
#
#   scripts/build-static.sh            # -> target/x86_64-unknown-linux-gnu/release/{svinit,svctl}
#
# glibc's static link (`+crt-static` on the gnu target, the host target, so no
# extra toolchain is needed): no shared libraries and no NSS at run time —
# svinit reads /etc/passwd and /etc/group itself (tests/static_root.rs runs it
# in a root holding nothing but busybox). Prefer IP addresses in probes
# (`127.0.0.1:6379`): a host name goes through glibc's resolver, which in a
# static binary reads /etc/hosts but cannot load NSS modules.
# Size (x86_64, opt-level "s", LTO, stripped): svinit about 2.9 MiB; the image
# needs only that file (svctl is a symlink to it).
#
# Environment: TARGET (default: the host's gnu target, e.g.
# x86_64-unknown-linux-gnu), CARGO_TARGET_DIR.
# The last line of output is SVINIT_STATIC=<path of the static svinit>.
set -eu
cd "$(dirname "$0")/.."
target="${TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$target"; then
    echo "build-static: the Rust target $target is not installed (rustup target add $target)" >&2
    exit 1
fi
# --target keeps RUSTFLAGS away from build scripts and proc macros (they stay dynamic).
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --release --locked --target "$target" --bins
out="${CARGO_TARGET_DIR:-target}/$target/release"
for bin in svinit svctl; do
    path="$out/$bin"
    # Static means: no program interpreter, no NEEDED libraries.
    if command -v readelf >/dev/null 2>&1; then
        if readelf -l "$path" | grep -q 'INTERP' || readelf -d "$path" | grep -q 'NEEDED'; then
            echo "build-static: $path is not static:" >&2
            readelf -d "$path" | grep NEEDED >&2 || true
            exit 1
        fi
    fi
    if command -v file >/dev/null 2>&1; then
        file -L "$path"
    fi
    size=$(wc -c <"$path")
    echo "$path: $size bytes ($((size / 1024)) KiB)"
done
echo "SVINIT_STATIC=$out/svinit"
