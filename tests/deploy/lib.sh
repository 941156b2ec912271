# Shared by the deploy tests (sourced). CTest marks exit code 77 as skipped.
set -euo pipefail

# Debian's interpreter, which python3-yaml serves; a python3 earlier in PATH (pyenv's, a
# virtualenv's) may lack the module.
PYTHON=/usr/bin/python3
[[ -x $PYTHON ]] || PYTHON=python3

skip() {
  echo "SKIP: $*"
  exit 77
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

require_command() {
  local cmd=$1 package=$2
  command -v "$cmd" >/dev/null || skip "$cmd not found (Debian package $package; make test-deps installs it)"
}

require_python_yaml() {
  "$PYTHON" -c 'import yaml' 2>/dev/null || skip "$PYTHON has no yaml module (Debian package python3-yaml)"
}

# A TCP port nobody listens on right now.
free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to $2 seconds until URL $1 answers.
wait_for_url() {
  local url=$1 seconds=$2 i
  for ((i = 0; i < seconds * 10; i++)); do
    curl -sf -o /dev/null "$url" && return 0
    sleep 0.1
  done
  return 1
}
