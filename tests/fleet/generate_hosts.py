#!/usr/bin/env python3
"""Simulated hosts for the fleet test: procfs/sysfs trees generated from a few templates.

Every host is a copy of a template (a whole /proc and /sys fixture captured from a real
kernel) whose /proc/meminfo the generator edits in ways whose effect on the ledger is
known exactly:
  - size: MemTotal and MemFree both grow by the same amount (a bigger host, same
    unexplained bytes, a smaller unexplained share);
  - leak: MemFree shrinks by the leaked amount and nothing else changes, so every
    method's unexplained grows by exactly that much (the black hole: pages that no
    counter records);
  - balloon: the Balloon line (6.15+) takes memory from MemFree; with virtio
    deflate-on-OOM the balloon stays inside MemTotal and is its own ledger category, so
    unexplained does not change;
  - tmpfs growth: files written to a tmpfs move memory from MemFree to Shmem, which the
    kernel counts in Cached and on the anon LRU (mm/shmem.c), so unexplained does not
    change either.
A host's /proc/meminfo is replaced atomically (rename) at each step, so a scrape sees
one step or the next, never half of one.

Usage as a script: generate_hosts.py OUTPUT_DIR [HOSTS] writes the trees at step 0 and
prints the host table as JSON.
"""
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(HERE), "fixtures")
KIB = 1024
GIB = 1024 ** 3

# name: (tree, collectors to disable because the capture lacks their files); the whole
# hosts of tests/fixtures/hosts/ (see its README).
HOSTS_DIR = os.path.join(FIXTURES, "hosts")
TEMPLATES = {
    # This project's VM: Linux 6.18 on Firecracker, a virtio balloon (deflate-on-OOM).
    "linux-6.18-firecracker": (os.path.join(HOSTS_DIR, "linux-6.18-firecracker"), []),
    # CentOS 7 (3.10) with a VMware balloon: no vmstat, no mountinfo.
    "linux-3.10-vmware": (os.path.join(HOSTS_DIR, "linux-3.10-vmware"), ["lru", "shmem"]),
    # Two NUMA nodes, 2 MiB and 1 GiB huge page pools: no buddyinfo, no mountinfo.
    "two-nodes-two-hugepage-sizes": (os.path.join(HOSTS_DIR, "two-nodes-two-hugepage-sizes"),
                                     ["buddyinfo", "shmem"]),
}
# Collectors that read the running system rather than the trees (every process's files,
# the cgroup hierarchy, page frames) or cost more than a simulated host needs.
ALWAYS_DISABLED = ["process", "cgroup", "pagecensus"]


class Host:
    """One simulated host. Shares are of the template's MemTotal plus `extra_total`."""

    def __init__(self, name, template, extra_total=0, leak=0, leak_per_step=0,
                 balloon=0, tmpfs_per_step=0, broken_slabinfo=False):
        self.name = name
        self.template = template
        self.extra_total = extra_total
        self.leak = leak
        self.leak_per_step = leak_per_step
        self.balloon = balloon
        self.tmpfs_per_step = tmpfs_per_step
        self.broken_slabinfo = broken_slabinfo

    @property
    def leaking(self):
        return self.leak_per_step > 0

    def added_unexplained(self, step):
        """Bytes this host's edits add to the template's unexplained at `step`."""
        return self.leak + self.leak_per_step * step

    def collector_flags(self):
        disabled = ALWAYS_DISABLED + TEMPLATES[self.template][1]
        return ["--no-collector." + c for c in disabled]

    def as_dict(self):
        return dict(vars(self), leaking=self.leaking)


def fleet(count=50):
    """The fleet of the test: `count` hosts, three of them leaking, one ballooned, one
    growing a tmpfs, one with an unparsable /proc/slabinfo. Host sizes and the small
    unexplained amounts differ from host to host so that the quantiles have something to
    interpolate."""
    names = list(TEMPLATES)
    hosts = []
    for i in range(count):
        template = names[i % len(names)]
        hosts.append(Host("host%02d" % i, template,
                          extra_total=(i % 7) * 2 * GIB,
                          leak=(i % 11) * 8 * 1024 * 1024))
    # The leaks, one per template: they start above every quiet host's share (under 3%)
    # and grow half a GiB a step.
    for i in (7, 21, 41):
        hosts[i].extra_total = 16 * GIB
        hosts[i].leak = 4 * GIB
        hosts[i].leak_per_step = GIB // 2
    hosts[12].template = "linux-6.18-firecracker"
    hosts[12].balloon = 4 * GIB
    hosts[12].leak = 0
    hosts[30].template = "linux-6.18-firecracker"
    hosts[30].tmpfs_per_step = 1 * GIB
    hosts[30].leak = 0
    hosts[45].template = "linux-6.18-firecracker"
    hosts[45].broken_slabinfo = True
    return hosts


def parse_meminfo(text):
    """[(key, value_kib or None, original line)] in file order."""
    fields = []
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        words = rest.split()
        fields.append((key, int(words[0]) if words and words[0].isdigit() else None, line))
    return fields


def render_meminfo(fields, values):
    lines = []
    for key, original, line in fields:
        if key in values and values[key] != original:
            unit = " kB" if line.rstrip().endswith("kB") else ""
            lines.append("%-16s%8d%s" % (key + ":", values[key], unit))
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def meminfo_at(template_text, host, step):
    fields = parse_meminfo(template_text)
    values = {k: v for k, v, _ in fields if v is not None}

    def move(key, bytes_):
        if key not in values:
            raise ValueError("template %s has no %s line" % (host.template, key))
        values[key] += bytes_ // KIB

    move("MemTotal", host.extra_total)
    move("MemFree", host.extra_total)
    move("MemFree", -host.added_unexplained(step))
    if host.balloon:
        move("MemFree", -host.balloon)
        move("Balloon", host.balloon)
    if host.tmpfs_per_step:
        grown = host.tmpfs_per_step * step
        move("MemFree", -grown)
        move("Shmem", grown)
        move("Cached", grown)
        move("Inactive(anon)", grown)
        move("Inactive", grown)
    if values["MemFree"] < 0:
        raise ValueError("%s: MemFree below 0 at step %d" % (host.name, step))
    return render_meminfo(fields, values)


def write_tree(root, host):
    """Copies the host's template under root/<name> and writes step 0."""
    tree = os.path.join(root, host.name)
    shutil.copytree(TEMPLATES[host.template][0], tree, symlinks=True)
    if host.broken_slabinfo:
        with open(os.path.join(tree, "proc", "slabinfo"), "w") as f:
            f.write("slabinfo - version: 2.1\nkmalloc-64 not numbers at all\n")
    set_step(root, host, 0)
    return tree


def set_step(root, host, step):
    """Replaces the host's /proc/meminfo with the one of `step`, atomically."""
    template = os.path.join(TEMPLATES[host.template][0], "proc", "meminfo")
    with open(template) as f:
        text = meminfo_at(f.read(), host, step)
    target = os.path.join(root, host.name, "proc", "meminfo")
    with open(target + ".next", "w") as f:
        f.write(text)
    os.rename(target + ".next", target)


def main(argv):
    root = argv[1]
    hosts = fleet(int(argv[2]) if len(argv) > 2 else 50)
    os.makedirs(root, exist_ok=True)
    for h in hosts:
        write_tree(root, h)
    json.dump([h.as_dict() for h in hosts], sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main(sys.argv)
