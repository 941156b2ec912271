#!/bin/bash
# Runs inside the test container after memledger_exporter.service started (or failed):
# records what the host side of systemd_nspawn_test.sh judges, then powers off.
out=/out
unit=memledger_exporter.service
touch "$out/started"
{
  systemctl show "$unit" -p ActiveState -p SubState -p Result
  pid=$(systemctl show -p MainPID --value "$unit")
  grep -E '^(Uid|CapEff|CapAmb|NoNewPrivs|Seccomp):' "/proc/$pid/status"
} >"$out/before-reload.txt" 2>&1
curl -sf --max-time 20 http://127.0.0.1:9747/metrics >"$out/metrics.prom"
# Root in the same container: what every collector can do here with no sandbox at all.
/opt/memledger/memledger_exporter --once --log.level=error >"$out/root.prom" 2>&1
systemctl reload "$unit"
sleep 1
systemctl show "$unit" -p ActiveState -p SubState >"$out/after-reload.txt" 2>&1
journalctl -u "$unit" --no-pager -o cat >"$out/journal.txt" 2>&1
systemd-analyze security --no-pager "$unit" >"$out/security.txt" 2>&1
# The same sandbox running a script that tries what a compromised daemon would.
systemctl start memledger-sandbox-probe.service
journalctl -u memledger-sandbox-probe.service --no-pager -o cat >"$out/sandbox.txt" 2>&1
touch "$out/done"
