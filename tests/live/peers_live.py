#!/usr/bin/python3
"""Cross-checks memledger's figures against its peers on this host (exit 77 = skipped).

- meminfo: every field node_exporter's meminfo collector reports must agree with
  memledger_meminfo_bytes (exactly for fixed fields, within a small drift for live ones);
- slab: the slab series must sum to within 10% of meminfo's Slab;
- ledger: each method's categories sum to MemTotal exactly.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

EXPORTER = sys.argv[1]
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
# Fields that do not change while the host runs.
FIXED = {"MemTotal", "SwapTotal", "VmallocTotal", "Hugepagesize", "CommitLimit",
         "DirectMap4k", "DirectMap2M", "DirectMap1G", "HugePages_Total"}


def parse(text):
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise SystemExit(f"unparsable exposition line: {line!r}")
        samples.append((m.group(1), dict(LABEL.findall(m.group(3) or "")), float(m.group(4))))
    return samples


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bracketed_by_node_exporter():
    """node_exporter's meminfo before and after memledger's scrape, and memledger's."""
    binary = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if not binary:
        print("skip: node_exporter is not installed (Debian package prometheus-node-exporter)")
        sys.exit(77)
    port = free_port()
    proc = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}",
                             "--collector.disable-defaults", "--collector.meminfo"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def scrape():
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    return parse(r.read().decode())
            except OSError:
                time.sleep(0.1)
        raise SystemExit("node_exporter did not answer")
    try:
        before = scrape()
        ours = memledger_once()
        after = scrape()
        return before, ours, after
    finally:
        proc.terminate()
        proc.wait()


def memledger_once():
    out = subprocess.run([EXPORTER, "--once"], check=True, capture_output=True, text=True)
    return parse(out.stdout)


def main():
    if os.geteuid() != 0:
        print("skip: needs root to read /proc/slabinfo and /proc/vmallocinfo")
        return 77
    before, ours, after = bracketed_by_node_exporter()
    peer_after = {name: value for name, _, value in after}
    failures = 0

    mine = {}
    for name, labels, value in ours:
        if name in ("memledger_meminfo_bytes", "memledger_meminfo_hugepages"):
            mine[re.sub(r"[()]", "_", labels["field"]).rstrip("_")] = value
    compared = 0
    for name, _, value in before:
        if not name.startswith("node_memory_"):
            continue
        field = re.sub(r"_(bytes|total)$", "", name[len("node_memory_"):])
        if field not in mine:
            print(f"FAILED: node_exporter has {field}, memledger does not")
            failures += 1
            continue
        compared += 1
        if field in FIXED:
            ok = mine[field] == value
        else:  # a live counter: memledger's reading lies between node_exporter's two
            low, high = sorted((value, peer_after[name]))
            # memledger's own process is alive only during its read: its anon pages and
            # commit charge (tens of MiB more under AddressSanitizer) are in its figures.
            slack = (256 << 20) if field == "Committed_AS" else (64 << 20)
            ok = low - slack <= mine[field] <= high + slack
        if not ok:
            print(f"FAILED: {field}: memledger {mine[field]:.0f} vs node_exporter {value:.0f} / {peer_after[name]:.0f}")
            failures += 1
    print(f"meminfo: {compared} fields compared with node_exporter, {failures} disagree")

    slab_series = sum(v for n, _, v in ours if n == "memledger_slab_cache_bytes")
    slab_meminfo = next(v for n, l, v in ours if n == "memledger_meminfo_bytes" and l["field"] == "Slab")
    ratio = slab_series / slab_meminfo
    print(f"slab: series sum {slab_series / 2**20:.1f} MiB, meminfo Slab {slab_meminfo / 2**20:.1f} MiB, ratio {ratio:.3f}")
    if not 0.9 <= ratio <= 1.1:
        print("FAILED: slab series are not within 10% of meminfo Slab")
        failures += 1

    memtotal = mine["MemTotal"]
    methods = {}
    for name, labels, value in ours:
        if name == "memledger_ledger_bytes":
            methods[labels["method"]] = methods.get(labels["method"], 0) + value
    for method, total in sorted(methods.items()):
        print(f"ledger {method}: categories sum to {total:.0f}, MemTotal {memtotal:.0f}")
        if total != memtotal:
            print(f"FAILED: ledger method {method} does not balance")
            failures += 1
    if not {"lru", "cache"} <= methods.keys():
        print("FAILED: ledger methods lru and cache are missing")
        failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
