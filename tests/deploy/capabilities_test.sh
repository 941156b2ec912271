#!/usr/bin/env bash
# The capabilities the systemd unit grants (AmbientCapabilities) are exactly the ones the
# collectors need: running as an unprivileged user with them, every collector that works
# as root works and reads every process root can; without any one of them, something is
# lost. Checked twice: with ambient capabilities (the systemd unit) and with file
# capabilities on the binary inside a capability bounding set (the Kubernetes image).
# Usage: capabilities_test.sh EXPORTER_BINARY SOURCE_DIR
source "$(dirname "$0")/lib.sh"
exporter=$(realpath "$1")
unit=$2/systemd/memledger_exporter.service
[[ $(id -u) -eq 0 ]] || skip "needs root to switch users and set capabilities"
require_command setpriv util-linux
require_command setcap libcap2-bin

ambient=$(sed -n 's/^AmbientCapabilities=//p' "$unit")
bounding=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
[[ -n $ambient ]] || fail "the unit sets no AmbientCapabilities"
[[ $ambient == "$bounding" ]] || fail "AmbientCapabilities ($ambient) and CapabilityBoundingSet ($bounding) differ"
read -r -a caps <<<"$(tr 'A-Z' 'a-z' <<<"${ambient//CAP_/}")"

work=$(mktemp -d)
# Root processes that only CAP_SYS_PTRACE lets nobody read: a clear signal however few
# processes the machine runs.
sleepers=()
for _ in $(seq 20); do sleep 300 & sleepers+=($!); done
trap 'kill "${sleepers[@]}"; rm -rf "$work"' EXIT
# Copies, because nobody may not reach the build tree: one plain, one with file capabilities.
mkdir "$work/plain" "$work/filecaps"
cp "$exporter" "$work/plain/memledger_exporter"
cp "$exporter" "$work/filecaps/memledger_exporter"
chmod -R a+rX "$work"
setcap "$(IFS=,; echo "${caps[*]/#/cap_}")=ep" "$work/filecaps/memledger_exporter"

# as_nobody MODEL CAP... : the exposition of one collection as user nobody.
as_nobody() {
  local model=$1; shift
  local list; list=$(IFS=,; echo "${*/#/+}")
  local args=(--reuid=65534 --regid=65534 --clear-groups --bounding-set="-all${list:+,$list}")
  local binary=$work/plain/memledger_exporter
  if [[ $model == ambient ]]; then
    args+=(--inh-caps="-all${list:+,$list}" --ambient-caps="-all${list:+,$list}")
  else
    args+=(--inh-caps=-all)
    binary=$work/filecaps/memledger_exporter
  fi
  setpriv "${args[@]}" -- "$binary" --once --log.level=error 2>/dev/null
}
diff_coverage() { "$PYTHON" "$(dirname "$0")/coverage_diff.py" "$work/root.prom" "$1"; }

"$exporter" --once --log.level=error >"$work/root.prom"

as_nobody ambient "${caps[@]}" >"$work/ambient.prom" || fail "the exporter failed as nobody with ambient capabilities"
lost=$(diff_coverage "$work/ambient.prom") || fail "nobody + ambient ${caps[*]} (systemd unit) loses: $lost"
echo "nobody + ambient ${caps[*]} (systemd unit): everything root collects"
as_nobody file "${caps[@]}" >"$work/file.prom" || fail "the exporter failed as nobody with file capabilities"
lost=$(diff_coverage "$work/file.prom") || fail "nobody + file capabilities ${caps[*]} (container image) loses: $lost"
echo "nobody + file capabilities ${caps[*]} (container image): everything root collects"

# Least privilege: without any one capability, something is lost.
for cap in "${caps[@]}"; do
  others=()
  for c in "${caps[@]}"; do [[ $c == "$cap" ]] || others+=("$c"); done
  as_nobody ambient "${others[@]}" >"$work/without.prom" || fail "the exporter failed as nobody without $cap"
  ! lost=$(diff_coverage "$work/without.prom") || fail "nothing is lost without $cap: the unit should not grant it"
  echo "without $cap: ${lost//$'\n'/; }"
done
