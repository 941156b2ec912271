#!/usr/bin/env python3
"""PSS stall benchmark (root): how long reading a large process's PSS stalls it.

For each victim size (8 and 16 GiB of private 4 KiB pages, one victim at a time), the
victim (tests/bench/mmap_victim.cpp) times mmap+munmap of one page in a loop while a
reader scrapes once a second for --seconds:
  idle                       nobody reads it
  memledger pagemap          large_process_refresh_seconds: 0 (pagemap from 64 MiB: the default)
  memledger smaps_rollup     the same with pagemap off (pagemap_min_rss_bytes huge)
  process-exporter           -gather-smaps=true (when installed)
The victim runs at SCHED_FIFO on the last CPU, the readers on the others (--no-realtime:
neither), so that what delays it is the mmap lock, not the readers' or other work's CPU
time on a small host. It reports the victim's worst latency (median of the per-second
worsts, and the worst),
the victim's Pss as each memledger reader saw it against smaps_rollup, and the reader's
CPU per scrape (utime+stime of the daemon over the scrapes). Targets (issue 13): worst
<= 5 ms with pagemap, Pss within 2%, CPU per scrape <= 2x smaps_rollup's.

Then the same victim read by the script itself, without the exporter: the PAGEMAP_SCAN
ioctl (6.7+) over the whole address space and in 32 MiB calls, and pagemap with pauses
between its reads (--raw). Then the crossover that sets pagemap_min_rss_bytes' default: for 4 processes of each of
--crossover's sizes, smaps_rollup's lock hold (the wall time of one read, which the
process waits out) and the CPU of each method's kernel work for one process. Last, the
exporter's CPU with --shared GiB of shmem mapped by two processes, where pagemap needs a
/proc/kpagecount lookup per page.
"""

import argparse
import ctypes
import fcntl
import os
import re
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")
READER_PLACEMENT = None  # set by main(): the readers' CPUs


def only_process(exporter):
    """The flags that turn every collector off but the process collector (from --help)."""
    usage = subprocess.run([exporter, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True).stdout
    names = re.findall(r"^\s+([a-z_]+)\b", usage.split("Collectors (default state):")[1], re.M)
    return ["--no-collector." + name for name in names if name != "process"]


def log(text):
    print(text, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=60) as r:
        return r.read().decode(errors="replace")


def wait_listening(port, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit("the reader exited at start")
        try:
            scrape(port)
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("the reader never listened")


def rollup_pss(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        return 1024 * int(re.search(r"^Pss:\s+(\d+) kB", f.read(), re.M).group(1))


def run_reader(name, argv, port, victim, seconds, comm):
    """Scrapes once a second; returns (median worst us, worst us, cpu s/scrape, pss or None)."""
    reader = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              preexec_fn=READER_PLACEMENT) if argv else None
    try:
        if reader:
            wait_listening(port, reader)
            scrape(port)  # warm-up: grouping, first reads
            cpu_before = cpu_seconds(reader.pid)
        worsts, pss = [], None
        victim.stdout.readline()  # drop the partial second in progress
        for _ in range(seconds):
            started = time.monotonic()
            if reader:
                text = scrape(port)
                m = re.search(r'^memledger_process_memory_bytes\{group="%s",kind="pss"\} (\S+)' % comm,
                              text, re.M)
                if m:
                    pss = float(m.group(1))
            worsts.append(int(victim.stdout.readline().split()[1]))
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
        cpu = (cpu_seconds(reader.pid) - cpu_before) / seconds if reader else 0.0
    finally:
        if reader:
            reader.terminate()
            reader.wait()
    worsts.sort()
    return worsts[len(worsts) // 2], worsts[-1], cpu, pss


def write_config(path, pagemap_min):
    with open(path, "w") as f:
        f.write("collectors:\n  process:\n    large_process_refresh_seconds: 0\n"
                "    smaps_budget_seconds: 10\n    top_groups: 100000\n"
                "    pagemap_min_rss_bytes: %d\n" % pagemap_min)
    return path


def pagemap_walk(pid, fd):
    """The kernel work of the exporter's pagemap read of a private process: its maps, then
    its pagemap entries 8,192 per read, as procfs/pagemap_reader.cpp reads them."""
    with open("/proc/%d/maps" % pid) as f:
        ranges = [[int(x, 16) for x in line.split()[0].split("-")] for line in f if "[vsyscall]" not in line]
    for start, end in ranges:
        page, last = start // 4096, end // 4096
        while page < last:
            count = min(8192, last - page)
            os.pread(fd, count * 8, page * 8)
            page += count


def crossover(args):
    """Where pagemap starts to pay: per process size, smaps_rollup's lock hold (the wall
    time of one read, which the process waits out) and the CPU of either method's kernel
    work for that process, timed on this thread (CLOCK_THREAD_CPUTIME_ID)."""
    count, repeats = 4, 5
    rows = []
    for mib in [int(m) for m in args.crossover.split(",")]:
        victims = [subprocess.Popen([args.victim, str(mib / 1024)], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True) for _ in range(count)]
        holds, rollup_cpu, pagemap_cpu = [], [], []
        try:
            for v in victims:
                if v.stdout.readline().strip() != "ready":
                    sys.exit("a victim did not start")
            for _ in range(repeats):
                for v in victims:
                    wall, cpu = time.monotonic(), time.thread_time()
                    with open("/proc/%d/smaps_rollup" % v.pid) as f:
                        f.read()
                    rollup_cpu.append(time.thread_time() - cpu)
                    holds.append(time.monotonic() - wall)
                    cpu = time.thread_time()
                    fd = os.open("/proc/%d/pagemap" % v.pid, os.O_RDONLY)
                    try:
                        pagemap_walk(v.pid, fd)
                    finally:
                        os.close(fd)
                    pagemap_cpu.append(time.thread_time() - cpu)
        finally:
            for v in victims:
                v.stdin.close()
                v.kill()
                v.wait()
        median = lambda values: sorted(values)[len(values) // 2]  # noqa: E731
        rows.append((mib, median(holds), median(rollup_cpu), median(pagemap_cpu)))
        log("%5d MiB: smaps_rollup holds the lock %.2f ms; CPU per read: smaps_rollup %.2f ms, "
            "pagemap %.2f ms" % (mib, rows[-1][1] * 1000, rows[-1][2] * 1000, rows[-1][3] * 1000))
    log("\n| process RSS | smaps_rollup lock hold (its stall) | CPU per read, smaps_rollup | pagemap | ratio |")
    log("|---|---|---|---|---|")
    for mib, hold, rollup, pagemap in rows:
        log("| %d MiB | %.2f ms | %.2f ms | %.2f ms | %.2fx |" % (
            mib, hold * 1000, rollup * 1000, pagemap * 1000, pagemap / rollup))


def shared_cost(args, configs):
    """A shmem segment of --shared GiB mapped by two processes (every page's map count 2):
    CPU of one `--once` collection of processes through either method, and their Pss."""
    victim = subprocess.Popen([args.victim, str(args.shared), "shared"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        if victim.stdout.readline().strip() != "ready":
            sys.exit("the shared victim did not start")
        cpu, pss = {"pagemap": [], "smaps_rollup": []}, {}
        for _ in range(5):
            for name in cpu:
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                out = subprocess.run([args.exporter, "--once", "--config.file=" + configs[name]] + only_process(args.exporter),
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True, text=True).stdout
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
                m = re.search(r'^memledger_process_memory_bytes\{group="mmap_victim",kind="pss"\} (\S+)', out, re.M)
                pss[name] = float(m.group(1)) if m else None
    finally:
        victim.stdin.close()
        victim.kill()
        victim.wait()
    median = {name: sorted(values)[len(values) // 2] for name, values in cpu.items()}
    log("\n%s GiB of shmem mapped by two processes, one --once collection of processes (median of 5): "
        "pagemap %.0f ms CPU, smaps_rollup %.0f ms CPU (%.2fx); Pss of the pair %s" % (
            args.shared, median["pagemap"] * 1000, median["smaps_rollup"] * 1000,
            median["pagemap"] / median["smaps_rollup"],
            "%.3f vs %.3f GiB" % (pss["pagemap"] / 2**30, pss["smaps_rollup"] / 2**30)
            if pss["pagemap"] and pss["smaps_rollup"] else "not read"))


PAGEMAP_SCAN = 0xC0606610  # _IOWR('f', 16, struct pm_scan_arg): include/uapi/linux/fs.h
PAGE_IS_FILE, PAGE_IS_PRESENT, PAGE_IS_SWAPPED = 1 << 2, 1 << 3, 1 << 4


def pagemap_scan(fd, start, end, regions):
    """One PAGEMAP_SCAN ioctl (6.7+) for present or swapped pages in [start, end); returns
    (regions found, where the walk stopped)."""
    arg = bytearray(struct.pack("12Q", 96, 0, start, end, 0, ctypes.addressof(regions), len(regions) // 24,
                                0, 0, 0, PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
                                PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_FILE))
    found = fcntl.ioctl(fd, PAGEMAP_SCAN, arg, True)
    return found, struct.unpack("12Q", bytes(arg))[4]


def raw_readers(args, victim_placement):
    """The kernel interfaces alone, read from this script (no exporter) once a second:
    PAGEMAP_SCAN whole and in 32 MiB steps, and pagemap with pauses between its reads."""
    victim = subprocess.Popen([args.victim, args.raw], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, preexec_fn=victim_placement)
    affinity = os.sched_getaffinity(0)
    if READER_PLACEMENT:
        READER_PLACEMENT()
    try:
        if victim.stdout.readline().strip() != "ready":
            sys.exit("the victim did not start")
        fd = os.open("/proc/%d/pagemap" % victim.pid, os.O_RDONLY)
        regions = (ctypes.c_char * (24 * 512))()

        def ranges():
            with open("/proc/%d/maps" % victim.pid) as f:
                return [[int(x, 16) for x in line.split()[0].split("-")] for line in f if "[vsyscall]" not in line]

        def scan_whole():
            start, end = 0, 0x7ffffffff000  # TASK_SIZE on x86-64 (4-level page tables)
            while start < end:
                found, start = pagemap_scan(fd, start, end, regions)
                if not found:
                    break

        def scan_steps():
            for start, end in ranges():
                while start < end:
                    start = pagemap_scan(fd, start, min(end, start + (32 << 20)), regions)[1]

        def pagemap_paused(pause):
            for start, end in ranges():
                page, last = start // 4096, end // 4096
                while page < last:
                    count = min(8192, last - page)
                    os.pread(fd, count * 8, page * 8)
                    page += count
                    time.sleep(pause)

        readers = [("idle", lambda: None), ("PAGEMAP_SCAN, whole address space", scan_whole),
                   ("PAGEMAP_SCAN, 32 MiB per call", scan_steps),
                   ("pagemap, 8,192 entries per read", lambda: pagemap_walk(victim.pid, fd)),
                   ("pagemap, then 100 us pauses", lambda: pagemap_paused(1e-4)),
                   ("pagemap, then 300 us pauses", lambda: pagemap_paused(3e-4))]
        victim.stdout.readline()
        log("\n| %s GiB victim, read from the script | one read | victim's worst mmap+munmap per second, median | worst |"
            % args.raw)
        log("|---|---|---|---|")
        for name, read in readers:
            worsts, took = [], []
            for _ in range(args.seconds // 2):
                started = time.monotonic()
                read()
                took.append(time.monotonic() - started)
                worsts.append(int(victim.stdout.readline().split()[1]))
            worsts.sort()
            log("| %s | %.0f ms | %.2f ms | %.2f ms |" % (name, sorted(took)[len(took) // 2] * 1000,
                                                       worsts[len(worsts) // 2] / 1000, worsts[-1] / 1000))
        os.close(fd)
    finally:
        os.sched_setaffinity(0, affinity)
        victim.stdin.close()
        victim.kill()
        victim.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exporter", required=True)
    parser.add_argument("--victim", required=True)
    parser.add_argument("--sizes", default="8,16", help="victim sizes in GiB, comma-separated")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--readers", default="idle,pagemap,smaps_rollup,process-exporter",
                        help="which readers to run, comma-separated (default: all)")
    parser.add_argument("--crossover", default="16,64,256,1024",
                        help="process sizes in MiB for the pagemap/smaps_rollup crossover, 4 of each "
                        "('' to skip)")
    parser.add_argument("--raw", default="8",
                        help="GiB of the victim read by the script itself through PAGEMAP_SCAN and "
                        "paused pagemap reads ('' to skip)")
    parser.add_argument("--shared", type=float, default=2,
                        help="GiB of shmem mapped by two processes for the shared-page cost (0 to skip)")
    parser.add_argument("--no-realtime", dest="realtime", action="store_false",
                        help="run the victim at normal priority, unpinned (CPU contention then shows too)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("pss_bench.py needs root (other processes' pagemap pfns, /proc/kpagecount)")
    workdir = tempfile.mkdtemp(prefix="memledger-pss-bench-")
    configs = {name: write_config(os.path.join(workdir, name + ".yml"), pagemap_min)
               for name, pagemap_min in (("pagemap", 64 << 20), ("smaps_rollup", 1 << 50))}
    process_exporter = shutil.which("prometheus-process-exporter")
    pe_config = os.path.join(workdir, "process-exporter.yml")
    with open(pe_config, "w") as f:
        f.write("process_names:\n  - name: '{{.Comm}}'\n    cmdline: ['.+']\n")
    rows = []
    cpus = sorted(os.sched_getaffinity(0))
    global READER_PLACEMENT
    victim_placement = None
    if args.realtime and len(cpus) > 1:
        def victim_placement():
            os.sched_setaffinity(0, cpus[-1:])
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        READER_PLACEMENT = lambda: os.sched_setaffinity(0, cpus[:-1])  # noqa: E731
    log("load before: %s; victim %s" % (
        open("/proc/loadavg").read().strip(),
        "SCHED_FIFO on CPU %d, readers on CPUs %s" % (cpus[-1], ",".join(map(str, cpus[:-1])))
        if victim_placement else "SCHED_OTHER, unpinned"))
    for size in [s for s in args.sizes.split(",") if s]:
        victim = subprocess.Popen([args.victim, size], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, preexec_fn=victim_placement)
        try:
            check_ready = victim.stdout.readline().strip()
            if check_ready != "ready":
                sys.exit("the victim did not start")
            readers = [("idle", None)]
            for name in ("pagemap", "smaps_rollup"):
                readers.append(("memledger " + name, lambda port, name=name: [
                    args.exporter, "--web.listen-address=127.0.0.1:%d" % port,
                    "--config.file=" + configs[name], "--collector.process", "--no-collector.shmem"]))
            if process_exporter:
                readers.append(("process-exporter", lambda port: [
                    process_exporter, "-web.listen-address=127.0.0.1:%d" % port, "-gather-smaps=true",
                    "-config.path=" + pe_config]))
            for name, make_argv in readers:
                if name.replace("memledger ", "") not in args.readers.split(","):
                    continue
                port = free_port()
                median, worst, cpu, pss = run_reader(name, make_argv(port) if make_argv else None,
                                                     port, victim, args.seconds, "mmap_victim")
                truth = rollup_pss(victim.pid)
                rows.append((size, name, median, worst, cpu, pss, truth))
                log("%s GiB %-24s victim worst mmap+munmap: median %6.2f ms, worst %6.2f ms; "
                    "reader CPU %.1f ms/scrape%s" % (
                        size, name, median / 1000, worst / 1000, cpu * 1000,
                        "" if pss is None else "; Pss %.3f GiB vs smaps_rollup %.3f GiB (%+.2f%%)" % (
                            pss / 2**30, truth / 2**30, 100 * (pss - truth) / truth)))
        finally:
            victim.stdin.close()
            victim.kill()
            victim.wait()
    if args.raw:
        raw_readers(args, victim_placement)
    if args.crossover:
        crossover(args)
    if args.shared:
        shared_cost(args, configs)
    log("load after: %s" % open("/proc/loadavg").read().strip())
    log("\n| victim | reader | worst mmap+munmap, median of seconds | worst | CPU per scrape | Pss vs smaps_rollup |")
    log("|---|---|---|---|---|---|")
    for size, name, median, worst, cpu, pss, truth in rows:
        log("| %s GiB | %s | %.2f ms | %.2f ms | %s | %s |" % (
            size, name, median / 1000, worst / 1000, "%.1f ms" % (cpu * 1000) if name != "idle" else "",
            "%+.2f%%" % (100 * (pss - truth) / truth) if pss else ""))
    if os.environ.get("MEMLEDGER_BENCH_COMMAND"):
        log("\nmade by: " + os.environ["MEMLEDGER_BENCH_COMMAND"])
    shutil.rmtree(workdir, True)


if __name__ == "__main__":
    main()
