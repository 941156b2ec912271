#!/usr/bin/env bash
# The long soak (the bounded one is "e2e: soak 1500 scrapes" in `make test`): RSS and
# open file descriptors of the daemon before and after many scrapes, after a warm-up.
#   1. SCRAPES (default 20000) scrapes over HTTPS with basic auth, the process collector
#      off (its page walks cost ~0.2 s a scrape here and would stretch this to an hour);
#   2. FULL_SCRAPES (default 3000) over plain HTTP with every default collector.
# Usage: tests/soak/soak.sh [path/to/memledger_exporter]   (default: build/memledger_exporter)
# Its last results are in README.md, "Reliability".
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export MEMLEDGER_BINARY=$(realpath "${1:-$root/build/memledger_exporter}")
soak="$root/tests/e2e/soak_test.py"
python3 "$soak" --scrapes "${SCRAPES:-20000}" -- --no-collector.process
python3 "$soak" --plain-http --scrapes "${FULL_SCRAPES:-3000}"
