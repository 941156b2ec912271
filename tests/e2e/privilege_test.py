#!/usr/bin/env python3
"""Least privilege: as user nobody every collector either succeeds or fails cleanly,
each failing collector logging exactly one line however many scrapes follow; and the
capabilities the README documents unlock what it says they unlock."""

import os
import re
import shutil
import subprocess

from e2e import BINARY, Daemon, check, get, promtool_check, require_binary, skip, workdir

if os.geteuid() != 0:
    skip("needs root to switch to user nobody")
setpriv = require_binary("setpriv")

# The build tree may sit where nobody cannot reach it: run a copy.
tmp = workdir()
os.chmod(tmp, 0o755)
binary = shutil.copy(BINARY, os.path.join(tmp, "memledger_exporter"))
os.chmod(binary, 0o755)


def as_nobody(*caps):
    argv = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    if caps:
        argv += ["--inh-caps=" + ",".join("+" + c for c in caps),
                 "--ambient-caps=" + ",".join("+" + c for c in caps)]
    return argv


def successes(text):
    return {m.group(1): m.group(2) == "1" for m in re.finditer(
        r'^memledger_scrape_collector_success\{collector="([^"]+)"\} (\d)', text, re.MULTILINE)}


def failure_lines(log):
    return re.findall(r'^.*msg="collector failed" collector=(\S+).*$', log, re.MULTILINE)


def once(*caps):
    result = subprocess.run(as_nobody(*caps) + [binary, "--once"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=120)
    check(result.returncode == 0, "--once as nobody exited %d:\n%s"
          % (result.returncode, result.stderr.decode()))
    return result.stdout.decode(), result.stderr.decode()


text, log = once()
state = successes(text)
check(state.get("meminfo") is True, "meminfo failed as nobody")
failed = sorted(name for name, ok in state.items() if not ok)
check(sorted(failure_lines(log)) == failed,
      "failing collectors %s but log lines for %s:\n%s" % (failed, failure_lines(log), log))
check(log.count("\n") == len(failed), "other log lines as nobody:\n" + log)
if shutil.which("promtool"):
    rc, output = promtool_check(text)
    check(rc == 0 and output == "", "promtool as nobody: %s" % output)
print("as nobody, failing cleanly: %s" % (", ".join(failed) or "none"))

# A daemon scraped many times still logs each failure once.
with Daemon(binary=binary, wrapper=as_nobody()) as daemon:
    for _ in range(5):
        response = get(daemon.port)
        check(response.status == 200, "scrape as nobody answered %d" % response.status)
    check(sorted(failure_lines(daemon.log())) == failed,
          "daemon as nobody logged %s, expected one line each for %s:\n%s"
          % (failure_lines(daemon.log()), failed, daemon.log()))

# CAP_DAC_READ_SEARCH reads the root-only files (/proc/slabinfo, /proc/vmallocinfo);
# CAP_SYS_PTRACE reads other users' /proc/<pid>/smaps_rollup.
text, log = once("dac_read_search")
for name in ("slab", "vmalloc"):
    if name in state:
        check(successes(text).get(name) is True, name + " failed with CAP_DAC_READ_SEARCH:\n" + log)
unreadable = r'^memledger_processes\{state="unreadable"\} (\d+)$'
if "process" in state:
    text, log = once("sys_ptrace")
    without = int(re.search(unreadable, once()[0], re.MULTILINE).group(1))
    with_ptrace = int(re.search(unreadable, text, re.MULTILINE).group(1))
    check(with_ptrace < without, "CAP_SYS_PTRACE did not make more processes readable "
          "(%d unreadable, %d without it)" % (with_ptrace, without))
print("ok")
