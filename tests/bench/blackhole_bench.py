#!/usr/bin/env python3
"""The blackhole tracer's overhead (`make bench`): hackbench (`perf bench sched messaging`,
Debian linux-perf), a fork-and-pipe load that allocates and frees kernel pages at a high
rate, with memledger_exporter running without the blackhole collector (A) and with it (B).
Runs alternate A, B, A, B... so that drifting host load hits both alike; the medians and
their ratio are printed with the load average seen, and the target (B/A <= 1.01).

It also reports the tracer's own cost: the BPF programs' run time and event count
(kernel.bpf_stats_enabled, switched on for the measurement and restored), the daemon's
CPU time per run in both modes, and the kernel memory of the tracer's BPF maps
(bpftool's bytes_memlock, the kernel's own estimate of map memory).

Needs root, perf and bpftool; exits 77 otherwise. Usage:
    blackhole_bench.py --exporter build/memledger_exporter [--runs 7] [--groups 5] [--loops 2000]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def skip(message):
    print("SKIP: " + message)
    sys.exit(77)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Exporter:
    def __init__(self, binary, tracer):
        self.log = tempfile.NamedTemporaryFile(prefix="blackhole-bench-", suffix=".log")
        args = [binary, "--web.listen-address=127.0.0.1:0"]
        if not tracer:
            args.append("--no-collector.blackhole")
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 10
        self.port = None
        while self.port is None:
            match = re.search(r"address=\S+:(\d+)", open(self.log.name).read())
            if match:
                self.port = int(match.group(1))
            elif time.monotonic() > deadline or self.process.poll() is not None:
                sys.exit("exporter did not start: " + open(self.log.name).read())
            else:
                time.sleep(0.05)
        self.scrape()
        if tracer:  # the tracer attaches in the background after the first scrape
            deadline = time.monotonic() + 30
            while "memledger_blackhole_tracer_active 1" not in self.scrape():
                if time.monotonic() > deadline:
                    sys.exit("tracer not active: " + open(self.log.name).read())
                time.sleep(0.2)

    def scrape(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port, timeout=30) as r:
            return r.read().decode(errors="replace")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=15)


def hackbench(groups, loops):
    out = subprocess.run(["perf", "bench", "sched", "messaging", "-g", str(groups), "-l", str(loops)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True).stdout
    return float(re.search(r"Total time: ([\d.]+)", out).group(1))


PROGRAMS = ("on_page_alloc", "on_page_free", "on_page_free_batched")
MAPS = ("pages", "stacks", "blackhol.bss")


def tracer_bpf_stats():
    """(run_time_ns, run_cnt) summed over the tracer's programs, and its maps' memlock. This
    bpftool lists no owning pids, so the tracer's objects are the newest of their names:
    only one exporter runs at a time here."""
    def newest(kind, names):
        objects = json.loads(subprocess.run(["bpftool", "-j", kind, "show"], stdout=subprocess.PIPE,
                                            text=True, check=True).stdout)
        found = {}
        for o in objects:
            if o.get("name") in names and o["id"] > found.get(o["name"], {"id": -1})["id"]:
                found[o["name"]] = o
        return found
    progs = newest("prog", PROGRAMS)
    run_ns = sum(p.get("run_time_ns", 0) for p in progs.values())
    run_cnt = sum(p.get("run_cnt", 0) for p in progs.values())
    memlock = {name: m.get("bytes_memlock", 0) for name, m in newest("map", MAPS).items()}
    return run_ns, run_cnt, memlock


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exporter", required=True)
    parser.add_argument("--runs", type=int, default=7, help="runs per mode (default 7)")
    parser.add_argument("--groups", type=int, default=5)
    parser.add_argument("--loops", type=int, default=2000)
    args = parser.parse_args()
    if os.geteuid() != 0:
        skip("needs root (the tracer, kernel.bpf_stats_enabled)")
    for tool in ("perf", "bpftool"):
        if not shutil.which(tool):
            skip(tool + " is not installed (Debian linux-perf, bpftool)")

    stats_path = "/proc/sys/kernel/bpf_stats_enabled"
    stats_before = open(stats_path).read().strip()
    times = {"without": [], "with": []}
    daemon_cpu = {"without": [], "with": []}
    bpf_ns = []
    bpf_events = []
    memlock = {}
    loads = []
    try:
        with open(stats_path, "w") as f:
            f.write("1")
        for run in range(args.runs):
            for mode in ("without", "with"):
                loads.append(os.getloadavg()[0])  # before the run: hackbench's own load is ~200
                exporter = Exporter(args.exporter, tracer=(mode == "with"))
                try:
                    cpu_before = cpu_seconds(exporter.process.pid)
                    stats_before_run = tracer_bpf_stats()
                    times[mode].append(hackbench(args.groups, args.loops))
                    exporter.scrape()  # a scrape during the run's aftermath, as Prometheus would
                    daemon_cpu[mode].append(cpu_seconds(exporter.process.pid) - cpu_before)
                    if mode == "with":
                        ns, cnt, memlock = tracer_bpf_stats()
                        bpf_ns.append(ns - stats_before_run[0])
                        bpf_events.append(cnt - stats_before_run[1])
                finally:
                    exporter.stop()
    finally:
        with open(stats_path, "w") as f:
            f.write(stats_before)

    a = statistics.median(times["without"])
    b = statistics.median(times["with"])
    ratio = b / a
    command = os.environ.get("MEMLEDGER_BENCH_COMMAND", " ".join(sys.argv))
    print("## blackhole tracer overhead\n")
    print("`%s`: `perf bench sched messaging -g %d -l %d`, %d interleaved runs per mode, "
          "load average %.2f-%.2f\n" % (command, args.groups, args.loops, args.runs, min(loads), max(loads)))
    print("| | median s | runs (s) |")
    print("|---|---|---|")
    for mode in ("without", "with"):
        print("| exporter %s blackhole | %.3f | %s |" % (mode, statistics.median(times[mode]),
                                                      " ".join("%.2f" % t for t in times[mode])))
    print("\nratio with/without: **%.4f** (%+.2f%%); target <= 1.01: %s" % (
        ratio, (ratio - 1) * 100, "met" if ratio <= 1.01 else "NOT met"))
    ns = statistics.median(bpf_ns)
    events = statistics.median(bpf_events)
    print("\nBPF programs per run (median): %.3f s CPU for %d events (%.0f ns each), %.2f%% of the "
          "run's wall time" % (ns / 1e9, events, ns / max(events, 1), ns / 1e9 / b * 100))
    print("daemon CPU per run (median): %.3f s without, %.3f s with the tracer" % (
        statistics.median(daemon_cpu["without"]), statistics.median(daemon_cpu["with"])))
    print("BPF map memory (bytes_memlock): %s; total %.1f MiB" % (
        ", ".join("%s %d" % kv for kv in sorted(memlock.items())), sum(memlock.values()) / (1 << 20)))


if __name__ == "__main__":
    main()
