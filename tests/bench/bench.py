#!/usr/bin/env python3
"""The performance benchmark (`make bench`): memledger_exporter against the raw-read floor
and its peers, with N extra idle processes, on this host, in one run.

For each N it
  1. starts N idle processes (`bench_tool idle N`: `sleep infinity` children);
  2. starts the daemons, each on a loopback port: memledger_exporter with its default
     configuration, with the smaps budget unbounded (every process read: the same files
     as the floor), and the same with read_threads 1; node_exporter with its memory
     collectors; process-exporter with -gather-smaps=true and one group per comm;
  3. records with strace the file operations of one steady-state scrape of the unbounded
     memledger_exporter, for `bench_tool floor` to replay on 1 and on 2 threads: the
     floor, what the kernel charges to produce the files and nothing else;
  4. measures every subject in rounds that rotate over all of them;
and prints a Markdown table of scrape latency (client side, gzip as Prometheus asks),
CPU per scrape (the daemon's utime/stime over the scrapes), resident memory after the
scrapes, the ratios, and the issue's targets with their verdicts.

Everything runs at SCHED_FIFO priority 1 unless --no-realtime: on a busy host other work
would otherwise preempt the scrapes and the wall times would measure it.
Needs root (every process's smaps_rollup, SCHED_FIFO), strace, and for the peers the
Debian packages prometheus-node-exporter and prometheus-process-exporter (rows left out
when absent). Raises kernel.pid_max / kernel.threads-max only when N does not fit, and
restores them.
"""
import argparse
import contextlib
import gzip
import http.client
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
FLOOR = "floor: the same reads, 1 thread"
DEFAULT = "memledger_exporter, default config (smaps budget 1 s)"
FULL = "memledger_exporter, smaps budget unbounded"
PEER = "process-exporter -gather-smaps=true"
MIB = 1024 * 1024


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """(user, system) seconds the process has used so far, all threads included."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def resident_bytes(pid):
    """(RSS, PSS): resident memory, and its share once pages shared with other processes
    (libc, libstdc++...) are divided among them."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        fields = dict(line.split()[:2] for line in f if line.endswith("kB\n"))
    return int(fields["Rss:"]) * 1024, int(fields["Pss:"]) * 1024


def process_count():
    return sum(1 for name in os.listdir("/proc") if name.isdigit())


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


class RaisedSysctl:
    """Raises a kernel limit to at least `needed` for the duration, then restores it."""

    def __init__(self, name, needed):
        self.path = "/proc/sys/" + name.replace(".", "/")
        self.name, self.needed, self.original = name, needed, None

    def __enter__(self):
        with open(self.path) as f:
            current = int(f.read())
        if current < self.needed:
            log(f"raising {self.name} from {current} to {self.needed} (restored at the end)")
            self.original = current
            with open(self.path, "w") as f:
                f.write(str(self.needed))
        return self

    def __exit__(self, *exc):
        if self.original is not None:
            with open(self.path, "w") as f:
                f.write(str(self.original))


class IdleProcesses:
    """N idle children of `bench_tool idle`, killed by pid when the block ends (and by
    the kernel if the tool dies: PR_SET_PDEATHSIG)."""

    def __init__(self, tool, count):
        self.tool, self.count, self.proc = tool, count, None

    def __enter__(self):
        if self.count == 0:
            return self
        self.proc = subprocess.Popen([self.tool, "idle", str(self.count)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            self.__exit__()
            raise RuntimeError(f"bench_tool idle {self.count} failed to start its children")
        return self

    def __exit__(self, *exc):
        if self.proc:
            self.proc.stdin.close()
            self.proc.wait(timeout=120)
            self.proc = None


def scrape(port):
    """(seconds, exposition text) of one GET /metrics, accepting gzip as Prometheus does."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    connection.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
    response = connection.getresponse()
    body = response.read()
    took = time.perf_counter() - start
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"port {port}: HTTP {response.status}")
    if response.getheader("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return took, body.decode("utf-8", "replace")


def sample_value(text, name, labels=""):
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def measured_fraction(text):
    states = {s: sample_value(text, "memledger_processes", f'{{state="{s}"}}') or 0
              for s in ("measured", "cached", "budget_exceeded", "unreadable")}
    total = sum(states.values())
    return states["measured"] / total if total else None


class Daemon:
    """An exporter on a loopback port, stopped (by its pid) when the block ends."""

    def __init__(self, label, argv, port, workdir):
        self.argv, self.port = argv, port
        self.log_path = os.path.join(workdir, re.sub(r"\W+", "_", label) + ".log")
        self.result = {"label": label, "latencies": [], "fractions": []}

    def __enter__(self):
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.argv, stdout=self.log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while self.proc.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError(f"{self.argv[0]} did not listen on port {self.port}, see {self.log_path}")

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log_file.close()

    def warm_up(self):
        scrape(self.port)

    def start_measuring(self):
        self.cpu_start = cpu_seconds(self.proc.pid)

    def measure_once(self):
        took, text = scrape(self.port)
        self.result["latencies"].append(took)
        fraction = measured_fraction(text)
        if fraction is not None:
            self.result["fractions"].append(fraction)

    def stop_measuring(self):
        user, system = cpu_seconds(self.proc.pid)
        scrapes = len(self.result["latencies"])
        self.result["user"] = (user - self.cpu_start[0]) / scrapes
        self.result["system"] = (system - self.cpu_start[1]) / scrapes
        self.result["rss"], self.result["pss"] = resident_bytes(self.proc.pid)


class Floor:
    """`bench_tool floor`: one replay of the scrape's file operations per request."""

    def __init__(self, tool, ops_path, threads):
        self.argv = [tool, "floor", ops_path, str(threads)]
        label = FLOOR if threads == 1 else f"floor: the same reads, {threads} threads"
        self.result = {"label": label, "latencies": [], "fractions": [], "rss": None}
        self.users, self.systems = [], []

    def __enter__(self):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)

    def replay(self):
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return tuple(map(float, self.proc.stdout.readline().split()))

    def warm_up(self):
        self.replay()

    def start_measuring(self):
        pass

    def measure_once(self):
        wall, user, system = self.replay()
        self.result["latencies"].append(wall)
        self.users.append(user)
        self.systems.append(system)

    def stop_measuring(self):
        self.result["user"] = statistics.mean(self.users)
        self.result["system"] = statistics.mean(self.systems)


# One scrape's file operations, from `strace -f -y` output, in bench_tool floor's format.
OPENAT = re.compile(r'openat\((?:AT_FDCWD|\d+)<[^>]*>, "([^"]*)", ([A-Z_|]+)')
AT_DIRFD = re.compile(r'(readlinkat|newfstatat)\(\d+<([^>]*)>, "([^"]+)"')
AT_CWD = re.compile(r'newfstatat\(AT_FDCWD<[^>]*>, "([^"]+)"')
STATFS = re.compile(r'statfs\("([^"]+)"')
SOURCES = ("/proc/", "/sys/")


def is_source(path):
    return path.startswith(SOURCES)


def trace_operations(strace_output):
    ops = []
    with open(strace_output) as f:
        for line in f:
            if m := OPENAT.search(line):
                if is_source(m.group(1)):
                    ops.append(("l " if "O_DIRECTORY" in m.group(2) else "r ") + m.group(1))
            elif m := AT_DIRFD.search(line):
                if is_source(m.group(2)):
                    op = "L" if m.group(1) == "readlinkat" else "s"
                    ops.append(f"{op} {m.group(2)}\t{m.group(3)}")
            elif m := AT_CWD.search(line):
                if is_source(m.group(1)):
                    ops.append("s " + m.group(1))
            elif m := STATFS.search(line):
                if is_source(m.group(1)):
                    ops.append("f " + m.group(1))
    return ops


def all_threads_traced(pid):
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/status") as f:
                if re.search(r"^TracerPid:\s+0$", f.read(), re.M):
                    return False
    except FileNotFoundError:
        return False
    return True


def capture_operations(daemon, workdir):
    """The /proc and /sys operations of one steady-state scrape of a running daemon
    (strace attached for that scrape only), saved for the floor."""
    raw = os.path.join(workdir, "strace.txt")
    strace = subprocess.Popen(["strace", "-f", "-y", "-qq", "-e", "signal=none", "-o", raw,
                               "-e", "trace=openat,readlinkat,newfstatat,statfs",
                               "-p", str(daemon.proc.pid)])
    deadline = time.monotonic() + 20
    while not all_threads_traced(daemon.proc.pid):
        if time.monotonic() > deadline:
            strace.kill()
            raise RuntimeError("strace did not attach")
        time.sleep(0.05)
    scrape(daemon.port)
    strace.send_signal(signal.SIGINT)
    strace.wait(timeout=60)
    ops = trace_operations(raw)
    os.unlink(raw)
    path = os.path.join(workdir, "operations.txt")
    write_file(path, "\n".join(ops) + "\n")
    return path, ops


def fmt_ms(seconds):
    return f"{seconds * 1000:.0f}" if seconds >= 0.1 else f"{seconds * 1000:.1f}"


def fmt_ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "-"


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def run_count(args, extra, workdir):
    """Every measurement at one process count, interleaved round by round so that any
    drift of the host's load falls on all subjects alike. Returns (rows, context)."""
    scrapes = args.scrapes or (30 if extra <= 1000 else 10)
    with IdleProcesses(args.tool, extra), contextlib.ExitStack() as stack:
        processes = process_count()
        log(f"{extra} idle processes started: {processes} processes listed in /proc")
        daemons = []

        def daemon(label, argv_of_port):
            port = free_port()
            daemons.append(stack.enter_context(Daemon(label, argv_of_port(port), port, workdir)))
            return daemons[-1]

        def memledger(label, yaml):
            config = write_file(os.path.join(workdir, f"memledger-{len(daemons)}.yml"), yaml)
            return daemon(label, lambda port: [args.exporter, f"--web.listen-address=127.0.0.1:{port}",
                                               f"--config.file={config}"])

        memledger(DEFAULT, "{}\n")
        unbounded = memledger(FULL,
                              "collectors:\n  process:\n    smaps_budget_seconds: 1000000\n")
        memledger("memledger_exporter, smaps budget unbounded, read_threads 1",
                  "collectors:\n  process:\n    smaps_budget_seconds: 1000000\n"
                  "    read_threads: 1\n")
        if node_exporter := shutil.which("prometheus-node-exporter"):
            daemon("node_exporter, memory collectors", lambda port: [
                node_exporter, f"--web.listen-address=127.0.0.1:{port}",
                "--collector.disable-defaults", "--collector.meminfo", "--collector.meminfo_numa",
                "--collector.vmstat", "--collector.buddyinfo", "--collector.slabinfo",
                "--collector.zoneinfo"])
        if process_exporter := shutil.which("prometheus-process-exporter"):
            config = write_file(os.path.join(workdir, "process-exporter.yml"),
                                "process_names:\n  - name: '{{.Comm}}'\n    cmdline: ['.+']\n")
            daemon(PEER, lambda port: [
                process_exporter, f"-web.listen-address=127.0.0.1:{port}", "-gather-smaps=true",
                f"-config.path={config}"])

        log(f"{len(daemons)} daemons started: {args.warmups} warm-up scrapes each")
        for _ in range(args.warmups):
            for subject in daemons:
                subject.warm_up()
        ops_path, ops = capture_operations(unbounded, workdir)
        counts = {kind: sum(1 for op in ops if op.startswith(kind + " ")) for kind in "rlLsf"}
        log(f"one steady-state scrape: {len(ops)} file operations {counts}")
        floors = [stack.enter_context(Floor(args.tool, ops_path, threads)) for threads in (1, 2)]
        for subject in floors:
            subject.warm_up()

        subjects = floors + daemons
        log(f"{scrapes} measured rounds over {len(subjects)} subjects")
        for subject in subjects:
            subject.start_measuring()
        for round_number in range(scrapes):
            # Rotated so that no subject always follows the same one.
            shift = round_number % len(subjects)
            for subject in subjects[shift:] + subjects[:shift]:
                subject.measure_once()
        for subject in subjects:
            subject.stop_measuring()
        rows = [subject.result for subject in subjects]
    return rows, {"extra": extra, "processes": processes, "scrapes": scrapes,
                  "operations": len(ops), "counts": counts}


def table(rows, context):
    floor_median = statistics.median(rows[0]["latencies"])
    peer = next((r for r in rows if r["label"] == PEER), None)
    peer_median = statistics.median(peer["latencies"]) if peer else None
    c = context
    lines = [f"**N = {c['extra']:,} idle processes** ({c['processes']:,} in /proc; "
             f"{c['scrapes']} scrapes each; one scrape = {c['operations']:,} file operations: "
             f"{c['counts']['r']:,} reads, {c['counts']['l']:,} directory listings, "
             f"{c['counts']['L']:,} readlinks)",
             "",
             "| | median ms | p90 ms | user ms/scrape | system ms/scrape | RSS (PSS) MiB "
             "| PSS measured | vs floor | vs process-exporter |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        median = statistics.median(r["latencies"])
        rss = f"{r['rss'] / MIB:.1f} ({r['pss'] / MIB:.1f})" if r["rss"] is not None else ""
        fraction = ""
        if r["fractions"]:
            low, high = min(r["fractions"]) * 100, max(r["fractions"]) * 100
            fraction = f"{high:.0f}%" if round(low) == round(high) else f"{low:.0f}-{high:.0f}%"
        lines.append(f"| {r['label']} | {fmt_ms(median)} | {fmt_ms(percentile(r['latencies'], 0.9))} "
                     f"| {fmt_ms(r['user'])} | {fmt_ms(r['system'])} | {rss} | {fraction} "
                     f"| {fmt_ratio(median, floor_median)} | {fmt_ratio(median, peer_median)} |")
    return lines


def verdicts(results):
    """The issue's targets, checked on the measured rows."""
    out = []

    def row(rows, label):
        return next((r for r in rows if r["label"] == label), None)

    def check(ok, text):
        out.append(f"- {'met' if ok else 'MISSED'}: {text}")

    for rows, c in results:
        floor = row(rows, FLOOR)
        full = row(rows, FULL)
        default = row(rows, DEFAULT)
        peer = row(rows, PEER)
        n = f"N={c['extra']:,}"
        ratio = statistics.median(full["latencies"]) / statistics.median(floor["latencies"])
        check(ratio <= 1.2, f"{n}: full scrape {ratio:.2f}x the floor (target <= 1.2x)")
        if peer:
            ratio = statistics.median(full["latencies"]) / statistics.median(peer["latencies"])
            check(ratio <= 0.15, f"{n}: full scrape {ratio:.2f}x process-exporter's "
                  "(target <= 0.15x)")
        two = row(rows, "floor: the same reads, 2 threads")
        ratio = statistics.median(full["latencies"]) / statistics.median(two["latencies"])
        out.append(f"- {n}: full scrape {ratio:.2f}x the 2-thread floor (the same CPUs as the "
                   "exporter's)")
        share = full["user"] / floor["system"]
        check(share <= 0.15, f"{n}: user CPU {share * 100:.0f}% of the floor's kernel time "
              "(target <= 15%)")
        if c["extra"] == 1000:
            check(default["rss"] <= 8 * MIB,
                  f"{n}: resident memory {default['rss'] / MIB:.1f} MiB (target <= 8 MiB)")
    if len(results) >= 2:
        per_process = []
        for rows, c in results:
            full = row(rows, FULL)
            seconds = statistics.median(full["latencies"]) / c["processes"]
            per_process.append(f"{seconds * 1e6:.0f} us at N={c['extra']:,}")
        out.append("- full scrape per process listed: " + ", ".join(per_process))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exporter", required=True, help="the memledger_exporter binary")
    parser.add_argument("--tool", required=True, help="the bench_tool binary")
    parser.add_argument("--processes", default="1000,10000",
                        help="comma-separated counts of extra idle processes (default 1000,10000)")
    parser.add_argument("--scrapes", type=int, default=0,
                        help="measured scrapes per subject (default: 30 up to N=1,000, else 10)")
    parser.add_argument("--warmups", type=int, default=2, help="unmeasured scrapes first")
    parser.add_argument("--output", help="also write the report to this file")
    parser.add_argument("--no-realtime", action="store_true",
                        help="run at normal priority, disturbed by whatever else runs")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: needs root (every process's smaps_rollup, kernel.pid_max)")
    if not shutil.which("strace"):
        sys.exit("bench: needs strace (apt-get install strace) to record a scrape's files")
    counts = [int(n) for n in args.processes.split(",")]
    if not args.no_realtime:
        # Every subject inherits it: other work on the host cannot preempt a scrape, so
        # wall time is the subject's own (the kernel still keeps 5% of each CPU for others).
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    _, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    resource.setrlimit(resource.RLIMIT_NPROC, (hard, hard))
    needed = 2 * (process_count() + max(counts) + 1000)
    started = time.monotonic()
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[0]
    results = []
    with tempfile.TemporaryDirectory(prefix="memledger-bench-") as workdir, \
            RaisedSysctl("kernel.pid_max", needed), RaisedSysctl("kernel.threads-max", needed):
        for extra in counts:
            results.append(run_count(args, extra, workdir))
    command = os.environ.get("MEMLEDGER_BENCH_COMMAND") or " ".join(sys.argv)
    priority = "normal priority" if args.no_realtime else "SCHED_FIFO"
    lines = [f"`{command}`: Linux {os.uname().release}, {os.cpu_count()} CPUs, {priority}, "
             f"load average {load_before} at the start, {time.monotonic() - started:.0f} s.", ""]
    for rows, context in results:
        lines += table(rows, context) + [""]
    lines += verdicts(results)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        write_file(args.output, text)


if __name__ == "__main__":
    main()
