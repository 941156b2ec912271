#!/usr/bin/env bash
# The unit's SystemCallFilter= and RestrictAddressFamilies= allow everything the daemon
# does: start, serve /metrics (plain and gzip), the landing page and a 404, reload on
# SIGHUP (sent with the unit's ExecReload command, which runs under the same filter) and
# stop on SIGTERM, all traced with strace.
# Usage: syscall_filter_test.sh EXPORTER_BINARY SOURCE_DIR
source "$(dirname "$0")/lib.sh"
exporter=$1
source_dir=$2
unit=$source_dir/systemd/memledger_exporter.service
require_command strace strace
require_command systemd-analyze systemd
require_command curl curl

work=$(mktemp -d)
exporter_pid=
cleanup() {
  # The daemon first (strace's child), so that no process keeps the test's output open.
  [[ -n $exporter_pid ]] && pkill -KILL -P "$exporter_pid" 2>/dev/null
  [[ -n $exporter_pid ]] && kill "$exporter_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cp "$source_dir/config/memledger_exporter.yml" "$work/config.yml"
port=$(free_port)
strace -f -qq -o "$work/daemon.trace" "$exporter" --web.listen-address="127.0.0.1:$port" \
  --config.file="$work/config.yml" --log.level=debug 2>"$work/daemon.log" &
exporter_pid=$!
wait_for_url "http://127.0.0.1:$port/" 20 || { cat "$work/daemon.log"; fail "exporter did not start under strace"; }
curl -sf -o /dev/null "http://127.0.0.1:$port/metrics"
curl -sf -o /dev/null -H 'Accept-Encoding: gzip' "http://127.0.0.1:$port/metrics"
curl -s -o /dev/null "http://127.0.0.1:$port/nothing-here"
daemon_pid=$(pgrep -P "$exporter_pid")  # strace's child: the daemon itself
reload=$(sed -n 's/^ExecReload=//p' "$unit")
strace -f -qq -o "$work/reload.trace" ${reload//\$MAINPID/$daemon_pid}
# A reload rebuilds every collector (the tracer loads its BPF programs again): slow under
# strace on a busy machine, so wait for it rather than for a fixed time.
for _ in $(seq 100); do
  grep -q 'configuration reloaded' "$work/daemon.log" && break
  sleep 0.2
done
grep -q 'configuration reloaded' "$work/daemon.log" || { cat "$work/daemon.log"; fail "SIGHUP did not reload the configuration"; }
curl -sf -o /dev/null "http://127.0.0.1:$port/metrics"
kill -TERM "$daemon_pid"
wait "$exporter_pid" || true
exporter_pid=

"$PYTHON" - "$unit" "$work/daemon.trace" "$work/reload.trace" <<'PY'
import re, subprocess, sys

unit, traces = sys.argv[1], sys.argv[2:]
settings = {}
for line in open(unit):
    key, sep, value = line.strip().partition("=")
    if sep and not key.startswith("#"):
        settings.setdefault(key, []).append(value)

def expand(names, seen=None):
    out = set()
    for name in names:
        if not name.startswith("@"):
            out.add(name)
            continue
        listing = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager", name],
                                 capture_output=True, text=True, check=True).stdout
        members = [l.strip() for l in listing.splitlines()[1:]
                   if l.strip() and not l.strip().startswith("#")]
        out |= expand(members)
    return out

# systemd.exec(5): the first (allow) list sets the default; each later line adds to it or,
# inverted, removes from it, in order.
allowed = set()
for value in settings["SystemCallFilter"]:
    if value.startswith("~"):
        allowed -= expand(value[1:].split())
    else:
        allowed |= expand(value.split())
families = set(settings["RestrictAddressFamilies"][0].split())

used, sockets = set(), set()
for path in traces:
    for line in open(path):
        m = re.match(r"\d+\s+(?:<\.\.\. )?(\w+)[( ]", line)
        if m:
            used.add(m.group(1))
        s = re.match(r"\d+\s+socket\((AF_\w+)", line)
        if s:
            sockets.add(s.group(1))
blocked = sorted(used - allowed)
bad_families = sorted(sockets - families)
if not blocked:
    print(f"{len(used)} distinct system calls traced, all within SystemCallFilter")
print(f"socket families used: {sorted(sockets)}")
if blocked:
    print(f"FAIL: system calls the unit's filter refuses (EPERM): {blocked}", file=sys.stderr)
if bad_families:
    print(f"FAIL: socket families outside RestrictAddressFamilies: {bad_families}", file=sys.stderr)
sys.exit(1 if blocked or bad_families else 0)
PY
