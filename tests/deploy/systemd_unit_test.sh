#!/usr/bin/env bash
# The systemd unit is valid and its sandbox rates an exposure of 2.5 or better.
# Usage: systemd_unit_test.sh EXPORTER_BINARY SOURCE_DIR
source "$(dirname "$0")/lib.sh"
exporter=$(realpath "$1")
unit=$2/systemd/memledger_exporter.service
max_exposure=2.5
require_command systemd-analyze systemd

grep -qx 'ExecStart=/usr/bin/memledger_exporter --config.file=/etc/memledger_exporter/memledger_exporter.yml' "$unit" ||
  fail "ExecStart does not run /usr/bin/memledger_exporter with the config under /etc/memledger_exporter/"
grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit" || fail "ExecReload does not send SIGHUP"

# systemd-analyze touches this stamp even offline; on a host without systemd, remove it.
stamp=/run/systemd/systemd-units-load
work=$(mktemp -d)
if [[ -e $stamp ]]; then trap 'rm -rf "$work"' EXIT; else trap 'rm -rf "$work" "$stamp"' EXIT; fi

report=$(systemd-analyze security --offline=yes --no-pager "$unit")
exposure=$(sed -n 's/.*Overall exposure level for memledger_exporter.service: \([0-9.]*\).*/\1/p' <<<"$report")
[[ -n $exposure ]] || { echo "$report"; fail "no exposure level in systemd-analyze's report"; }
echo "systemd-analyze security: exposure $exposure (must be <= $max_exposure)"
awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }' || {
  grep '✗' <<<"$report"
  fail "exposure $exposure is above $max_exposure"
}

# verify checks that ExecStart's binary exists: point it at the one just built.
sed "s|^ExecStart=/usr/bin/memledger_exporter |ExecStart=$exporter |" "$unit" >"$work/memledger_exporter.service"
verify=$(systemd-analyze verify "$work/memledger_exporter.service" 2>&1) || { echo "$verify"; fail "systemd-analyze verify failed"; }
[[ -z $verify ]] || { echo "$verify"; fail "systemd-analyze verify warns"; }
echo "systemd-analyze verify: clean"
