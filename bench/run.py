#!/usr/bin/env python3
"""Side-by-side benchmarks of svinit against supervisord, tini, dumb-init and s6.

Every tool runs as PID 1 of a fresh PID namespace:
    unshare --pid --fork --mount-proc --kill-child -- TOOL ...
in its own session (process group), with its own temporary directory and
configuration. Each run is bounded by timeouts, and only what this script
started is killed, by pid (the unshare process group it created, and the
namespace's PID 1, whose death ends the namespace).

Stdlib only. Run as root. See bench/README.md.
"""

import argparse
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------
# /proc helpers


def read(path, default=None):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return default


def stat_of(pid):
    """(comm, state, ppid, utime+stime ticks) of a pid, or None."""
    text = read(f"/proc/{pid}/stat")
    if not text:
        return None
    rp = text.rfind(")")
    comm = text[text.find("(") + 1 : rp]
    rest = text[rp + 2 :].split()
    return comm, rest[0], int(rest[1]), int(rest[11]) + int(rest[12])


def process_table():
    """pid -> (comm, state, ppid) for every process on the host."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = stat_of(name)
        if st:
            table[int(name)] = st[:3]
    return table


def descendants(root, table=None):
    """Every process below root (root excluded), from a process table."""
    table = table if table is not None else process_table()
    children = {}
    for pid, (_, _, ppid) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        for c in children.get(p, ()):
            out.append(c)
            todo.append(c)
    return out


def children_of(pid, table):
    return [p for p, (_, _, pp) in table.items() if pp == pid]


def schedstat_ns(pid):
    text = read(f"/proc/{pid}/schedstat")
    return int(text.split()[0]) if text else 0


def schedstat_all(pid):
    """(ns on CPU, ns runnable but waiting for a CPU) summed over all threads."""
    cpu = wait = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0, 0
    for tid in tids:
        text = read(f"/proc/{pid}/task/{tid}/schedstat")
        if text:
            f = text.split()
            cpu += int(f[0])
            wait += int(f[1])
    return cpu, wait


def ctxt_switches(pid):
    text = read(f"/proc/{pid}/status") or ""
    v = re.search(r"^voluntary_ctxt_switches:\s+(\d+)", text, re.M)
    n = re.search(r"^nonvoluntary_ctxt_switches:\s+(\d+)", text, re.M)
    return (int(v.group(1)) if v else 0) + (int(n.group(1)) if n else 0)


def mem_kib(pid):
    """(RSS, PSS) in KiB from smaps_rollup."""
    text = read(f"/proc/{pid}/smaps_rollup") or ""
    rss = re.search(r"^Rss:\s+(\d+)", text, re.M)
    pss = re.search(r"^Pss:\s+(\d+)", text, re.M)
    return (int(rss.group(1)) if rss else 0), (int(pss.group(1)) if pss else 0)


def wait_for(pred, timeout, interval=0.002, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------
# tools


def find_tool(name):
    path = shutil.which(name)
    if path and "/shims/" in path:
        # a pyenv shim is a bash script: resolve the real executable so that
        # its start-up cost is not counted
        try:
            real = subprocess.run(["pyenv", "which", name], capture_output=True,
                                  text=True, timeout=20).stdout.strip()
            if real:
                path = real
        except (OSError, subprocess.SubprocessError):
            pass
    return path


class Tools:
    def __init__(self):
        self.svinit = os.path.join(REPO, "target/release/svinit")
        self.svctl = os.path.join(REPO, "target/release/svctl")
        self.supervisord = find_tool("supervisord")
        self.supervisorctl = find_tool("supervisorctl")
        self.tini = find_tool("tini")
        self.dumb_init = find_tool("dumb-init")
        self.s6_svscan = find_tool("s6-svscan")
        self.s6_svstat = find_tool("s6-svstat")
        if not (os.access(self.svinit, os.X_OK) and os.access(self.svctl, os.X_OK)):
            raise BenchError("build svinit first: cargo build --release")

    def available(self, tool):
        return {
            "svinit": True,
            "supervisord": bool(self.supervisord and self.supervisorctl),
            "s6": bool(self.s6_svscan and self.s6_svstat),
            "tini": bool(self.tini),
            "dumb-init": bool(self.dumb_init),
        }[tool]

    def versions(self):
        def out(argv):
            try:
                r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
                return (r.stdout + r.stderr).strip().splitlines()[0]
            except (OSError, subprocess.SubprocessError, IndexError):
                return "?"

        def dpkg(pkg):
            return out(["dpkg-query", "-W", "-f=${Version}", pkg])

        commit = out(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])
        return {
            "svinit": out([self.svinit, "--version"]) + f" (commit {commit})",
            "supervisord": out([self.supervisord, "--version"]) if self.supervisord else None,
            "s6": "s6 " + dpkg("s6") if self.s6_svscan else None,
            "tini": out([self.tini, "--version"]) if self.tini else None,
            "dumb-init": out([self.dumb_init, "--version"]) if self.dumb_init else None,
        }


# --------------------------------------------------------------------------
# one namespace with one tool as PID 1


class Namespace:
    """A tool running as PID 1 of a fresh PID namespace.

    programs: dict name -> {"cmd": argv list, "stdout": "null"|"console", ...}
    single:   argv for tini / dumb-init (one child)
    """

    def __init__(self, tools, tool, programs=None, single=None, stdout=None,
                 svinit_extra=None, sup_extra=None):
        self.tools, self.tool = tools, tool
        self.dir = tempfile.mkdtemp(prefix=f"svbench-{tool}-")
        self.programs = programs or {}
        self.proc = None
        self.pid1 = None
        self.stdout_target = stdout
        argv = self._configure(single, svinit_extra or {}, sup_extra or "")
        self.argv = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "--"] + argv

    # configuration ---------------------------------------------------------

    def _configure(self, single, svinit_extra, sup_extra):
        t = self.tools
        if self.tool == "svinit":
            self.socket = os.path.join(self.dir, "svinit.sock")
            lines = ["[supervisor]", f'socket = "{self.socket}"', "include = []"]
            for k, v in svinit_extra.items():
                lines.append(f"{k} = {v}")
            for name, p in self.programs.items():
                lines += ["", f"[program.{name}]",
                          "command = " + json.dumps(p["cmd"]),
                          'start_secs = "0s"',
                          f'stdout = "{p.get("stdout", "null")}"',
                          f'stderr = "{p.get("stderr", "null")}"',
                          f'restart = "{p.get("restart", "always")}"']
            path = os.path.join(self.dir, "svinit.toml")
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            return [t.svinit, "--config", path]
        if self.tool == "supervisord":
            self.socket = os.path.join(self.dir, "supervisor.sock")
            self.conf = os.path.join(self.dir, "supervisord.conf")
            lines = [
                "[unix_http_server]", f"file={self.socket}", "",
                "[supervisord]", "nodaemon=true", "user=root",
                f"logfile={self.dir}/supervisord.log", f"pidfile={self.dir}/supervisord.pid",
                f"childlogdir={self.dir}", "loglevel=warn", "",
                "[rpcinterface:supervisor]",
                "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
                "[supervisorctl]", f"serverurl=unix://{self.socket}", "",
            ]
            for name, p in self.programs.items():
                lines += [f"[program:{name}]",
                          "command=" + shlex.join(p["cmd"]).replace("%", "%%"),
                          "startsecs=0",
                          "autorestart=" + ("true" if p.get("restart", "always") == "always" else "false"),
                          "stopwaitsecs=5"]
                if p.get("stdout") == "console":
                    lines += ["stdout_logfile=/dev/stdout", "stdout_logfile_maxbytes=0"]
                else:
                    lines += ["stdout_logfile=NONE"]
                lines += ["stderr_logfile=NONE", ""]
            lines.append(sup_extra)
            with open(self.conf, "w") as f:
                f.write("\n".join(lines) + "\n")
            return [t.supervisord, "-c", self.conf]
        if self.tool == "s6":
            self.scan = os.path.join(self.dir, "scan")
            os.mkdir(self.scan)
            for name, p in self.programs.items():
                d = os.path.join(self.scan, name)
                os.mkdir(d)
                run = os.path.join(d, "run")
                with open(run, "w") as f:
                    f.write("#!/bin/sh\nexec " + " ".join(_shq(a) for a in p["cmd"]) + "\n")
                os.chmod(run, 0o755)
            return [t.s6_svscan, self.scan]
        if self.tool == "tini":
            return [t.tini, "--"] + list(single)
        if self.tool == "dumb-init":
            return [t.dumb_init] + list(single)
        raise BenchError(self.tool)

    # lifecycle -------------------------------------------------------------

    def start(self):
        if self.stdout_target == "devnull" or self.stdout_target is None:
            out = subprocess.DEVNULL
        else:
            out = self.stdout_target
        self.errpath = os.path.join(self.dir, "stderr.log")
        err = open(self.errpath, "wb")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=err, start_new_session=True, cwd=self.dir)
        err.close()
        self.pid1 = wait_for(self._find_pid1, 10, 0.0005, "PID 1 of the namespace")
        return self

    def _find_pid1(self):
        table = process_table()
        kids = children_of(self.proc.pid, table)
        return kids[0] if kids else None

    def table(self):
        return process_table()

    def ns_pids(self, table=None):
        table = table if table is not None else process_table()
        return [self.pid1] + descendants(self.pid1, table)

    def own_pids(self, table=None):
        """The supervisor's own processes (not the programs)."""
        table = table if table is not None else process_table()
        own = [self.pid1]
        if self.tool == "s6":
            own += [p for p in descendants(self.pid1, table) if table[p][0] == "s6-supervise"]
        return own

    def count_comm(self, comm, table=None):
        table = table if table is not None else process_table()
        return sum(1 for p in descendants(self.pid1, table) if table[p][0] == comm)

    def wait_programs(self, n, comm="sleep", timeout=30):
        return wait_for(lambda: self.count_comm(comm) >= n, timeout, 0.002,
                        f"{n} {comm} programs under {self.tool}")

    def stderr_text(self):
        return read(self.errpath, "")

    def kill(self):
        """Kill only what we started: the unshare process group and PID 1."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            for target in ("group", "pid1", "unshare"):
                try:
                    if target == "group":
                        os.killpg(self.proc.pid, signal.SIGKILL)
                    elif target == "pid1" and self.pid1:
                        os.kill(self.pid1, signal.SIGKILL)
                    elif target == "unshare":
                        os.kill(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        # PID 1 gone takes the whole namespace with it; wait for that
        if self.pid1:
            try:
                wait_for(lambda: stat_of(self.pid1) is None, 10, 0.01, "PID 1 to exit")
            except BenchError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()


def _shq(s):
    if re.fullmatch(r"[A-Za-z0-9_./=:-]+", s):
        return s
    return "'" + s.replace("'", "'\\''") + "'"


def sleepers(n, **extra):
    return {f"p{i:03d}": dict(cmd=["sleep", "1000"], **extra) for i in range(n)}


# --------------------------------------------------------------------------
# measurements

SUPERVISORS = ["svinit", "supervisord", "s6"]
SINGLES = ["tini", "dumb-init"]


def settle_s6(ns, n):
    ns.wait_programs(n)


def bench_idle(tools, tool, cfg):
    """Idle memory (RSS, PSS) and idle CPU/wakeups with 10 programs (1 for tini/dumb-init)."""
    n = 1 if tool in SINGLES else 10
    ns = Namespace(tools, tool, sleepers(n), single=["sleep", "1000"])
    with ns:
        ns.wait_programs(n)
        time.sleep(cfg["settle"])
        table = ns.table()
        own = ns.own_pids(table)
        rss = pss = 0
        for p in own:
            r, s = mem_kib(p)
            rss += r
            pss += s
        cpu0 = sum(schedstat_ns(p) for p in own)
        cs0 = sum(ctxt_switches(p) for p in own)
        tk0 = sum((stat_of(p) or (0, 0, 0, 0))[3] for p in own)
        time.sleep(cfg["idle_window"])
        cpu1 = sum(schedstat_ns(p) for p in own)
        cs1 = sum(ctxt_switches(p) for p in own)
        tk1 = sum((stat_of(p) or (0, 0, 0, 0))[3] for p in own)
        return {
            "rss_mib": rss / 1024, "pss_mib": pss / 1024, "own_processes": len(own),
            "idle_cpu_us": (cpu1 - cpu0) / 1000, "idle_wakeups": cs1 - cs0,
            "idle_ticks": tk1 - tk0,
        }


def run_quiet(argv, timeout=10, env=None):
    t = time.monotonic()
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout, env=env)
    return time.monotonic() - t, r


def status_ok(ns):
    """Ask the tool itself whether all programs run. Returns True/False."""
    t = ns.tools
    if ns.tool == "svinit":
        _, r = run_quiet([t.svctl, "--socket", ns.socket, "status"])
        return r.returncode == 0
    if ns.tool == "supervisord":
        _, r = run_quiet([t.supervisorctl, "-c", ns.conf, "status"])
        lines = [l for l in r.stdout.splitlines() if l.strip()]
        return len(lines) == len(ns.programs) and all(" RUNNING " in l for l in lines)
    if ns.tool == "s6":
        # s6-svstat for every service is ~100 processes per poll; the
        # supervise status is checked once the processes are up (see below)
        return False
    raise BenchError(ns.tool)


def bench_cold(tools, tool, cfg):
    """Cold start of 100 programs until the tool reports them all running."""
    n = 100
    ns = Namespace(tools, tool, sleepers(n))
    with ns:
        procs_up = None
        reported = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if procs_up is None and ns.count_comm("sleep") >= n:
                procs_up = time.monotonic() - ns.t0
            if tool == "s6":
                if procs_up is not None:
                    # confirm with s6-svstat that every service is up
                    oks = 0
                    for name in ns.programs:
                        _, r = run_quiet([tools.s6_svstat, "-o", "up", os.path.join(ns.scan, name)])
                        oks += r.stdout.strip() == "true"
                    if oks == n:
                        reported = procs_up
                        break
            elif status_ok(ns):
                reported = time.monotonic() - ns.t0
                break
            time.sleep(0.003 if tool == "svinit" else 0.01)
        if reported is None:
            raise BenchError(f"{tool}: {n} programs not running in 60 s")
        cpu, wait = schedstat_all(ns.pid1)
        return {"cold_start_ms": reported * 1000,
                "pid1_cpu_ms": cpu / 1e6, "pid1_runqueue_wait_ms": wait / 1e6,
                "procs_up_ms": (procs_up if procs_up is not None else reported) * 1000}


def bench_restart(tools, tool, cfg):
    """Restart latency after SIGKILL: kill the program, poll /proc until the
    parent supervisor process has a new child (the fork, before exec)."""
    ns = Namespace(tools, tool, sleepers(1))
    lat = []
    with ns:
        ns.wait_programs(1)
        for _ in range(cfg["restarts"]):
            time.sleep(cfg["restart_gap"])  # s6-supervise waits 1 s between spawns
            table = ns.table()
            progs = [p for p in descendants(ns.pid1, table) if table[p][0] == "sleep"]
            if len(progs) != 1:
                ns.wait_programs(1, timeout=10)
                continue
            old = progs[0]
            parent = table[old][2]
            last = int(read("/proc/sys/kernel/ns_last_pid", "0"))
            t0 = time.monotonic()
            os.kill(old, signal.SIGKILL)
            deadline = t0 + 10
            new = None
            polls = 0
            while time.monotonic() < deadline:
                # new pids come after the last one allocated: look at the
                # next few (cheap); a full /proc scan now and then covers a
                # pid wrap-around
                polls += 1
                if polls % 200 == 0:
                    table = ns.table()
                    cands = [p for p in children_of(parent, table) if p != old and table[p][1] != "Z"]
                else:
                    cands = []
                    for p in range(last + 1, last + 40):
                        st = stat_of(p)
                        if st and st[2] == parent and st[1] != "Z":
                            cands.append(p)
                            break
                if cands:
                    new = cands[0]
                    break
                time.sleep(0.0001)
            if new is None:
                raise BenchError(f"{tool}: no restart within 10 s")
            lat.append((time.monotonic() - t0) * 1000)
            ns.wait_programs(1, timeout=10)
    return {"restart_ms": lat}


ORPHAN_SCRIPT = ('i=0; while [ $i -lt {n} ]; do ( true & ); i=$((i+1)); done; '
                 'exec sleep 1000')


def bench_orphans(tools, tool, cfg):
    """A program leaves N orphans; time until no zombie is left after the
    forker's loop ends; the supervisor's CPU per orphan from schedstat."""
    n = cfg["orphans_supervisord"] if tool == "supervisord" else cfg["orphans"]
    cmd = ["sh", "-c", ORPHAN_SCRIPT.format(n=n)]
    ns = Namespace(tools, tool, {"forker": dict(cmd=cmd, restart="never")}, single=cmd)
    with ns:
        own_cpu0 = schedstat_ns(ns.pid1)
        own_cs0 = ctxt_switches(ns.pid1)
        if tool == "s6":
            ns.wait_programs(1, comm="sh", timeout=10)
        t0 = ns.t0
        def find_forker():
            # the 'sh' whose parent is not an 'sh' (not one of its subshells)
            table = ns.table()
            for p in descendants(ns.pid1, table):
                comm, _, ppid = table[p]
                if comm == "sh" and table.get(ppid, ("",))[0] != "sh":
                    return p
            return None

        forker = wait_for(find_forker, 10, 0.0005, "the forker")
        # while the loop runs: watch the forker's comm (one small read) every
        # ms, count zombies every 25 ms (a whole /proc scan costs ~2 ms);
        # once it has exec'd sleep: scan for zombies as fast as possible
        loop_end = None
        no_zombie = None
        max_z = 0
        last_scan = 0
        deadline = time.monotonic() + cfg["orphan_timeout"]
        while time.monotonic() < deadline:
            now = time.monotonic()
            if loop_end is None:
                st = stat_of(forker)
                if st and st[0] == "sleep":
                    loop_end = now
            if loop_end is not None or now - last_scan > 0.025:
                last_scan = now
                table = ns.table()
                zombies = sum(1 for p in descendants(ns.pid1, table) if table[p][1] == "Z")
                max_z = max(max_z, zombies)
                if loop_end is not None and zombies == 0:
                    no_zombie = time.monotonic()
                    break
            time.sleep(0.001 if loop_end is None else 0.0001)
        own_cpu = schedstat_ns(ns.pid1) - own_cpu0
        pid1_wakeups = ctxt_switches(ns.pid1) - own_cs0
        if tool == "s6":
            table = ns.table()
            own_cpu += sum(schedstat_ns(p) for p in ns.own_pids(table)[1:])
        if no_zombie is None:
            # bounded: count what got reaped so far
            table = ns.table()
            left = sum(1 for p in descendants(ns.pid1, table) if table[p][1] == "Z")
            elapsed = time.monotonic() - t0
            return {"orphans": n, "finished": False, "zombies_left": left,
                    "orphans_per_s": (n - left) / elapsed if loop_end else None,
                    "cpu_us_per_orphan": own_cpu / 1000 / max(1, n - left),
                    "pid1_switches_per_orphan": pid1_wakeups / max(1, n - left),
                    "max_zombies": max_z, "total_s": elapsed}
        return {"orphans": n, "finished": True,
                "last_zombie_ms": (no_zombie - loop_end) * 1000,
                "total_s": no_zombie - t0,
                "orphans_per_s": n / (no_zombie - t0),
                "cpu_us_per_orphan": own_cpu / 1000 / n,
                "pid1_switches_per_orphan": pid1_wakeups / n,
                "max_zombies": max_z}


def bench_ctl(tools, tool, cfg):
    """Control round trip: the whole status process, spawn to exit, 10 programs."""
    ns = Namespace(tools, tool, sleepers(10))
    times = []
    with ns:
        ns.wait_programs(10)
        time.sleep(0.5)
        for _ in range(cfg["ctl_reps"]):
            if tool == "svinit":
                dt, r = run_quiet([tools.svctl, "--socket", ns.socket, "status"])
                ok = r.returncode == 0
            elif tool == "supervisord":
                dt, r = run_quiet([tools.supervisorctl, "-c", ns.conf, "status"])
                ok = r.returncode == 0
            else:
                # s6-svstat reads one service: ×10 for the 10 programs
                t = time.monotonic()
                ok = True
                for name in ns.programs:
                    _, r = run_quiet([tools.s6_svstat, os.path.join(ns.scan, name)])
                    ok = ok and r.returncode == 0
                dt = time.monotonic() - t
            if not ok:
                raise BenchError(f"{tool} status failed: {r.stdout} {r.stderr}")
            times.append(dt * 1000)
    return {"status_ms": times}


def bench_shutdown(tools, tool, cfg):
    """SIGTERM to PID 1 with 10 programs that exit on TERM; until PID 1 is gone."""
    n = 1 if tool in SINGLES else 10
    ns = Namespace(tools, tool, sleepers(n), single=["sleep", "1000"])
    with ns:
        ns.wait_programs(n)
        time.sleep(0.3)
        t0 = time.monotonic()
        os.kill(ns.pid1, signal.SIGTERM)
        gone = None
        while time.monotonic() - t0 < cfg["shutdown_timeout"]:
            st = stat_of(ns.pid1)
            if ns.proc.poll() is not None or st is None or st[1] == "Z":
                gone = time.monotonic()
                break
            time.sleep(0.0005)
        if gone is None:
            return {"shutdown_ms": None, "timed_out": True}
        return {"shutdown_ms": (gone - t0) * 1000}


def bench_console(tools, tool, cfg):
    """One program writes MB of 100-byte lines. svinit: stdout = console (with
    prefixes), svinit's stdout to /dev/null. direct: the same program under
    tini writing straight to /dev/null. supervisord: stdout_logfile=/dev/stdout."""
    size = cfg["console_mb"] * 1000 * 1000
    tmp = tempfile.mkdtemp(prefix="svbench-out-")
    elapsed_file = os.path.join(tmp, "elapsed")
    redirect = {"direct": " >/dev/null", "cat-pipe": " | cat >/dev/null"}.get(tool, "")
    script = (f't0=$(date +%s%N); yes "$(printf %099d 0)" | head -c {size}{redirect}; '
              f't1=$(date +%s%N); echo $((t1-t0)) > {elapsed_file}; exec sleep 1000')
    cmd = ["sh", "-c", script]
    real = "tini" if tool in ("direct", "cat-pipe") else tool
    ns = Namespace(tools, real, {"writer": dict(cmd=cmd, stdout="console", restart="never")},
                   single=cmd, stdout="devnull")
    try:
        with ns:
            cpu0, wait0 = schedstat_all(ns.pid1)
            wait_for(lambda: read(elapsed_file), cfg["console_timeout"], 0.005,
                     f"{tool} console writer")
            time.sleep(0.2)  # let the relay drain its last buffers
            cpu1, wait1 = schedstat_all(ns.pid1)
            cpu, wait = cpu1 - cpu0, wait1 - wait0
            ns_el = int(read(elapsed_file).strip())
        mb = size / 1e6
        return {"console_s": ns_el / 1e9, "mb_per_s": mb / (ns_el / 1e9),
                "pid1_runqueue_wait_ms": wait / 1e6,
                "cpu_ms_per_mb": cpu / 1e6 / mb}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------
# driver

METRICS = [
    # key, function, tools, reps key
    ("idle", bench_idle, SUPERVISORS + SINGLES, "reps_slow"),
    ("cold", bench_cold, SUPERVISORS, "reps"),
    ("restart", bench_restart, SUPERVISORS, None),
    ("orphans", bench_orphans, ["svinit", "s6", "tini", "dumb-init", "supervisord"], "reps_slow"),
    ("ctl", bench_ctl, SUPERVISORS, None),
    ("shutdown", bench_shutdown, SUPERVISORS + SINGLES, "reps"),
    ("console", bench_console, ["svinit", "direct", "cat-pipe", "supervisord"], "reps"),
]

QUICK = dict(reps=3, reps_slow=2, settle=1.0, idle_window=5, restarts=10, restart_gap=1.5,
             orphans=5000, orphans_supervisord=300, orphan_timeout=30, ctl_reps=15,
             shutdown_timeout=15, console_mb=200, console_timeout=120)
FULL = dict(reps=5, reps_slow=3, settle=2.0, idle_window=20, restarts=30, restart_gap=1.5,
            orphans=20000, orphans_supervisord=1000, orphan_timeout=60, ctl_reps=30,
            shutdown_timeout=15, console_mb=200, console_timeout=300)


def machine_info():
    cpuinfo = read("/proc/cpuinfo", "")
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
    meminfo = read("/proc/meminfo", "")
    mem = re.search(r"^MemTotal:\s+(\d+)", meminfo, re.M)
    return {
        "cpu": model.group(1) if model else platform.processor(),
        "cpus": os.cpu_count(),
        "mem_gib": round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None,
        "kernel": " ".join(platform.uname()[0:3:2]),
        "python": platform.python_version(),
        "loadavg_at_end": (read("/proc/loadavg", "") or "").split()[:3],
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def run_all(cfg, only, only_tools, log):
    tools = Tools()
    results = {}
    for key, fn, tlist, reps_key in METRICS:
        if only and key not in only:
            continue
        results[key] = {}
        for tool in tlist:
            if only_tools and tool not in only_tools:
                continue
            check = "tini" if tool in ("direct", "cat-pipe") else tool
            if not tools.available(check):
                log(f"  {key}/{tool}: not installed, skipped")
                continue
            reps = cfg[reps_key] if reps_key else 1
            runs = []
            for i in range(reps):
                t = time.monotonic()
                try:
                    r = fn(tools, tool, cfg)
                except (BenchError, subprocess.SubprocessError, OSError) as e:
                    log(f"  {key}/{tool} #{i + 1}: ERROR {e}")
                    r = {"error": str(e)}
                runs.append(r)
                log(f"  {key}/{tool} #{i + 1} ({time.monotonic() - t:.1f}s): "
                    + json.dumps(_short(r)))
            results[key][tool] = runs
    return tools, results


def _short(r):
    out = {}
    for k, v in r.items():
        if isinstance(v, list):
            out[k] = f"median {statistics.median(v):.2f} of {len(v)}" if v else "[]"
        elif isinstance(v, float):
            out[k] = round(v, 3)
        else:
            out[k] = v
    return out


def values(runs, field):
    out = []
    for r in runs:
        v = r.get(field)
        if isinstance(v, list):
            out += v
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(v)
    return out


def summarize(vals, p90=False):
    if not vals:
        return None
    s = sorted(vals)
    d = {"median": statistics.median(s), "min": s[0], "max": s[-1], "n": len(s)}
    if p90:
        d["p90"] = s[min(len(s) - 1, int(round(0.9 * (len(s) - 1))))]
    return d


# metric tables: (title, metric key, field, unit, lower is better, p90)
TABLES = [
    ("Idle PSS of the supervisor's own processes (10 programs; tini/dumb-init: 1 child)",
     "idle", "pss_mib", "MiB", True, False),
    ("Idle RSS of the supervisor's own processes", "idle", "rss_mib", "MiB", True, False),
    ("Idle wakeups (context switches) in the idle window", "idle", "idle_wakeups", "", True, False),
    ("Idle CPU in the idle window (schedstat)", "idle", "idle_cpu_us", "µs", True, False),
    ("Cold start of 100 programs, until the tool reports all running", "cold", "cold_start_ms", "ms", True, False),
    ("Cold start of 100 programs, until 100 program processes exist (/proc)", "cold", "procs_up_ms", "ms", True, False),
    ("Cold start: PID 1 CPU until all running (schedstat)", "cold", "pid1_cpu_ms", "ms", True, False),
    ("Cold start: PID 1 runnable but waiting for a CPU (schedstat run delay)", "cold", "pid1_runqueue_wait_ms", "ms", True, False),
    ("Restart after SIGKILL (kill to new child forked)", "restart", "restart_ms", "ms", True, True),
    ("Orphan reaping: last zombie gone after the forker's loop ended", "orphans", "last_zombie_ms", "ms", True, False),
    ("Orphan reaping: orphans per second (fork to reaped, whole run)", "orphans", "orphans_per_s", "/s", False, False),
    ("Orphan reaping: supervisor CPU per orphan (schedstat)", "orphans", "cpu_us_per_orphan", "µs", True, False),
    ("Orphan reaping: PID 1 context switches per orphan (wake-ups)", "orphans", "pid1_switches_per_orphan", "", True, False),
    ("Control round trip, whole status process (s6: s6-svstat ×10)", "ctl", "status_ms", "ms", True, True),
    ("Shutdown on SIGTERM, 10 programs (tini/dumb-init: 1 child)", "shutdown", "shutdown_ms", "ms", True, False),
    ("Console throughput, one program writing 100-byte lines", "console", "mb_per_s", "MB/s", False, False),
    ("Console relay CPU of PID 1 (all threads) per MB", "console", "cpu_ms_per_mb", "ms/MB", True, False),
    ("Console: PID 1 runnable but waiting for a CPU (schedstat run delay)", "console", "pid1_runqueue_wait_ms", "ms", True, False),
]


def fmt(v, unit=""):
    if v is None:
        return "–"
    a = abs(v)
    if float(v).is_integer() and a < 1e6:
        return f"{int(v)}" + (f" {unit}" if unit else "")
    if a >= 100:
        s = f"{v:.0f}"
    elif a >= 10:
        s = f"{v:.1f}"
    elif a >= 1:
        s = f"{v:.2f}"
    else:
        s = f"{v:.3f}"
    return s + (f" {unit}" if unit else "")


def build_tables(results):
    tables = []
    for title, key, field, unit, lower, p90 in TABLES:
        if key not in results:
            continue
        rows = []
        base = summarize(values(results[key].get("svinit", []), field))
        for tool, runs in results[key].items():
            s = summarize(values(runs, field), p90)
            errors = sum(1 for r in runs if "error" in r)
            unfinished = sum(1 for r in runs if r.get("finished") is False)
            rows.append({"tool": tool, "stats": s, "errors": errors, "unfinished": unfinished,
                         "ratio": (s["median"] / base["median"]) if (s and base and base["median"]) else None})
        tables.append({"title": title, "key": key, "field": field, "unit": unit,
                       "lower_is_better": lower, "p90": p90, "rows": rows})
    return tables


def med(results, key, tool, field):
    s = summarize(values(results.get(key, {}).get(tool, []), field))
    return s["median"] if s else None


def summary_rows(results):
    """The SPEC §10 shape: metric | target | svinit | best peer | supervisord."""
    def best(key, field, peers, lower=True):
        cands = [(med(results, key, t, field), t) for t in peers]
        cands = [c for c in cands if c[0] is not None]
        if not cands:
            return None, None
        return (min if lower else max)(cands)

    rows = []

    def row(metric, target, key, field, unit, peers, lower=True, ok=None, sd_field=None):
        sv = med(results, key, "svinit", field)
        bv, bt = best(key, field, peers, lower)
        sd = med(results, key, "supervisord", sd_field or field)
        rows.append({
            "metric": metric, "target": target,
            "svinit": fmt(sv, unit),
            "best_peer": (f"{bt}{' (1 child)' if bt in SINGLES and key in ('idle', 'shutdown') else ''} "
                          f"{fmt(bv, unit)}") if bt else "–",
            "supervisord": fmt(sd, unit),
            "met": (ok(sv) if (ok and sv is not None) else None),
        })

    row("idle PSS, 10 programs", "≤ 2 MiB", "idle", "pss_mib", "MiB", ["s6", "tini", "dumb-init"],
        ok=lambda v: v <= 2)
    row("idle wakeups in the idle window", "0", "idle", "idle_wakeups", "", ["s6", "tini", "dumb-init"],
        ok=lambda v: v == 0)
    row("cold start, 100 programs", "≤ 150 ms", "cold", "cold_start_ms", "ms", ["s6"],
        ok=lambda v: v <= 150)
    row("restart after SIGKILL, median", "≤ 3 ms", "restart", "restart_ms", "ms", ["s6"],
        ok=lambda v: v <= 3)
    row("orphan reaping: last zombie after last fork", "≤ 10 ms", "orphans", "last_zombie_ms", "ms",
        ["s6", "tini", "dumb-init"], ok=lambda v: v <= 10)
    row("orphan reaping: CPU per orphan", "≤ 15 µs", "orphans", "cpu_us_per_orphan", "µs",
        ["s6", "tini", "dumb-init"], ok=lambda v: v <= 15)
    row("orphan reaping rate", "keeps pace", "orphans", "orphans_per_s", "/s",
        ["s6", "tini", "dumb-init"], lower=False)
    row("`svctl status`, whole process", "≤ 10 ms", "ctl", "status_ms", "ms", ["s6"],
        ok=lambda v: v <= 10)
    row("shutdown, 10 programs exiting on TERM", "≤ 20 ms", "shutdown", "shutdown_ms", "ms",
        ["s6", "tini", "dumb-init"], ok=lambda v: v <= 20)
    direct = med(results, "console", "direct", "mb_per_s")
    sv = med(results, "console", "svinit", "mb_per_s")
    rows.append({
        "metric": "console relay with prefixes: throughput vs direct write", "target": "≥ 90%",
        "svinit": f"{sv / direct * 100:.0f}% ({fmt(sv, 'MB/s')})" if (sv and direct) else "–",
        "best_peer": f"direct {fmt(direct, 'MB/s')}" if direct else "–",
        "supervisord": (f"{med(results, 'console', 'supervisord', 'mb_per_s') / direct * 100:.0f}% "
                        f"({fmt(med(results, 'console', 'supervisord', 'mb_per_s'), 'MB/s')})"
                        if (direct and med(results, 'console', 'supervisord', 'mb_per_s')) else "–"),
        "met": (sv / direct >= 0.9) if (sv and direct) else None,
    })
    cat = med(results, "console", "cat-pipe", "mb_per_s")
    if cat:
        rows.append({
            "metric": "console relay vs the same write piped through cat", "target": "–",
            "svinit": f"{sv / cat * 100:.0f}%" if sv else "–",
            "best_peer": f"cat-pipe {fmt(cat, 'MB/s')} ({cat / direct * 100:.0f}% of direct)" if direct else "–",
            "supervisord": (f"{med(results, 'console', 'supervisord', 'mb_per_s') / cat * 100:.0f}%"
                            if med(results, 'console', 'supervisord', 'mb_per_s') else "–"),
            "met": None,
        })
    row("console relay CPU per MB", "≤ 1.5 ms/MB", "console", "cpu_ms_per_mb", "ms/MB", [],
        ok=lambda v: v <= 1.5)
    return rows


def write_markdown(path, mode, machine, versions, tables, summary, cfg, wall):
    L = [f"# svinit benchmarks ({mode})", "",
         "Generated by `bash bench/run.sh` (see bench/README.md). "
         "Medians with min–max over all samples; ratio = tool median / svinit median.", "",
         "## Machine", ""]
    for k, v in machine.items():
        L.append(f"- {k}: {v}")
    L += ["", "## Versions", ""]
    for k, v in versions.items():
        L.append(f"- {k}: {v or 'not installed'}")
    L += ["", f"Parameters: `{json.dumps(cfg)}`; wall time {wall:.0f} s.", "",
          "## Summary (SPEC §10 shape)", "",
          "| metric | target | svinit | best peer | supervisord |", "|---|---|---|---|---|"]
    for r in summary:
        mark = {True: " ✓", False: " ✗", None: ""}[r["met"]]
        L.append(f"| {r['metric']} | {r['target']} | {r['svinit']}{mark} | {r['best_peer']} | {r['supervisord']} |")
    L += ["", "## Details", ""]
    for t in tables:
        L += [f"### {t['title']}", ""]
        head = "| tool | median | min–max |" + (" p90 |" if t["p90"] else "") + " n | ratio vs svinit |"
        L += [head, "|---" * (head.count("|") - 1) + "|"]
        for r in t["rows"]:
            s = r["stats"]
            note = ""
            if r["errors"]:
                note += f" ({r['errors']} run(s) failed)"
            if r["unfinished"]:
                note += f" ({r['unfinished']} run(s) hit the time bound)"
            if not s:
                L.append(f"| {r['tool']} | –{note} | – |" + (" – |" if t["p90"] else "") + " 0 | – |")
                continue
            line = (f"| {r['tool']} | {fmt(s['median'], t['unit'])}{note} | "
                    f"{fmt(s['min'])}–{fmt(s['max'])} |")
            if t["p90"]:
                line += f" {fmt(s.get('p90'))} |"
            line += f" {s['n']} | {('%.2f×' % r['ratio']) if r['ratio'] is not None else '–'} |"
            L.append(line)
        L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def write_svg(path, tables, title):
    """Hand-written SVG: one panel per metric, horizontal bars of medians
    with min–max whiskers, log-free linear scale per panel."""
    colors = {"svinit": "#d9480f", "supervisord": "#1971c2", "s6": "#2f9e44", "tini": "#7048e8",
              "dumb-init": "#f08c00", "direct": "#868e96",
              "cat-pipe": "#adb5bd"}
    panels = [t for t in tables if any(r["stats"] for r in t["rows"])]
    bar_h, gap, label_w, plot_w, width = 16, 4, 110, 430, 760
    y = 40
    parts = []
    for t in panels:
        rows = [r for r in t["rows"] if r["stats"]]
        parts.append(f'<text x="10" y="{y}" font-size="13" font-weight="bold">{_esc(t["title"])}'
                     f' ({_esc(t["unit"] or "count")}, {"lower" if t["lower_is_better"] else "higher"} is better)</text>')
        y += 8
        vmax = max(max(r["stats"]["max"], r["stats"]["median"]) for r in rows) or 1
        positive = [v for r in rows for v in (r["stats"]["min"], r["stats"]["median"]) if v > 0]
        vmin = min(positive) if positive else vmax
        logscale = vmax / vmin > 30
        lo = math.log10(vmin) - 0.3 if logscale else 0
        hi = math.log10(vmax) if logscale else vmax

        def xpos(v, lo=lo, hi=hi, logscale=logscale):
            if logscale:
                if v <= 0:
                    return label_w
                return label_w + max(0.0, (math.log10(v) - lo) / (hi - lo)) * plot_w
            return label_w + v / hi * plot_w

        if logscale:
            parts[-1] = parts[-1].replace("better)", "better, log scale)")
        for r in rows:
            s = r["stats"]
            w = max(1, xpos(s["median"]) - label_w)
            c = colors.get(r["tool"], "#495057")
            parts.append(f'<text x="{label_w - 6}" y="{y + bar_h - 4}" font-size="12" text-anchor="end">{_esc(r["tool"])}</text>')
            parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{c}"/>')
            x0 = xpos(s["min"])
            x1 = xpos(s["max"])
            ym = y + bar_h / 2
            parts.append(f'<line x1="{x0:.1f}" y1="{ym}" x2="{x1:.1f}" y2="{ym}" stroke="#212529" stroke-width="1"/>')
            label = fmt(s["median"], t["unit"])
            if r["ratio"] is not None and r["tool"] != "svinit":
                label += f"  ({r['ratio']:.2f}× svinit)"
            parts.append(f'<text x="{label_w + plot_w + 8}" y="{y + bar_h - 4}" font-size="11">{_esc(label)}</text>')
            y += bar_h + gap
        y += 26
    height = y
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="20" font-size="15" font-weight="bold">{_esc(title)}</text>'] + parts + ["</svg>"]
    with open(path, "w") as f:
        f.write("\n".join(svg) + "\n")


def _esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="short run (default)")
    mode.add_argument("--full", action="store_true", help="the full run (about 16 minutes)")
    ap.add_argument("--only", action="append", default=[],
                    help="run only these metrics: " + ", ".join(m[0] for m in METRICS))
    ap.add_argument("--tool", action="append", default=[],
                    help="run only these tools (svinit, supervisord, s6, tini, dumb-init, direct, cat-pipe)")
    ap.add_argument("--out", default=RESULTS, help="results directory")
    ap.add_argument("--name", default="latest", help="basename of the result files")
    ap.add_argument("--render", nargs="+", metavar="JSON",
                    help="no run: re-render md/json/svg from result files (metrics of later files win)")
    args = ap.parse_args()
    if args.render:
        render(args)
        return
    if os.geteuid() != 0:
        sys.exit("run as root (unshare --pid needs it)")
    cfg = dict(FULL if args.full else QUICK)
    mode_name = "full" if args.full else "quick"
    os.makedirs(args.out, exist_ok=True)

    def log(msg):
        print(msg, flush=True)

    start = time.monotonic()
    log(f"svinit bench ({mode_name})")
    tools, results = run_all(cfg, set(args.only), set(args.tool), log)
    wall = time.monotonic() - start
    machine = machine_info()
    versions = tools.versions()
    write_all(args, mode_name, machine, versions, results, cfg, wall)


def write_all(args, mode_name, machine, versions, results, cfg, wall, sources=None):
    def log(msg):
        print(msg, flush=True)
    tables = build_tables(results)
    summary = summary_rows(results)
    md = os.path.join(args.out, f"{args.name}.md")
    write_markdown(md, mode_name, machine, versions, tables, summary, cfg, wall)
    if sources:
        with open(md, "a") as f:
            f.write("\nMerged from: " + "; ".join(sources) + "\n")
    with open(os.path.join(args.out, f"{args.name}.json"), "w") as f:
        json.dump({"mode": mode_name, "machine": machine, "versions": versions, "params": cfg,
                   "wall_s": wall, "summary": summary, "tables": tables, "raw": results,
                   "sources": sources},
                  f, indent=1, ensure_ascii=False)
    chart = "chart.svg" if args.name == "latest" else f"chart-{args.name}.svg"
    write_svg(os.path.join(args.out, chart), tables,
              f"svinit vs peers ({mode_name}, {machine['cpus']} CPUs, {machine['date']})")
    log(f"wrote {md} ({wall:.0f} s)")


def render(args):
    results, sources = {}, []
    base = None
    wall = 0
    for path in args.render:
        with open(path) as f:
            d = json.load(f)
        base = base or d
        wall += d.get("wall_s", 0)
        results.update(d["raw"])
        sources.append(f"{os.path.basename(path)} ({', '.join(d['raw'])}; {d['machine']['date']}, "
                       f"load {' '.join(d['machine'].get('loadavg_at_end', []))})")
    os.makedirs(args.out, exist_ok=True)
    write_all(args, base["mode"], base["machine"], base["versions"], results, base["params"], wall,
              sources)


if __name__ == "__main__":
    main()
