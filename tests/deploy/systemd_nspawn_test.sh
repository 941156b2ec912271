#!/usr/bin/env bash
# The unit as systemd really runs it: a throwaway systemd-nspawn container boots this
# host's /usr (volatile root, private network), starts memledger_exporter.service with the
# unit unchanged but for the binary's path, and a probe checks from inside that it runs
# as a dynamic user with exactly the unit's capabilities, no_new_privs and seccomp, that
# every collector succeeds as it does for root, that SIGHUP reloads, and that the same
# sandbox denies what a compromised daemon would try.
# Usage: systemd_nspawn_test.sh EXPORTER_BINARY SOURCE_DIR
source "$(dirname "$0")/lib.sh"
exporter=$(realpath "$1")
source_dir=$(realpath "$2")
here=$(realpath "$(dirname "$0")")
unit=$source_dir/systemd/memledger_exporter.service
max_exposure=2.5
[[ $(id -u) -eq 0 ]] || skip "needs root to boot a container"
require_command systemd-nspawn systemd-container
require_command capsh libcap2-bin
# The container runs the host's /usr: the sandbox probe needs Debian's python3 there.
[[ -x /usr/bin/python3 ]] || skip "/usr/bin/python3 missing (Debian package python3)"

work=$(mktemp -d)
chmod 755 "$work"
# nspawn leaves runtime directories and cgroups behind when the host runs no systemd.
leftovers=(/run/systemd/nspawn /run/systemd/nspawn-root)
for hierarchy in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
  leftovers+=("$hierarchy/payload" "$hierarchy/supervisor")
done
preexisting=()
for path in "${leftovers[@]}"; do [[ -e $path ]] && preexisting+=("$path"); done
cleanup() {
  local path
  for path in "${leftovers[@]}"; do
    [[ -e $path && " ${preexisting[*]} " != *" $path "* ]] || continue
    if [[ $path == /sys/fs/cgroup/* ]]; then
      find "$path" -depth -type d -exec rmdir {} + 2>/dev/null || true
    else
      rm -rf "$path"
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/opt" "$work/out" "$work/units/memledger_exporter.service.d" "$work/ssh"
# Secrets as a real host has them (the volatile /etc has neither), for the sandbox probe.
echo 'root:$y$j9T$secret:19000:0:99999:7:::' >"$work/shadow"
echo 'not a real key' >"$work/ssh/ssh_host_ed25519_key"
chmod 0640 "$work/shadow"
chmod 0600 "$work/ssh/ssh_host_ed25519_key"
cp "$exporter" "$work/opt/memledger_exporter"
cp "$here/nspawn/sandbox_probe.sh" "$here/nspawn/probe.sh" "$work/opt/"
cp "$unit" "$work/units/memledger_exporter.service"
# The volatile root mounts /usr read-only: the binary lives in /opt instead.
cat >"$work/units/memledger_exporter.service.d/binary.conf" <<'UNIT'
[Service]
ExecStart=
ExecStart=/opt/memledger/memledger_exporter --config.file=/etc/memledger_exporter/memledger_exporter.yml
UNIT
sed -e 's|^ExecStart=.*|ExecStart=/opt/memledger/sandbox_probe.sh|' -e 's|^Type=.*|Type=oneshot|' \
  -e '/^ExecReload=/d' -e '/^Restart/d' "$unit" >"$work/units/memledger-sandbox-probe.service"
cat >"$work/units/memledger-test-probe.service" <<'UNIT'
[Unit]
Wants=memledger_exporter.service
After=memledger_exporter.service

[Service]
Type=oneshot
ExecStartPre=/bin/sleep 2
ExecStart=/opt/memledger/probe.sh
ExecStopPost=/bin/systemctl --no-block poweroff
UNIT

scope=()
[[ -d /run/systemd/system ]] || scope=(--keep-unit)  # no systemd on the host to ask for a scope
binds=(--bind="$work/out:/out" --bind-ro="$work/opt:/opt/memledger"
  --bind-ro="$source_dir/config/memledger_exporter.yml:/etc/memledger_exporter/memledger_exporter.yml"
  --bind-ro="$work/shadow:/etc/shadow" --bind-ro="$work/ssh:/etc/ssh")
for f in "$work"/units/*; do binds+=(--bind-ro="$f:/etc/systemd/system/$(basename "$f")"); done
# CAP_SYSLOG (the blackhole tracer's kallsyms addresses) is outside nspawn's default
# capability set: add it, so that the container can grant the unit everything it asks for.
timeout 90 systemd-nspawn --quiet --directory=/ --volatile=yes --private-network --register=no \
  --capability=CAP_SYSLOG \
  "${scope[@]}" --machine="memledger-test-$$" "${binds[@]}" \
  --boot systemd.firstboot=off systemd.wants=memledger-test-probe.service >"$work/boot.log" 2>&1 || true
if [[ ! -e $work/out/started ]]; then
  tail -15 "$work/boot.log"
  skip "could not boot a systemd-nspawn container here (see the boot log above)"
fi
[[ -e $work/out/done ]] || { tail -30 "$work/boot.log"; fail "the probe inside the container did not finish"; }
out=$work/out

grep -qx 'ActiveState=active' "$out/before-reload.txt" && grep -qx 'SubState=running' "$out/before-reload.txt" ||
  { cat "$out/before-reload.txt" "$out/journal.txt"; fail "the service is not running"; }
uid=$(awk '/^Uid:/ { print $2 }' "$out/before-reload.txt")
[[ $uid -ne 0 ]] || fail "the service runs as root"
grep -qP '^NoNewPrivs:\t1$' "$out/before-reload.txt" || fail "no_new_privs is not set"
grep -qP '^Seccomp:\t2$' "$out/before-reload.txt" || fail "no seccomp filter"
expected_caps=$(sed -n 's/^AmbientCapabilities=//p' "$unit" | tr 'A-Z ' 'a-z\n' | sort | paste -sd,)
for set in CapEff CapAmb; do
  mask=$(awk -v s="$set:" '$1 == s { print $2 }' "$out/before-reload.txt")
  caps=$(capsh --decode="$mask" | cut -d= -f2 | tr ',' '\n' | sort | paste -sd,)
  [[ $caps == "$expected_caps" ]] || fail "$set is $caps, the unit grants $expected_caps"
done
echo "running as uid $uid with $expected_caps (effective and ambient), no_new_privs, seccomp"

failed() { sed -n 's/^memledger_scrape_collector_success{collector="\([^"]*\)"} 0$/\1/p' "$1" | sort; }
unreadable() { sed -n 's/^memledger_processes{state="unreadable"} //p' "$1"; }
grep -q '^memledger_scrape_collector_success' "$out/metrics.prom" || fail "no metrics from the service"
lost=$(comm -13 <(failed "$out/root.prom") <(failed "$out/metrics.prom"))
[[ -z $lost ]] || { cat "$out/journal.txt"; fail "collectors fail in the sandbox that work as root: $lost"; }
[[ $(unreadable "$out/metrics.prom") == "$(unreadable "$out/root.prom")" ]] ||
  fail "unreadable processes: $(unreadable "$out/metrics.prom") in the sandbox, $(unreadable "$out/root.prom") as root"
echo "collectors: $(grep -c '^memledger_scrape_collector_success.* 1$' "$out/metrics.prom") succeed as they do for root; unreadable processes: $(unreadable "$out/metrics.prom")"

grep -q 'configuration reloaded' "$out/journal.txt" || { cat "$out/journal.txt"; fail "systemctl reload did not reload the configuration"; }
grep -qx 'ActiveState=active' "$out/after-reload.txt" || fail "the service is not active after reload"
echo "systemctl reload: configuration reloaded, service still running"

exposure=$(sed -n 's/.*Overall exposure level for memledger_exporter.service: \([0-9.]*\).*/\1/p' "$out/security.txt")
[[ -n $exposure ]] && awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }' ||
  { tail -3 "$out/security.txt"; fail "online exposure '$exposure' is not at most $max_exposure"; }
echo "systemd-analyze security (online, loaded unit): $exposure"

attempts=$(grep -c '^attempt "' "$here/nspawn/sandbox_probe.sh")
results=$(grep -E '^(denied|ALLOWED) ' "$out/sandbox.txt" | sort -u)
sed 's/^/  sandbox: /' <<<"$results"
[[ $(wc -l <<<"$results") -eq $attempts ]] || { cat "$out/sandbox.txt"; fail "the sandbox probe reported $(wc -l <<<"$results") of $attempts attempts"; }
! grep -q '^ALLOWED ' <<<"$results" || fail "the sandbox allows what it should deny"
