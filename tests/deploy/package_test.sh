#!/usr/bin/env bash
# Builds the Debian package with CPack (what `make package` runs), unpacks it into a
# temporary root and checks its files, their contents and its control fields.
# Usage: package_test.sh BUILD_DIR SOURCE_DIR
source "$(dirname "$0")/lib.sh"
build_dir=$(realpath "$1")
source_dir=$(realpath "$2")
require_command dpkg-deb dpkg
require_command dpkg-shlibdeps dpkg-dev
require_command cpack cmake

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && cpack -G DEB --config "$build_dir/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1) ||
  { cat "$work/cpack.log"; fail "cpack failed"; }
debs=("$work"/out/*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || fail "cpack made ${#debs[@]} .deb files"
deb=${debs[0]}
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build_dir/CPackConfig.cmake")
arch=$(dpkg --print-architecture)
[[ $(basename "$deb") == "memledger-exporter_${version}_${arch}.deb" ]] || fail "unexpected file name $(basename "$deb")"
echo "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

root=$work/root
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$work/control"

# Exactly these files, each identical to its source.
declare -A sources=(
  [lib/systemd/system/memledger_exporter.service]=systemd/memledger_exporter.service
  [etc/memledger_exporter/memledger_exporter.yml]=config/memledger_exporter.yml
  [usr/share/memledger_exporter/prometheus/memledger_rules.yml]=deploy/prometheus/memledger_rules.yml
  [usr/share/memledger_exporter/prometheus/prometheus.yml]=deploy/prometheus/prometheus.yml
  [usr/share/memledger_exporter/grafana/memledger_dashboard.json]=deploy/grafana/memledger_dashboard.json
  [usr/share/doc/memledger-exporter/README.md]=README.md
)
expected=$( (printf '%s\n' "${!sources[@]}"; echo usr/bin/memledger_exporter) | sort)
actual=$(cd "$root" && find . -type f -printf '%P\n' | sort)
[[ $actual == "$expected" ]] || { diff <(echo "$expected") <(echo "$actual"); fail "package files differ from the expected list"; }
for path in "${!sources[@]}"; do
  cmp -s "$root/$path" "$source_dir/${sources[$path]}" || fail "/$path differs from ${sources[$path]}"
done
bad_owner=$(dpkg-deb -c "$deb" | awk '$2 != "root/root"')
[[ -z $bad_owner ]] || { echo "$bad_owner"; fail "files not owned by root/root"; }
find "$root/etc" "$root/usr/share" "$root/lib" -type f ! -perm 0644 | grep . && fail "data files not mode 0644"

# The binary: where the unit runs it, stripped, and working.
binary=$root/usr/bin/memledger_exporter
grep -q '^ExecStart=/usr/bin/memledger_exporter ' "$root/lib/systemd/system/memledger_exporter.service" ||
  fail "the unit does not run /usr/bin/memledger_exporter"
[[ -x $binary ]] || fail "/usr/bin/memledger_exporter is not executable"
if command -v file >/dev/null; then
  file "$binary" | grep -q ', stripped' || fail "the binary is not stripped: $(file "$binary")"
fi
"$binary" --version | grep -q "^memledger_exporter $version " || fail "--version of the packaged binary: $("$binary" --version)"
# Read whole before grep: grep -q stopping at the first match would break the pipe.
exposition=$("$binary" --once --config.file="$root/etc/memledger_exporter/memledger_exporter.yml" --log.level=error) ||
  fail "the packaged binary exited with $? on --once"
grep -q '^memledger_build_info{' <<<"$exposition" || fail "the packaged binary does not collect with the packaged config"

# Control fields and maintainer scripts.
field() { dpkg-deb -f "$deb" "$1"; }
[[ $(field Package) == memledger-exporter ]] || fail "Package: $(field Package)"
[[ $(field Version) == "$version" ]] || fail "Version: $(field Version)"
[[ $(field Architecture) == "$arch" ]] || fail "Architecture: $(field Architecture)"
[[ -n $(field Maintainer) ]] || fail "no Maintainer"
[[ -n $(field Description) ]] || fail "no Description"
depends=$(field Depends)
# spdlog is compiled in (header-only) and libbpf linked statically; libfmt stays shared.
for lib in libc6 libstdc++6 libprometheus-cpp-core libcivetweb libfmt libyaml-cpp; do
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done
# OpenSSL is loaded only when TLS or basic auth is configured (dlopen): recommended.
[[ $(field Recommends) == *libssl* ]] || fail "Recommends lacks libssl: $(field Recommends)"
# Every library the binary loads belongs to a package in Depends. dpkg knows each file
# by one name only, /lib or /usr/lib (merged /usr), symlink or target: try them all.
package_of() {
  local path candidates=() real
  real=$(realpath "$1")
  for path in "$1" "$real"; do
    candidates+=("$path" "${path#/usr}" "/usr${path#/usr}")
  done
  for path in "${candidates[@]}"; do
    dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1 && return 0
  done
  return 1
}
# Every library the binary loads comes from a package in Depends, or from a dependency of
# one (libelf1 through libbpf1: a library the binary does not link itself).
listed=$(sed 's/([^)]*)//g; s/,/ /g' <<<"$depends")
indirect=$(for p in $listed; do dpkg-query -W -f='${Depends},${Pre-Depends}\n' "$p" 2>/dev/null; done)
for so in $(ldd "$binary" | awk '$3 ~ /^\// { print $3 }'); do
  owner=$(package_of "$so") || fail "$so belongs to no Debian package"
  [[ $depends == *"$owner"* ]] || grep -Eq "(^|[ ,])${owner%%:*}([ ,(]|\$)" <<<"$indirect" ||
    fail "$so (package $owner) is neither in Depends nor a dependency of one: $depends"
done
[[ $(cat "$work/control/conffiles") == /etc/memledger_exporter/memledger_exporter.yml ]] ||
  fail "conffiles: $(cat "$work/control/conffiles")"
for script in postinst prerm postrm; do
  [[ -x $work/control/$script ]] || fail "maintainer script $script missing or not executable"
  sh -n "$work/control/$script" || fail "maintainer script $script does not parse"
done
echo "Depends: $depends"
echo "package contents and control fields: ok"
