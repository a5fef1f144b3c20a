"""A stream worker of the svinit example: one event into redis every second.

Usage: stream.py INSTANCE. Keeps going (and says so) while redis is away.
"""
import signal
import sys
import time

import resp


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    instance = sys.argv[1] if len(sys.argv) > 1 else "0"
    down = False
    while True:
        try:
            tick = resp.call("INCR", f"stream:{instance}:ticks")
            resp.call("RPUSH", "stream:events", f"{instance}:{tick}:{int(time.time())}")
            resp.call("LTRIM", "stream:events", -1000, -1)
            if down or tick == 1 or tick % 10 == 0:
                print(f"stream {instance}: tick {tick}")
            down = False
        except (OSError, resp.RedisError) as err:
            if not down:
                print(f"stream {instance}: redis unavailable ({err}), retrying", file=sys.stderr)
            down = True
        time.sleep(1)


if __name__ == "__main__":
    main()
