#!/usr/bin/env bash
# Installs what the tests need when it is missing, then runs every test.
# The tests use real peers: python3 (the tutorial's own programs),
# netcat-openbsd (nc -N), and setpriv (to bind a low port as nobody).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
if ! command -v nc >/dev/null || ! nc -h 2>&1 | grep -q -- '-N'; then need+=(netcat-openbsd); fi
command -v python3 >/dev/null || need+=(python3)
command -v setpriv >/dev/null || need+=(util-linux)
if ((${#need[@]})); then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing test peers: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

cargo test --all-targets
