#!/bin/sh
# `memledger_exporter explain` on the running machine: exits 0, prints the ledger table
# with its unexplained row and a verdict, and --json is valid JSON whose ledger ends with
# the unexplained category; --interval reports the change and what grew. Usage: explain_live.sh BINARY PYTHON
set -eu
binary=$1
python=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$binary" explain > "$out"
grep -q '^Memory ledger: MemTotal ' "$out"
grep -q '^category  *size  *share' "$out"
grep -q '^unexplained  ' "$out"
grep -q '^Verdict$' "$out"
if grep -q "$(printf '\033')" "$out"; then
  echo "FAILED: colour codes in output that is not a terminal" >&2
  exit 1
fi

"$binary" explain --json | "$python" -c '
import json, sys
report = json.load(sys.stdin)
categories = report["ledger"]["categories"]
assert categories[-1]["category"] == "unexplained", categories[-1]
assert sum(c["bytes"] for c in categories) == report["memtotal_bytes"], "categories do not sum to MemTotal"
'

# --interval: two collections a second apart through one set of live collectors.
"$binary" explain --interval=1 --json | "$python" -c '
import json, sys
report = json.load(sys.stdin)
assert report["interval_seconds"] == 1, report.get("interval_seconds")
assert isinstance(report["grew"], list), "no grew[] with --interval"
assert all(row["bytes"] >= 1 << 20 for row in report["grew"]), report["grew"]
assert any("change_bytes" in c for c in report["ledger"]["categories"]), "no change column"
'
cat "$out"
echo "ok: explain prints the ledger table and valid JSON, and --interval what grew"
