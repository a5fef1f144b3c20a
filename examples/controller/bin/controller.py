"""The controller service of the svinit example: a small JSON API over redis.

  GET /api/health     200 {"ok": true, "redis": "PONG"} (503 while redis is down)
  GET /api/counter    increments a redis counter and returns it
  GET /api/roundtrip  SET a fresh token in redis, GET it back, compare
  GET /api/stream     what the stream workers have written so far
"""
import json
import os
import signal
import sys
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import resp


def health():
    return {"ok": True, "redis": resp.call("PING")}


def counter():
    return {"counter": resp.call("INCR", "controller:counter")}


def roundtrip():
    token = uuid.uuid4().hex
    resp.call("SET", "controller:roundtrip", token, "EX", 60)
    value = resp.call("GET", "controller:roundtrip")
    return {"ok": value == token, "sent": token, "got": value}


def stream():
    ticks = {}
    for instance in ("0", "1"):
        ticks[instance] = int(resp.call("GET", f"stream:{instance}:ticks") or 0)
    return {
        "events": resp.call("LLEN", "stream:events"),
        "last": resp.call("LRANGE", "stream:events", -1, -1),
        "ticks": ticks,
    }


ROUTES = {
    "/api/health": health,
    "/api/counter": counter,
    "/api/roundtrip": roundtrip,
    "/api/stream": stream,
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        route = ROUTES.get(self.path.split("?", 1)[0])
        if route is None:
            return self.reply(404, {"error": f"no route {self.path}"})
        try:
            return self.reply(200, route())
        except (OSError, resp.RedisError) as err:
            return self.reply(503, {"ok": False, "error": f"redis: {err}"})

    def reply(self, code, document):
        body = (json.dumps(document) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print(fmt % args, flush=True)


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = int(os.environ.get("CONTROLLER_PORT", "8000"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(f"controller listening on 127.0.0.1:{port}, redis at {resp.ADDRESS[0]}:{resp.ADDRESS[1]}")
    server.serve_forever()


if __name__ == "__main__":
    main()
