#!/usr/bin/env bash
# The long soak (the bounded one is "e2e: soak 1500 scrapes" in `make test`): RSS and
# open file descriptors of the daemon before and after many scrapes with every default
# collector, after a warm-up: SCRAPES (default 20000) over HTTPS with basic auth, then
# PLAIN_SCRAPES (default 5000) over plain HTTP.
# Usage: tests/soak/soak.sh [path/to/memledger_exporter]   (default: build/memledger_exporter)
# Its last results are in README.md, "Reliability".
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export MEMLEDGER_BINARY=$(realpath "${1:-$root/build/memledger_exporter}")
soak="$root/tests/e2e/soak_test.py"
python3 "$soak" --scrapes "${SCRAPES:-20000}"
python3 "$soak" --plain-http --scrapes "${PLAIN_SCRAPES:-5000}"
