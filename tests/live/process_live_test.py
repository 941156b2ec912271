"""Live tests of the process collector on the running kernel (root; exit 77 = skipped).

    process_live_test.py smem      total PSS agrees with smem's within 3%
    process_live_test.py hostile   processes named with quotes, backslashes, newlines and
                                   invalid UTF-8: the exposition stays UTF-8, promtool-clean
    process_live_test.py churn     processes starting and exiting during 50 scrapes never
                                   fail the collector
    process_live_test.py nonroot   as nobody: what is readable, the rest counted, no log flood
    process_live_test.py budget    a tiny smaps budget holds with a 2 GiB process present
    process_live_test.py pagemap_accuracy  pagemap figures agree with smaps_rollup's on private
                                   anonymous memory, fork copy-on-write, shared file, shmem,
                                   transparent huge pages (and swap where there is swap)
    process_live_test.py pagemap_churn     processes exiting and exec'ing while pagemap reads
                                   them never fail the collector nor log
    process_live_test.py pagemap_nonroot   as nobody pagemap falls back to smaps_rollup, counted,
                                   without a log line

MEMLEDGER_BINARY names the exporter. Every process started here is stopped by its pid.
"""

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
from e2e import BINARY, Daemon, check, fail, get, promtool_check, require_binary, sample, skip, workdir, write  # noqa: E402

PR_SET_NAME = 15
HOSTILE_COMM = b'q"u\\o\nt\xff\xfe)(x'  # 13 bytes: fits the kernel's 15
HOSTILE_LINK = b'ev"il\\\nme\xc3('       # exec'd through a symlink so named


def require_root():
    if os.geteuid() != 0:
        skip("needs root: other users' smaps_rollup is unreadable otherwise")


def config_file(directory, **process_keys):
    lines = ["collectors:", "  process:"] + ["    %s: %s" % kv for kv in process_keys.items()]
    return write(os.path.join(directory, "config.yml"), "\n".join(lines) + "\n")


def run_once(*args, preexec=None):
    result = subprocess.run([BINARY, "--once"] + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=preexec, timeout=120)
    check(result.returncode == 0, "--once exited with %d: %s" % (result.returncode, result.stderr))
    return result.stdout, result.stderr.decode(errors="replace")


def process_ok(text):
    return sample(text, "memledger_scrape_collector_success", '{collector="process"}') == 1


def states(text):
    return {state: sample(text, "memledger_processes", '{state="%s"}' % state)
            for state in ("measured", "cached", "budget_exceeded", "unreadable", "vanished")}


class Children:
    """Processes this test starts, stopped by pid however the test ends."""

    def __init__(self):
        self.processes = []

    def start(self, argv, **kwargs):
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, **kwargs)
        self.processes.append(p)
        return p

    def python(self, code):
        return self.start([sys.executable, "-c", code])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.processes:
            if p.poll() is None:
                p.kill()
            p.wait()


def wait_for_comm(pid, comm, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/comm" % pid, "rb") as f:
                if f.read().rstrip(b"\n") == comm:
                    return
        except OSError:
            pass
        time.sleep(0.02)
    fail("process %d never took the name %r" % (pid, comm))


def renamed_sleeper(children, comm):
    code = ("import ctypes,time\n"
            "ctypes.CDLL(None).prctl(%d, %r, 0, 0, 0)\n"
            "time.sleep(600)\n" % (PR_SET_NAME, comm))
    p = children.python(code)
    wait_for_comm(p.pid, comm)
    return p


def test_smem():
    require_root()
    smem = require_binary("smem")
    with Daemon() as daemon:
        for attempt in range(1, 4):
            before = sample(get(daemon.port).text(), "memledger_processes_pss_bytes")
            proc = subprocess.Popen([smem, "-H", "-c", "pid pss"], stdout=subprocess.PIPE)
            out, _ = proc.communicate(timeout=120)
            smem_bytes = 1024 * sum(int(line.split()[1]) for line in out.decode().splitlines()
                                    if int(line.split()[0]) != proc.pid)
            after = sample(get(daemon.port).text(), "memledger_processes_pss_bytes")
            exporter = (before + after) / 2
            difference = abs(exporter - smem_bytes) / smem_bytes
            print("attempt %d: exporter %.1f MiB (%.1f before smem, %.1f after), smem %.1f MiB, "
                  "difference %.2f%%" % (attempt, exporter / 2**20, before / 2**20, after / 2**20,
                                         smem_bytes / 2**20, 100 * difference))
            if difference <= 0.03:
                return
            time.sleep(2)  # the host was busy: measure again
    fail("total PSS differs from smem's by more than 3% three times")


def test_hostile():
    require_root()
    require_binary("promtool")
    directory = workdir()
    link = os.path.join(directory.encode(), HOSTILE_LINK)
    os.symlink(shutil.which("sleep").encode(), link)
    with Children() as children:
        renamed_sleeper(children, HOSTILE_COMM)
        linked = children.start([link, "600"])
        wait_for_comm(linked.pid, HOSTILE_LINK)
        raw, log = run_once("--config.file=" + config_file(directory, top_groups=100000))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        fail("the exposition is not valid UTF-8: %s" % e)
    check(process_ok(text), "the process collector failed: " + log)
    rc, lint = promtool_check(text)
    check(rc == 0 and lint == "", "promtool check metrics (rc %d):\n%s" % (rc, lint))
    for escaped in ('q\\"u\\\\o\\nt\ufffd\ufffd)(x', 'ev\\"il\\\\\\nme\ufffd('):
        label = 'memledger_process_group_processes{group="%s"}' % escaped
        check(label in text, "no series %s in:\n%s" % (label, "\n".join(
            line for line in text.splitlines() if line.startswith("memledger_process_group"))))
    print("hostile names exported as escaped, valid UTF-8 labels; promtool is silent")


def test_churn(config_args=()):
    require_root()
    stop = threading.Event()
    spawned = [0]

    def churn(argv):
        while not stop.is_set():
            subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            spawned[0] += 1

    # Short-lived processes of several shapes: exec'd binaries, shells forking children
    # that exit at once, and processes living a few milliseconds.
    shapes = (["true"], ["sh", "-c", "true & true & wait"], ["sleep", "0.003"])
    threads = [threading.Thread(target=churn, args=(argv,)) for argv in shapes]
    for t in threads:
        t.start()
    failures, vanished, scrapes = 0, 0, 50
    try:
        with Daemon(*config_args) as daemon:
            for _ in range(scrapes):
                text = get(daemon.port).text()
                if not process_ok(text):
                    failures += 1
                vanished += states(text)["vanished"] or 0
            log = daemon.log()
    finally:
        stop.set()
        for t in threads:
            t.join()
    print("%d scrapes while %d short-lived processes ran: %d collector failures, "
          "%d processes seen vanishing" % (scrapes, spawned[0], failures, vanished))
    check(failures == 0, "the process collector failed during churn:\n" + log)
    check("collector=process" not in log, "the churn was logged:\n" + log)
    check(spawned[0] > scrapes, "too little churn to prove anything")


def test_nonroot(config_args=()):
    require_root()  # to become nobody
    nobody = 65534

    def drop():
        os.setgroups([])
        os.setgid(nobody)
        os.setuid(nobody)

    if subprocess.run(["test", "-x", BINARY], preexec_fn=drop).returncode != 0:
        skip("nobody cannot execute " + BINARY)
    with Children() as children:
        for _ in range(20):  # root's processes, whose smaps_rollup nobody may not read
            children.start(["sleep", "600"])
        raw, log = run_once("--no-collector.slab", "--no-collector.vmalloc", *config_args,
                            preexec=drop)
    text = raw.decode()
    counted = states(text)
    print("as nobody: %s; stderr %d line(s)" % (counted, len(log.splitlines())))
    check(process_ok(text), "the process collector failed as nobody:\n" + log)
    check(counted["unreadable"] >= 20, "root's processes were not counted as unreadable")
    check(sample(text, "memledger_processes_unmeasured_rss_bytes") > 0, "no unmeasured RSS")
    check("collector=process" not in log, "the process collector logged as nobody:\n" + log)


def test_budget():
    require_root()
    directory = workdir()
    big = ("import ctypes,mmap,time\n"
           "ctypes.CDLL(None).prctl(%d, b'mlbig', 0, 0, 0)\n"
           "m = mmap.mmap(-1, 2 << 30)\n"
           "m.madvise(mmap.MADV_NOHUGEPAGE)\n"
           "chunk = b'x' * (64 << 20)\n"
           "for i in range(0, 2 << 30, 64 << 20): m[i:i + (64 << 20)] = chunk\n"
           "open('%s/ready', 'w').close()\n"
           "time.sleep(600)\n" % (PR_SET_NAME, directory))
    budget = 0.003
    with Children() as children:
        children.python(big)
        for _ in range(300):
            children.start(["sleep", "600"])
        deadline = time.monotonic() + 60
        while not os.path.exists(os.path.join(directory, "ready")):
            check(time.monotonic() < deadline, "the 2 GiB process did not get ready")
            time.sleep(0.05)
        tight = config_file(directory, smaps_budget_seconds=budget, top_groups=100000)
        text = run_once("--config.file=" + tight)[0].decode()
        read_seconds = sample(text, "memledger_process_smaps_read_seconds")
        counted = states(text)
        print("budget %.3f s: read %.4f s; %s" % (budget, read_seconds, counted))
        check(process_ok(text), "the process collector failed")
        # Only a read in progress may overrun, and reads are short once the big one,
        # predicted to take longer than the whole budget, is skipped.
        check(read_seconds <= budget + 0.02, "the budget did not hold")
        check(counted["budget_exceeded"] >= 1, "the budget was never exhausted")
        check(sample(text, "memledger_process_memory_bytes", '{group="mlbig",kind="pss"}') is None,
              "the 2 GiB process was read within a 3 ms budget")
        check(sample(text, "memledger_process_memory_bytes", '{group="mlbig",kind="rss"}') >= 2 << 30,
              "the 2 GiB process's RSS is missing")

        text = run_once("--config.file=" + config_file(directory, top_groups=100000))[0].decode()
        print("default budget: read %.4f s, %s" % (
            sample(text, "memledger_process_smaps_read_seconds"), states(text)))
        check(sample(text, "memledger_process_memory_bytes", '{group="mlbig",kind="pss"}') >= 2 << 30,
              "with the default budget the 2 GiB process's PSS is missing")


PAGEMAP_VICTIM = r"""
import ctypes, mmap, os, sys, tempfile, time
libc = ctypes.CDLL(None)
MiB = 1 << 20
PRIVATE = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS  # python's default is MAP_SHARED: shmem
def name(comm):
    libc.prctl(%(PR_SET_NAME)d, comm, 0, 0, 0)
def fork():
    pid = os.fork()
    if pid == 0:
        libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL: dies with the test's child
    return pid
def touch(m, size, value=1):
    for i in range(0, size, 4096):
        m[i] = value
kind = sys.argv[1]
if kind == "anon":
    name(b"mlpm_anon"); m = mmap.mmap(-1, 64 * MiB, flags=PRIVATE); m.madvise(mmap.MADV_NOHUGEPAGE); touch(m, 64 * MiB)
elif kind == "cow":
    m = mmap.mmap(-1, 64 * MiB, flags=PRIVATE); m.madvise(mmap.MADV_NOHUGEPAGE); touch(m, 64 * MiB)
    name(b"mlpm_cow")
    if fork() == 0:
        touch(m, 16 * MiB, 2)  # a quarter copied, the rest shared with the parent
elif kind == "file":
    name(b"mlpm_file")
    f = tempfile.TemporaryFile(dir=sys.argv[2]); f.write(b"y" * (32 * MiB)); f.flush()
    m = mmap.mmap(f.fileno(), 32 * MiB, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
    sum(m[i] for i in range(0, 32 * MiB, 4096))
    if fork() == 0:
        sum(m[i] for i in range(0, 16 * MiB, 4096))  # half the file mapped twice
elif kind == "shmem":
    name(b"mlpm_shmem")
    fd = os.memfd_create("mlpm"); os.ftruncate(fd, 32 * MiB)
    m = mmap.mmap(fd, 32 * MiB, flags=mmap.MAP_SHARED); touch(m, 32 * MiB)
    if fork() == 0:
        touch(m, 8 * MiB, 2)
elif kind == "thp":
    name(b"mlpm_thp")
    m = mmap.mmap(-1, 66 * MiB, flags=PRIVATE); m.madvise(mmap.MADV_HUGEPAGE); touch(m, 66 * MiB)
elif kind == "hugetlb":
    name(b"mlpm_hugetlb")
    MAP_HUGETLB = 0x40000
    private = mmap.mmap(-1, 8 * MiB, flags=PRIVATE | MAP_HUGETLB); touch(private, 8 * MiB)
    shared = mmap.mmap(-1, 4 * MiB, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS | MAP_HUGETLB)
    touch(shared, 4 * MiB)
    m = mmap.mmap(-1, 16 * MiB, flags=PRIVATE); touch(m, 16 * MiB)  # what smaps does count
    if fork() == 0:
        touch(shared, 4 * MiB, 2)
elif kind == "swap":
    name(b"mlpm_swap")
    m = mmap.mmap(-1, 64 * MiB, flags=PRIVATE); m.madvise(mmap.MADV_NOHUGEPAGE); touch(m, 64 * MiB)
    libc.madvise(ctypes.c_void_p(ctypes.addressof(ctypes.c_char.from_buffer(m))), ctypes.c_size_t(32 * MiB),
                 21)  # MADV_PAGEOUT (5.4+): half of it to swap
open(os.path.join(sys.argv[2], kind + "." + str(os.getpid())), "w").close()
time.sleep(600)
""" % {"PR_SET_NAME": PR_SET_NAME}

ROLLUP_KINDS = {"rss": ("Rss",), "pss": ("Pss",), "pss_anon": ("Pss_Anon",), "pss_file": ("Pss_File",),
                "pss_shmem": ("Pss_Shmem",), "uss": ("Private_Clean", "Private_Dirty"), "swap": ("Swap",)}


def rollup_sums(comm):
    """smaps_rollup summed over the processes named comm, in bytes per exported kind."""
    sums = dict.fromkeys(ROLLUP_KINDS, 0)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % entry, "rb") as f:
                if f.read().rstrip(b"\n") != comm:
                    continue
            with open("/proc/%s/smaps_rollup" % entry) as f:
                fields = dict((line.split(":")[0], int(line.split()[1]) * 1024)
                              for line in f if line.endswith("kB\n"))
        except OSError:
            continue
        for kind, names in ROLLUP_KINDS.items():
            sums[kind] += sum(fields.get(n, 0) for n in names)
    return sums


def reserve_hugepages(machine, count):
    """Adds count persistent hugepages of the default size until the test ends."""
    path = "/proc/sys/vm/nr_hugepages"
    try:
        with open(path) as f:
            before = int(f.read())
        write(path, str(before + count))
        machine.callback(write, path, str(before))
        with open(path) as f:
            if int(f.read()) >= before + count:
                return True
    except OSError as e:
        print("hugetlb pages not exercised: %s: %s" % (path, e))
        return False
    print("hugetlb pages not exercised: the kernel could not reserve %d more" % count)
    return False


def enable_swap(machine, directory):
    """A 256 MiB swap file in directory until the test ends (unless there is swap)."""
    with open("/proc/swaps") as f:
        if len(f.read().splitlines()) > 1:
            return True
    path = os.path.join(directory, "swapfile")
    try:
        with open(path, "wb") as f:
            os.posix_fallocate(f.fileno(), 0, 256 << 20)
        os.chmod(path, 0o600)
        subprocess.run(["mkswap", path], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        subprocess.run(["swapon", path], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except (OSError, subprocess.CalledProcessError) as e:
        print("swapped pages not exercised: no swap, and no swap file could be enabled: %s" % (
            e.stderr.decode(errors="replace").strip() if isinstance(e, subprocess.CalledProcessError) else e))
        return False
    machine.callback(lambda: subprocess.run(["swapoff", path], check=True))
    return True


def test_pagemap_accuracy():
    require_root()
    if not os.access("/proc/kpagecount", os.R_OK):
        skip("no readable /proc/kpagecount (CONFIG_PROC_PAGE_MONITOR)")
    directory = workdir()
    kinds = ["anon", "cow", "file", "shmem"]
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            if "[never]" not in f.read():
                kinds.append("thp")
    except OSError:
        pass
    with contextlib.ExitStack() as machine, Children() as children:
        if reserve_hugepages(machine, 8):
            kinds.append("hugetlb")
        if enable_swap(machine, directory):
            kinds.append("swap")
        for kind in kinds:
            children.start([sys.executable, "-c", PAGEMAP_VICTIM, kind, directory])
        deadline = time.monotonic() + 60
        forks = 3 + ("hugetlb" in kinds)
        while len([n for n in os.listdir(directory) if "." in n]) < len(kinds) + forks:
            check(time.monotonic() < deadline, "the victims did not get ready")
            time.sleep(0.05)
        # Every process through pagemap (small ones cost more so): a budget that never binds.
        config = config_file(directory, pagemap_min_rss_bytes=0, top_groups=100000,
                             smaps_budget_seconds=60)
        for attempt in range(1, 4):
            before = {kind: rollup_sums(b"mlpm_" + kind.encode()) for kind in kinds}
            text, log = run_once("--config.file=" + config)
            text = text.decode()
            after = {kind: rollup_sums(b"mlpm_" + kind.encode()) for kind in kinds}
            check(process_ok(text), "the process collector failed: " + log)
            check(sample(text, "memledger_process_pagemap_reads") > 0, "pagemap was never read")
            worst = 0.0
            for kind in kinds:
                for field in ROLLUP_KINDS:
                    got = sample(text, "memledger_process_memory_bytes",
                                 '{group="mlpm_%s",kind="%s"}' % (kind, field)) or 0
                    want = (before[kind][field] + after[kind][field]) / 2
                    # Page-table pages and python's own heap move a little between reads.
                    error = abs(got - want) / max(want, 4 << 20)
                    worst = max(worst, error)
                    print("attempt %d %-6s %-9s pagemap %9.2f MiB smaps_rollup %9.2f MiB (%.2f%%)" % (
                        attempt, kind, field, got / 2**20, want / 2**20, 100 * error))
            if worst <= 0.02:
                return
        fail("pagemap figures differ from smaps_rollup's by more than 2%% (worst %.2f%%)" % (100 * worst))


def pagemap_config():
    directory = workdir()
    os.chmod(directory, 0o755)  # readable by nobody too
    return ("--config.file=" + config_file(directory, pagemap_min_rss_bytes=0),)


TESTS = {"smem": test_smem, "hostile": test_hostile, "churn": test_churn,
         "nonroot": test_nonroot, "budget": test_budget,
         "pagemap_accuracy": test_pagemap_accuracy,
         "pagemap_churn": lambda: test_churn(pagemap_config()),
         "pagemap_nonroot": lambda: test_nonroot(pagemap_config())}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in TESTS:
        fail("usage: process_live_test.py {%s}" % "|".join(TESTS))
    TESTS[sys.argv[1]]()
