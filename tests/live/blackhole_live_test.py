"""Live tests of the blackhole collector on the running kernel (root; exit 77 = skipped).

    blackhole_live_test.py pipes     a process filling pipes after the daemon started is
                                     named, with its call site, for >= 80% of the bytes
    blackhole_live_test.py tcp       the same for unread loopback TCP queues
    blackhole_live_test.py freed     freed memory leaves the figures within one reconcile
    blackhole_live_test.py inactive  without BTF, or as nobody: inactive with its reason,
                                     the rest of the scrape unchanged

MEMLEDGER_BINARY names the exporter. Every process started here is stopped by its pid.
"""

import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
from e2e import BINARY, Daemon, check, fail, get, sample, skip, workdir, write  # noqa: E402

MIB = 1 << 20
RECONCILE_SECONDS = 2
# The filler: names itself (comm) through prctl, fills its memory, prints the bytes
# queued, then waits for its stdin to close and exits (freeing everything).
FILLER = r"""
import ctypes, fcntl, os, socket, sys
ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)
kind, target = sys.argv[2], int(sys.argv[3])
keep, queued = [], 0
if kind == "pipes":
    while queued < target:
        r, w = os.pipe()
        fcntl.fcntl(w, 1031, 1 << 20)  # F_SETPIPE_SZ: 1 MiB, the default pipe-max-size
        os.set_blocking(w, False)
        try:
            while True:
                queued += os.write(w, b"x" * 65536)
        except BlockingIOError:
            pass
        keep.append((r, w))
else:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(512)
    while queued < target and len(keep) < 400:
        client = socket.create_connection(server.getsockname())
        peer, _ = server.accept()  # never read: the data stays queued
        client.setblocking(False)
        try:
            while True:
                queued += client.send(b"x" * 65536)
        except BlockingIOError:
            pass
        keep.append((client, peer))
print(queued, flush=True)
sys.stdin.read()
"""


def require_tracer_prerequisites():
    if os.geteuid() != 0:
        skip("needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, CAP_SYSLOG)")
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        skip("the kernel has no BTF (/sys/kernel/btf/vmlinux)")


def config(directory, **keys):
    lines = ["collectors:", "  blackhole:"] + ["    %s: %s" % kv for kv in keys.items()]
    return write(os.path.join(directory, "config.yml"), "\n".join(lines) + "\n")


def scrape(daemon):
    response = get(daemon.port)
    check(response.status == 200, "scrape returned %d" % response.status)
    return response.text()


def wait_active(daemon):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = scrape(daemon)
        if sample(text, "memledger_blackhole_tracer_active") == 1 and \
                sample(text, "memledger_blackhole_reconcile_passes_total") >= 1:
            return
        time.sleep(0.5)
    fail("tracer not active after 30 s:\n" + scrape(daemon) + daemon.log())


def series(text, group):
    """{site: bytes} of memledger_blackhole_bytes for one group."""
    out = {}
    for site, g, value in re.findall(r'^memledger_blackhole_bytes\{site="([^"]*)",group="([^"]*)"\} (\S+)$',
                                     text, re.MULTILINE):
        if g == group:
            out[site] = out.get(site, 0) + float(value)
    return out


def start_filler(name, kind, target):
    process = subprocess.Popen([sys.executable, "-c", FILLER, name, kind, str(target)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.strip():
        process.kill()
        fail("the %s filler failed" % kind)
    return process, int(line)


def stop_filler(process):
    process.stdin.close()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_named(daemon, group, site, queued):
    """Waits for the reconcile after the fill; returns the group's bytes at `site`."""
    deadline = time.monotonic() + 4 * RECONCILE_SECONDS + 10
    bytes_at_site = 0
    while time.monotonic() < deadline:
        text = scrape(daemon)
        bytes_at_site = series(text, group).get(site, 0)
        if bytes_at_site >= 0.8 * queued:
            return bytes_at_site, text
        time.sleep(0.5)
    fail("group %s has %.1f MiB at %s, want >= 80%% of %.1f MiB queued:\n%s" % (
        group, bytes_at_site / MIB, site, queued / MIB,
        "\n".join(l for l in scrape(daemon).splitlines() if l.startswith("memledger_blackhole"))))


def scenario_fill(kind, site, target):
    require_tracer_prerequisites()
    directory = workdir()
    group = "bh_" + kind + "fill"
    with Daemon("--config.file=" + config(directory, reconcile_interval_seconds=RECONCILE_SECONDS)) as daemon:
        wait_active(daemon)
        filler, queued = start_filler(group, kind, target)
        try:
            named, text = wait_named(daemon, group, site, queued)
            ratio = sample(text, "memledger_blackhole_unexplained_ratio")
            print("%s: %.1f MiB queued, %.1f MiB named %s{%s}; tracked/unexplained %s" % (
                kind, queued / MIB, named / MIB, site, group, ratio))
            check(sample(text, "memledger_scrape_collector_success", '{collector="blackhole"}') == 1,
                  "collector failed")
        finally:
            stop_filler(filler)
        return daemon


def scenario_freed():
    require_tracer_prerequisites()
    directory = workdir()
    group = "bh_freed"
    with Daemon("--config.file=" + config(directory, reconcile_interval_seconds=RECONCILE_SECONDS)) as daemon:
        wait_active(daemon)
        filler, queued = start_filler(group, "pipes", 64 * MIB)
        try:
            wait_named(daemon, group, "anon_pipe_write", queued)
        finally:
            stop_filler(filler)
        freed_at = time.monotonic()
        # Within one reconcile period after the next pass starts.
        deadline = freed_at + RECONCILE_SECONDS + 3
        left = None
        while time.monotonic() < deadline:
            left = sum(series(scrape(daemon), group).values())
            if left < 0.01 * queued:
                print("freed: %.1f MiB gone %.1f s after the filler exited" % (
                    queued / MIB, time.monotonic() - freed_at))
                return
            time.sleep(0.2)
        fail("%.1f MiB of %.1f MiB still attributed %d s after the pages were freed" % (
            left / MIB, queued / MIB, RECONCILE_SECONDS + 3))


def family_names(text):
    return {m for m in re.findall(r"^# TYPE (\S+)", text, re.MULTILINE)}


def run_once(*args, wrapper=()):
    result = subprocess.run(list(wrapper) + [BINARY, "--once"] + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=120)
    check(result.returncode == 0, "--once exited with %d: %s" % (result.returncode, result.stderr))
    return result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")


def check_inactive(reason, args, wrapper=()):
    text, _ = run_once(*args, wrapper=wrapper)
    check(sample(text, "memledger_blackhole_tracer_active") == 0, "tracer active:\n" + text)
    check(sample(text, "memledger_blackhole_tracer_inactive_reason", '{reason="%s"}' % reason) == 1,
          "no reason %s:\n%s" % (reason, "\n".join(l for l in text.splitlines() if "blackhole" in l)))
    check(sample(text, "memledger_scrape_collector_success", '{collector="blackhole"}') == 1,
          "an inactive tracer must not fail the collector")
    without, _ = run_once(*(list(args) + ["--no-collector.blackhole"]), wrapper=wrapper)
    tracer_families = {"memledger_blackhole_tracer_active", "memledger_blackhole_tracer_inactive_reason"}
    check(family_names(text) - tracer_families == family_names(without),
          "the rest of the scrape changed: %s" % (family_names(text) ^ family_names(without)))
    collectors = lambda t: set(re.findall(r'^memledger_scrape_collector_success\{collector="([^"]+)"\} 1', t, re.M))
    check(collectors(text) - {"blackhole"} == collectors(without), "other collectors' outcomes changed")
    print("inactive (%s): reported, the other %d families unchanged" % (reason, len(family_names(without))))


def scenario_inactive():
    if os.geteuid() != 0:
        skip("needs root to run the daemon as nobody and as root")
    directory = workdir()
    # A sysfs without kernel/btf/vmlinux: the collectors reading sysfs fail alike in both
    # runs compared.
    check_inactive("no_btf", ["--path.sysfs=" + os.path.join(directory, "sys-without-btf")])
    setpriv = shutil.which("setpriv")
    if not setpriv:
        skip("setpriv (util-linux) is not installed")
    check_inactive("no_privileges", [], wrapper=[setpriv, "--reuid=nobody", "--regid=nogroup",
                                                 "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"])


def main():
    scenarios = {
        "pipes": lambda: scenario_fill("pipes", "anon_pipe_write", 200 * MIB),
        "tcp": lambda: scenario_fill("tcp", "skb_page_frag_refill", 200 * MIB),
        "freed": scenario_freed,
        "inactive": scenario_inactive,
    }
    if len(sys.argv) != 2 or sys.argv[1] not in scenarios:
        fail("usage: blackhole_live_test.py " + "|".join(scenarios))
    scenarios[sys.argv[1]]()


if __name__ == "__main__":
    main()
