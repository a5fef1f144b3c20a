"""A tiny JSON API for the svinit demo: /healthz and /hits."""
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

HITS = 0


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        global HITS
        HITS += 1
        body = json.dumps({"ok": True, "hits": HITS, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("api:", fmt % args, flush=True)


def heartbeat(_signum, _frame):
    print(f"api: USR2 received, {HITS} hits so far", flush=True)


signal.signal(signal.SIGUSR2, heartbeat)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
port = int(os.environ.get("API_PORT", "8082"))
print(f"api listening on 127.0.0.1:{port}", flush=True)
HTTPServer(("127.0.0.1", port), Handler).serve_forever()
