"""svctl ps / ps --tree / net against procps `ps -ef`, psmisc `pstree -p` and
`netstat`, over N processes, inside a fresh pid namespace.

Run by bench/ps_vs_procps.sh (which creates the namespace); prints a markdown
table of medians and min-max in milliseconds, and ratios against svctl.
"""
import shutil
import statistics
import subprocess
import sys
import time

SVCTL = sys.argv[1]
PROCESSES = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
RUNS = int(sys.argv[3]) if len(sys.argv) > 3 else 20


def timed(argv):
    """Wall time of one whole run of argv, in ms."""
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return (time.perf_counter() - start) * 1000


def main():
    sleepers = [subprocess.Popen(["sleep", "1000"]) for _ in range(PROCESSES)]
    try:
        commands = [
            ("svctl ps", [SVCTL, "ps"]),
            ("ps -ef", ["ps", "-ef"]),
            ("svctl ps --tree", [SVCTL, "ps", "--tree"]),
            ("pstree -p", ["pstree", "-p"]),
            ("svctl net", [SVCTL, "net"]),
            ("netstat -tunaxp", ["netstat", "-tunaxp"]),
        ]
        rows = []
        for label, argv in commands:
            if shutil.which(argv[0]) is None:
                rows.append((label, None))
                continue
            timed(argv)  # warm the page cache
            rows.append((label, [timed(argv) for _ in range(RUNS)]))
        print(f"{PROCESSES} sleeping processes (+ a few), {RUNS} runs each, wall time per whole command\n")
        print("| command | median ms | min-max ms | vs svctl |")
        print("|---|---|---|---|")
        base = None
        for label, samples in rows:
            if samples is None:
                print(f"| {label} | not installed | | |")
                continue
            median = statistics.median(samples)
            if label.startswith("svctl"):
                base = median
                ratio = "1.0x"
            else:
                ratio = f"{median / base:.1f}x" if base else ""
            print(f"| {label} | {median:.1f} | {min(samples):.1f}-{max(samples):.1f} | {ratio} |")
    finally:
        for sleeper in sleepers:
            sleeper.kill()
        for sleeper in sleepers:
            sleeper.wait()


main()
