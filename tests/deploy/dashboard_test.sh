#!/usr/bin/env bash
# The Grafana dashboard is well formed, and every panel query works against a real
# Prometheus scraping the real daemon, with the recording rules loaded.
# Usage: dashboard_test.sh EXPORTER_BINARY SOURCE_DIR
source "$(dirname "$0")/lib.sh"
exporter=$1
source_dir=$2
dashboard=$source_dir/deploy/grafana/memledger_dashboard.json
rules=$source_dir/deploy/prometheus/memledger_rules.yml
check=$(dirname "$0")/dashboard_check.py

require_python_yaml
"$PYTHON" "$check" structure "$dashboard"

require_command prometheus prometheus
require_command curl curl
work=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

exporter_port=$(free_port)
"$exporter" --web.listen-address="127.0.0.1:$exporter_port" >"$work/exporter.log" 2>&1 &
pids+=($!)
wait_for_url "http://127.0.0.1:$exporter_port/metrics" 10 || { cat "$work/exporter.log"; fail "exporter did not start"; }

prometheus_port=$(free_port)
cp "$rules" "$work/memledger_rules.yml"
cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [memledger_rules.yml]
scrape_configs:
  - job_name: memledger
    static_configs:
      - targets: ['127.0.0.1:$exporter_port']
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$prometheus_port" >"$work/prometheus.log" 2>&1 &
pids+=($!)
wait_for_url "http://127.0.0.1:$prometheus_port/-/ready" 30 || { tail -20 "$work/prometheus.log"; fail "prometheus did not start"; }

"$PYTHON" "$check" queries "$dashboard" "$rules" "http://127.0.0.1:$prometheus_port" \
  "http://127.0.0.1:$exporter_port/metrics" memledger "127.0.0.1:$exporter_port"
