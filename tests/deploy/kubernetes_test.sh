#!/usr/bin/env bash
# Structural validation of the Kubernetes manifests and the image's Dockerfile.
# Usage: kubernetes_test.sh SOURCE_DIR
source "$(dirname "$0")/lib.sh"
source_dir=$1
require_python_yaml
"$PYTHON" "$(dirname "$0")/kubernetes_check.py" "$source_dir/deploy/kubernetes" \
  "$source_dir/deploy/prometheus/memledger_rules.yml"
