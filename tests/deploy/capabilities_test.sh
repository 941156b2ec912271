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
sleep 300 &  # a root process that only CAP_SYS_PTRACE lets nobody read
root_sleeper=$!
trap 'kill $root_sleeper; rm -rf "$work"' EXIT
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

failed_collectors() {  # collectors with success 0, one line each
  sed -n 's/^memledger_scrape_collector_success{collector="\([^"]*\)"} 0$/\1/p'
}
unreadable_processes() {
  sed -n 's/^memledger_processes{state="unreadable"} //p'
}

"$exporter" --once --log.level=error >"$work/root.prom"
root_failed=$(failed_collectors <"$work/root.prom")
root_unreadable=$(unreadable_processes <"$work/root.prom")
echo "as root: failing collectors: [${root_failed//$'\n'/ }], unreadable processes: ${root_unreadable:-n/a}"

# compare NAME FILE: FILE must do as well as root.
compare() {
  local name=$1 file=$2 lost unreadable
  lost=$(comm -13 <(sort <<<"$root_failed") <(failed_collectors <"$file" | sort))
  [[ -z $lost ]] || fail "$name: collectors fail that work as root: ${lost//$'\n'/ }"
  unreadable=$(unreadable_processes <"$file")
  if [[ -n $root_unreadable && ${unreadable:-0} -gt $root_unreadable ]]; then
    fail "$name: $unreadable processes unreadable, as root $root_unreadable"
  fi
  echo "$name: every collector works, unreadable processes: ${unreadable:-n/a}"
}

as_nobody ambient "${caps[@]}" >"$work/ambient.prom" || fail "the exporter failed as nobody with ambient capabilities"
compare "nobody + ambient ${caps[*]} (systemd unit)" "$work/ambient.prom"
as_nobody file "${caps[@]}" >"$work/file.prom" || fail "the exporter failed as nobody with file capabilities"
compare "nobody + file capabilities ${caps[*]} (container image)" "$work/file.prom"

# Least privilege: each capability must be the only one unlocking something.
for cap in "${caps[@]}"; do
  others=()
  for c in "${caps[@]}"; do [[ $c == "$cap" ]] || others+=("$c"); done
  as_nobody ambient "${others[@]}" >"$work/without.prom" || fail "the exporter failed as nobody without $cap"
  lost=$(comm -13 <(sort <<<"$root_failed") <(failed_collectors <"$work/without.prom" | sort))
  unreadable=$(unreadable_processes <"$work/without.prom")
  extra_unreadable=0
  [[ -n $root_unreadable ]] && extra_unreadable=$((${unreadable:-0} - root_unreadable))
  [[ -n $lost || $extra_unreadable -gt 0 ]] || fail "nothing is lost without $cap: the unit should not grant it"
  echo "without $cap: failing collectors: [${lost//$'\n'/ }], processes unreadable beyond root's: $extra_unreadable"
done
