#!/usr/bin/env python3
"""What an unprivileged collection lost compared with root's.

  coverage_diff.py ROOT_EXPOSITION OTHER_EXPOSITION

Prints one line per loss and exits 1 if there is any: a collector that fails where it
succeeded as root, a ledger input replaced by its fallback, or a gauge counting what
could not be read (processes, mounts) above root's figure, or the blackhole tracer inactive
for a reason root's is not. Process counts get a slack
of PROCESS_SLACK: processes exiting between the two collections are counted too.
"""
import re
import sys

PROCESS_SLACK = 10
# sample (metric name and labels as exposed) -> slack
INCOMPLETENESS = {
    'memledger_processes{state="unreadable"}': PROCESS_SLACK,
    "memledger_shmem_unscanned_processes": PROCESS_SLACK,
    "memledger_tmpfs_unmeasured_mounts": 0,
}


def samples(path):
    out = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.rstrip("\n").rpartition(" ")
        out[name] = float(value)
    return out


def losses(root, other):
    found = []
    for name, value in sorted(other.items()):
        m = re.fullmatch(r'memledger_scrape_collector_success\{collector="([^"]+)"\}', name)
        if m and value == 0 and root.get(name) == 1:
            found.append(f"collector {m.group(1)} fails")
        if name.startswith("memledger_ledger_fallback{") and value == 1 and root.get(name) != 1:
            found.append(f"fallback {name}")
        if name.startswith("memledger_blackhole_tracer_inactive_reason{") and value == 1 and name not in root:
            found.append(f"blackhole tracer {name}")
    for name, slack in INCOMPLETENESS.items():
        if name in root and other.get(name, 0) > root[name] + slack:
            found.append(f"{name} {other[name]:g} (root {root[name]:g})")
    return found


def main():
    found = losses(samples(sys.argv[1]), samples(sys.argv[2]))
    for loss in found:
        print(loss)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
