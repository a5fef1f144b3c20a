#!/bin/sh
# Render the controller example into a work directory: copies svinit.toml,
# conf.d/, etc/ and bin/ to $CONTROLLER_ROOT, replacing the @PLACEHOLDERS@ by
# values from the environment, and creates the data directories.
#
#   CONTROLLER_ROOT=/tmp/svinit-controller sh examples/controller/render.sh
#   svinit --config /tmp/svinit-controller/svinit.toml
#
# Environment (defaults in brackets):
#   CONTROLLER_ROOT           [/tmp/svinit-controller] configuration, data, nginx prefix
#   CONTROLLER_SOCKET         [$CONTROLLER_ROOT/svinit.sock] svinit's control socket
#   CONTROLLER_HTTP_PORT      [8080] nginx, the front door
#   CONTROLLER_HTTP_ADDR      [127.0.0.1] nginx's listen address (0.0.0.0 in the image)
#   CONTROLLER_REGISTRY_PORT  [5000] docker-registry
#   CONTROLLER_API_PORT       [8000] the controller API
#   CONTROLLER_REDIS_PORT     [6379] redis
#   CONTROLLER_NGINX, CONTROLLER_REDIS_SERVER, CONTROLLER_DOCKER_REGISTRY,
#   CONTROLLER_PYTHON         the programs (default: found on PATH, plus /usr/sbin)
# Everything else listens on 127.0.0.1 only. Prints the rendered svinit.toml's path.
set -eu
src="$(cd "$(dirname "$0")" && pwd)"
root="${CONTROLLER_ROOT:-/tmp/svinit-controller}"
case "$root" in /*) ;; *) root="$(pwd)/$root" ;; esac
socket="${CONTROLLER_SOCKET:-$root/svinit.sock}"
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

find_program() { # VAR_VALUE NAME FALLBACK
    if [ -n "$1" ]; then echo "$1"; return; fi
    command -v "$2" 2>/dev/null || echo "$3"
}
nginx=$(find_program "${CONTROLLER_NGINX:-}" nginx /usr/sbin/nginx)
redis=$(find_program "${CONTROLLER_REDIS_SERVER:-}" redis-server /usr/bin/redis-server)
registry=$(find_program "${CONTROLLER_DOCKER_REGISTRY:-}" docker-registry /usr/bin/docker-registry)
# Prefer the system python3 (a pyenv shim would add a shell in front of it).
python="${CONTROLLER_PYTHON:-}"
if [ -z "$python" ]; then
    if [ -x /usr/bin/python3 ]; then python=/usr/bin/python3; else python=$(find_program "" python3 /usr/bin/python3); fi
fi

mkdir -p "$root/conf.d" "$root/etc" "$root/bin" "$root/data/redis" "$root/data/registry" \
    "$root/nginx/logs" "$root/nginx/tmp"
render() { # SRC DEST
    sed -e "s|@ROOT@|$root|g" \
        -e "s|@SOCKET@|$socket|g" \
        -e "s|@HTTP_PORT@|${CONTROLLER_HTTP_PORT:-8080}|g" \
        -e "s|@HTTP_ADDR@|${CONTROLLER_HTTP_ADDR:-127.0.0.1}|g" \
        -e "s|@REGISTRY_PORT@|${CONTROLLER_REGISTRY_PORT:-5000}|g" \
        -e "s|@API_PORT@|${CONTROLLER_API_PORT:-8000}|g" \
        -e "s|@REDIS_PORT@|${CONTROLLER_REDIS_PORT:-6379}|g" \
        -e "s|@NGINX@|$nginx|g" \
        -e "s|@REDIS_SERVER@|$redis|g" \
        -e "s|@DOCKER_REGISTRY@|$registry|g" \
        -e "s|@PYTHON@|$python|g" \
        "$1" >"$2"
}
rm -f "$root"/conf.d/*.toml
render "$src/svinit.toml" "$root/svinit.toml"
for file in "$src"/conf.d/*.toml; do render "$file" "$root/conf.d/${file##*/}"; done
for file in "$src"/etc/*; do render "$file" "$root/etc/${file##*/}"; done
for file in "$src"/bin/*; do cp "$file" "$root/bin/"; done
echo "$root/svinit.toml"
