#!/usr/bin/env bash
# The Prometheus rules pass promtool's checks and their unit tests, and the example
# scrape configuration is valid. Usage: rules_test.sh SOURCE_DIR
source "$(dirname "$0")/lib.sh"
source_dir=$1
require_command promtool prometheus
require_command amtool prometheus-alertmanager
require_python_yaml
cd "$source_dir/deploy/prometheus"

promtool check rules memledger_rules.yml
promtool test rules memledger_rules_test.yml
promtool check config prometheus.yml
promtool check config prometheus_fleet.yml
promtool check config prometheus_federation.yml
amtool check-config ../alertmanager/alertmanager.yml

# Every alert has a summary, a description and a severity, and is exercised by the tests.
"$PYTHON" - <<'PY'
import sys, yaml
rules = yaml.safe_load(open("memledger_rules.yml"))
tests = yaml.safe_load(open("memledger_rules_test.yml"))
tested = {}
for case in tests["tests"]:
    for t in case.get("alert_rule_test", []):
        tested.setdefault(t["alertname"], set()).add("firing" if t.get("exp_alerts") else "silent")
problems = []
for group in rules["groups"]:
    for rule in group["rules"]:
        name = rule.get("alert")
        if not name:
            continue
        for key in ("summary", "description", "runbook"):
            if not rule.get("annotations", {}).get(key):
                problems.append(f"{name}: no {key}")
        if not rule.get("labels", {}).get("severity"):
            problems.append(f"{name}: no severity label")
        missing = {"firing", "silent"} - tested.get(name, set())
        if missing:
            problems.append(f"{name}: no test where it is {' or '.join(sorted(missing))}")
for p in problems:
    print("FAIL:", p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
echo "rules: checked and unit-tested"
