#!/usr/bin/env bash
# Runs every libFuzzer target of a MEMLEDGER_FUZZ build for SECONDS each, seeded from the
# fixture files named on its source's "// Seeds:" line. Fails on the first crash, leak,
# sanitizer report or unexpected exception; the input is left as crash-*/leak-*/timeout-*
# in the target's work directory. Usage: tests/fuzz/run.sh BUILD_DIR [SECONDS]
set -euo pipefail
shopt -s globstar nullglob
build_dir=$(cd "$1" && pwd)
seconds=${2:-20}
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
work="$build_dir/fuzz-work"
mkdir -p "$work"
status=0
for source in "$source_dir"/tests/fuzz/*_fuzz.cpp; do
  name=$(basename "$source" .cpp)
  binary="$build_dir/tests/fuzz/$name"
  [[ -x "$binary" ]] || { echo "missing $binary: build with -DMEMLEDGER_FUZZ=ON" >&2; exit 1; }
  corpus="$work/$name/corpus"
  mkdir -p "$corpus"
  seeds=0
  for pattern in $(sed -n 's|^// Seeds: ||p' "$source"); do
    for seed in "$source_dir"/$pattern; do
      [[ -f "$seed" ]] || continue
      cp "$seed" "$corpus/seed-$(echo "$seed" | md5sum | cut -c1-12)"
      seeds=$((seeds + 1))
    done
  done
  log="$work/$name/log"
  if (cd "$work/$name" && "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 "$corpus" >"$log" 2>&1); then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    printf '%-34s ok  %2d seeds, %9s runs in %ss, %s\n' "$name" "$seeds" "$runs" "$seconds" "$cov"
  else
    printf '%-34s FAILED (see %s)\n' "$name" "$log"
    grep -m1 -A30 -E 'ERROR: |runtime error|terminate called|deadly signal' "$log" || tail -30 "$log"
    status=1
  fi
done
exit $status
