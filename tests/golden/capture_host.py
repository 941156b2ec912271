#!/usr/bin/env python3
"""Captures this host's /proc and /sys as the exporter reads them, into a fixture tree.

Usage (root): capture_host.py EXPORTER TREE

Runs `EXPORTER --once` under strace, copies every file under /proc and /sys that it
opened into TREE/proc and TREE/sys, and keeps only a few processes: of pid 1 only its
mountinfo (the shmem collector's view of the mounts; its smaps_rollup is unreadable even
to root in a sandbox, and a missing one would read as a pre-4.14 kernel), pid 2
(kthreadd, a kernel thread) and two processes
started here for the purpose (a `sleep`, and a Python process holding a memfd and a
deleted /dev/shm file open, so the shmem collector's open-file scan has something to
see). /proc/<pid>/fd entries become symlinks with the same targets. Nothing else of the
host's processes (command lines, environments) is copied.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HOLDER = r"""
import os, sys, time
fd = os.memfd_create("golden-holder")
os.write(fd, b"m" * 65536)
path = "/dev/shm/golden-deleted-%d" % os.getpid()
shm = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
os.write(shm, b"d" * 131072)
os.unlink(path)
sys.stdout.write("ready\n"); sys.stdout.flush()
time.sleep(600)
"""

# Per-process files copied for the kept processes: what a default scrape reads (stat,
# smaps_rollup, fd) and what the grouping rules read (status, comm, cgroup, cmdline).
PID_FILES = ["stat", "status", "smaps_rollup", "comm", "cgroup", "cmdline"]
# Every path opened, whether strace shows the call whole or split across threads
# ("<unfinished ...>"); those that do not exist are skipped when copying.
OPENAT = re.compile(r'openat\(AT_FDCWD, "([^"]+)"')


def copy_file(source, target):
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        with open(source, "rb") as f:
            data = f.read()
    except OSError as e:
        print(f"skipped {source}: {e}", file=sys.stderr)
        return
    with open(target, "wb") as f:
        f.write(data)


def main():
    exporter, tree = sys.argv[1], sys.argv[2]
    quiet = dict(stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sleeper = subprocess.Popen(["sleep", "600"], stdout=subprocess.DEVNULL, **quiet)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True, **quiet)
    try:
        holder.stdout.readline()
        with tempfile.TemporaryDirectory() as scratch:
            trace = os.path.join(scratch, "trace")
            subprocess.run(["strace", "-f", "-s", "4096", "-e", "trace=openat", "-o", trace,
                            exporter, "--once"], stdout=subprocess.DEVNULL, check=True)
            with open(trace) as f:
                opened = sorted({m.group(1) for m in OPENAT.finditer(f.read())})
        kept = {2, sleeper.pid, holder.pid}
        shutil.rmtree(tree, ignore_errors=True)
        for path in opened:
            if not (path.startswith("/proc/") or path.startswith("/sys/")):
                continue
            pid = re.match(r"/proc/(\d+)(/|$)", path)
            if pid:
                continue  # the kept processes are copied below, whole
            target = tree + path
            if not os.path.exists(path):
                continue
            if os.path.isdir(path):
                os.makedirs(target, exist_ok=True)
            else:
                copy_file(path, target)
        copy_file("/proc/1/mountinfo", f"{tree}/proc/1/mountinfo")
        for pid in sorted(kept):
            for name in PID_FILES:
                copy_file(f"/proc/{pid}/{name}", f"{tree}/proc/{pid}/{name}")
            # A kernel thread has no descriptors: git keeps no empty fd directory.
            for fd in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
                try:
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                os.makedirs(f"{tree}/proc/{pid}/fd", exist_ok=True)
                os.symlink(link, f"{tree}/proc/{pid}/fd/{fd}")
    finally:
        for process in (sleeper, holder):
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
