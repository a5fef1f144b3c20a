"""A minimal redis client (RESP2 over a TCP socket), standard library only.

Each call opens its own connection, so a restarted redis is picked up at once.
"""
import os
import socket

ADDRESS = ("127.0.0.1", int(os.environ.get("REDIS_PORT", "6379")))


class RedisError(Exception):
    """redis answered with an error reply."""


def _encode(args):
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _read(reader):
    line = reader.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        return reader.read(size + 2)[:-2].decode()
    if kind == b"*":
        count = int(rest)
        return None if count < 0 else [_read(reader) for _ in range(count)]
    raise RedisError(f"unexpected reply {line!r}")


def call(*args, timeout=2.0):
    """Run one command, e.g. call("INCR", "hits"), and return its reply."""
    with socket.create_connection(ADDRESS, timeout=timeout) as sock:
        sock.sendall(_encode(args))
        with sock.makefile("rb") as reader:
            return _read(reader)
