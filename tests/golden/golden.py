#!/usr/bin/env python3
"""Golden expositions: the exporter's whole output on fixture hosts, compared with files.

    golden.py check  --exporter BIN HOST   compare with tests/golden/HOST.prom (unified diff)
    golden.py update --exporter BIN [HOST...]   rewrite the .prom files (`make golden`)
    golden.py lint   [HOST...]             `promtool check metrics` on the .prom files

A HOST is a directory tests/fixtures/hosts/HOST/{proc,sys} (README.md there says where
each came from). The exporter runs as
    BIN --once --config.file=tests/golden/golden.yml --path.procfs=HOST/proc --path.sysfs=HOST/sys
twice; the families in VOLATILE are removed, and what is left must be the same both times
(a new clock- or machine-dependent series fails here, naming itself, until it is listed
below or made deterministic) and equal to the checked-in file. Every VOLATILE family must
still appear in some host's output (checked by update), so that the list cannot go
stale silently.
"""
import argparse
import difflib
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
HOSTS = os.path.join(SOURCE, "tests", "fixtures", "hosts")
CONFIG = os.path.join(HERE, "golden.yml")
SKIP = 77

# The only series removed before comparing: each depends on the clock, the build or the
# process's history, not on the files read.
VOLATILE = {
    "memledger_scrape_collector_duration_seconds": "time each collector took",
    "memledger_build_info": "version and git revision of the build",
    "memledger_scrape_requests_total": "requests since the daemon started",
    "memledger_scrape_collections_total": "collections since the daemon started",
    "memledger_config_last_reload_success_timestamp_seconds": "wall-clock time of the load",
    "memledger_process_smaps_read_seconds": "time the smaps_rollup reads took",
    "memledger_process_smaps_cache_age_seconds": "steady-clock age of cached figures",
    "memledger_shmem_open_files_scan_age_seconds": "steady-clock age of the fd scan",
}

# Every fixture counts in 4 KiB pages (x86_64); the exporter takes the page size from
# sysconf, so on a 64 KiB-page machine every page-derived figure would differ.
FIXTURE_PAGE_SIZE = 4096


def family_of(line, current):
    """The metric family a line of the text exposition belongs to."""
    if line.startswith("# HELP ") or line.startswith("# TYPE "):
        return line.split(" ", 3)[2]
    if line.startswith("#") or not line.strip():
        return current
    return line.split("{", 1)[0].split(" ", 1)[0]


def filter_volatile(exposition):
    """The exposition without the VOLATILE families, and the set of those it held."""
    kept, seen, current = [], set(), None
    for line in exposition.splitlines(keepends=True):
        current = family_of(line, current)
        if current in VOLATILE:
            seen.add(current)
        else:
            kept.append(line)
    return "".join(kept), seen


def run_exporter(exporter, host):
    tree = os.path.join(HOSTS, host)
    command = [exporter, "--once", f"--config.file={CONFIG}",
               f"--path.procfs={tree}/proc", f"--path.sysfs={tree}/sys"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr}")
    return result.stdout


def deterministic_exposition(exporter, host):
    """The filtered exposition and the VOLATILE families it held; exits with an
    explanation if two runs disagree."""
    first, seen = filter_volatile(run_exporter(exporter, host))
    second, _ = filter_volatile(run_exporter(exporter, host))
    if first != second:
        diff = "".join(difflib.unified_diff(first.splitlines(True), second.splitlines(True),
                                            "first run", "second run"))
        sys.exit(f"{host}: two runs on the same files differ; make these series deterministic "
                 f"or add their families to VOLATILE in {__file__}:\n{diff}")
    return first, seen


def golden_path(host):
    return os.path.join(HERE, f"{host}.prom")


def all_hosts():
    return sorted(d for d in os.listdir(HOSTS) if os.path.isdir(os.path.join(HOSTS, d)))


def check(exporter, host):
    expected_path = golden_path(host)
    with open(expected_path) as f:
        expected = f.read()
    actual, _ = deterministic_exposition(exporter, host)
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            os.path.relpath(expected_path, SOURCE), "exporter output"))
        sys.exit(f"{host}: the exposition differs from the golden file (if the change is "
                 f"intended, `make golden` regenerates it; review the diff before committing):\n{diff}")
    print(f"{host}: {len(expected.splitlines())} lines as expected")


def update(exporter, hosts):
    # A family may be absent from one host (its collector fails there), not from all.
    seen_anywhere = set()
    for host in hosts:
        exposition, seen = deterministic_exposition(exporter, host)
        seen_anywhere |= seen
        with open(golden_path(host), "w") as f:
            f.write(exposition)
        print(f"wrote {os.path.relpath(golden_path(host), SOURCE)}")
    stale = sorted(set(VOLATILE) - seen_anywhere)
    if stale and set(hosts) == set(all_hosts()):
        sys.exit(f"VOLATILE in {__file__} lists families no host's exposition holds: {stale}")


def lint(hosts):
    promtool = shutil.which("promtool")
    if not promtool:
        print("promtool not found (Debian package prometheus): skipped")
        sys.exit(SKIP)
    failed = False
    for host in hosts:
        with open(golden_path(host)) as f:
            result = subprocess.run([promtool, "check", "metrics"], stdin=f,
                                    capture_output=True, text=True)
        if result.returncode != 0 or result.stdout.strip() or result.stderr.strip():
            print(f"{host}: promtool check metrics:\n{result.stdout}{result.stderr}")
            failed = True
        else:
            print(f"{host}: promtool check metrics clean")
    sys.exit(1 if failed else 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=["check", "update", "lint"])
    parser.add_argument("--exporter", help="the memledger_exporter binary (check, update)")
    parser.add_argument("hosts", nargs="*", help="directories under tests/fixtures/hosts (default: all)")
    args = parser.parse_intermixed_args()
    hosts = args.hosts or all_hosts()
    unknown = [h for h in hosts if not os.path.isdir(os.path.join(HOSTS, h))]
    if unknown:
        parser.error(f"no such fixture host: {unknown}")
    if args.mode == "lint":
        lint(hosts)
    if not args.exporter:
        parser.error("--exporter is required for check and update")
    page_size = os.sysconf("SC_PAGE_SIZE")
    if page_size != FIXTURE_PAGE_SIZE:
        message = f"this machine's page size is {page_size}, the fixtures' {FIXTURE_PAGE_SIZE}"
        if args.mode == "update":
            sys.exit(f"{message}: regenerate on a 4 KiB-page machine")
        print(f"{message}: skipped")
        sys.exit(SKIP)
    if args.mode == "update":
        update(args.exporter, hosts)
    else:
        for host in hosts:
            check(args.exporter, host)


if __name__ == "__main__":
    main()
