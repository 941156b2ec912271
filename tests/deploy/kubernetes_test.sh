#!/usr/bin/env bash
# Structural validation of the Kubernetes manifests and the image's Dockerfile.
# Usage: kubernetes_test.sh SOURCE_DIR
source "$(dirname "$0")/lib.sh"
source_dir=$1
python3 -c 'import yaml' 2>/dev/null || skip "python3 yaml module missing (Debian package python3-yaml)"
python3 "$(dirname "$0")/kubernetes_check.py" "$source_dir/deploy/kubernetes" \
  "$source_dir/deploy/prometheus/memledger_rules.yml"
