# Shared by the deploy tests (sourced). CTest marks exit code 77 as skipped.
set -euo pipefail

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

# A TCP port nobody listens on right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
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
