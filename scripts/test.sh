#!/usr/bin/env bash
# The README's test command: installs the test peers when missing, then
# runs both tiers of tests in one cargo run:
# - the hermetic tier (what plain `cargo test` runs, Rust only): unit,
#   property and real-socket tests against our own binary and library;
# - the peer tier (`--features peer-tests`): real programs from Debian,
#   python3 (the tutorial's own programs), netcat-openbsd (nc -N), setpriv
#   (to bind a low port as nobody), and for fetch nginx, openssl, curl and
#   gzip, HAProxy in front of serve, ncat and socat for TLS, Chromium
#   for the pictures and tshark for their packets. Each such
#   test fails loudly when its peer is missing;
# - a Windows cross-check: clippy for x86_64-pc-windows-gnu (mingw for
#   ring's C code).
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian puts nginx in /usr/sbin, which a non-root PATH may lack.
export PATH="$PATH:/usr/sbin"

need=()
if ! command -v nc >/dev/null || ! nc -h 2>&1 | grep -q -- '-N'; then need+=(netcat-openbsd); fi
command -v python3 >/dev/null || need+=(python3)
command -v setpriv >/dev/null || need+=(util-linux)
# A reuse-port handover in a network namespace of its own (unshare -n,
# then ip link set lo up); bench's "machines", namespaces on a bridge
# (nsenter runs each one's program).
command -v unshare >/dev/null || need+=(util-linux)
command -v nsenter >/dev/null || need+=(util-linux)
command -v ip >/dev/null || need+=(iproute2)
# fetch's tests: a real nginx (http, https, chunked gzip), openssl for the
# test CA, curl to compare with, gzip to check the chunked body is whole.
command -v nginx >/dev/null || need+=(nginx-light)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v gzip >/dev/null || need+=(gzip)
# TLS (issue 11): ncat --ssl as a client of serve and as a server for talk,
# socat as another client.
command -v ncat >/dev/null || need+=(ncat)
command -v socat >/dev/null || need+=(socat)
# serve as a service: Debian's HAProxy in front (PROXY protocol, checks).
command -v haproxy >/dev/null || need+=(haproxy)
# /metrics read by the Prometheus project's own parser (Debian's python3).
/usr/bin/python3 -c 'import prometheus_client.parser' 2>/dev/null || need+=(python3-prometheus-client)
# ... and by Prometheus itself: a real scrape and quantile queries, and
# promtool's lint of the page.
{ command -v prometheus >/dev/null && command -v promtool >/dev/null; } || need+=(prometheus)
# deploy/: systemd-analyze verifies the units, PyYAML reads the manifests.
command -v systemd-analyze >/dev/null || need+=(systemd)
/usr/bin/python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
# ... and the registered ports the metrics port must not take.
[ -e /etc/services ] || need+=(netbase)
# The Windows cross-check (issue 13): mingw for ring's C code, and Rust's
# target.
command -v x86_64-w64-mingw32-gcc >/dev/null || need+=(gcc-mingw-w64-x86-64)
# ... and running that build for real.
command -v wine >/dev/null || need+=(wine64)
# demo --diagram's page, rendered by a real browser (headless Chromium).
command -v chromium >/dev/null || need+=(chromium)
# ... and its packets (--pcap) read by Wireshark's command line.
command -v tshark >/dev/null || need+=(tshark)
# ... and the capture's remedy for a plain user, setcap cap_net_raw+ep.
command -v setcap >/dev/null || need+=(libcap2-bin)
# --generate's man page, rendered by man.
command -v man >/dev/null || need+=(man-db)
# The .deb (scripts/package.sh): checked by lintian.
command -v lintian >/dev/null || need+=(lintian)
# The container image (scripts/image.sh): musl-gcc for ring's C code in
# the static binary, podman to build and run it, runc where podman's
# default runtime (crun) cannot run here.
command -v musl-gcc >/dev/null || need+=(musl-tools)
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
if ((${#need[@]})); then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing test peers: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

# cargo-deb builds the .deb (pinned: the package test packs the debug
# binary, which later versions may refuse).
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked --version 3.8.0

# Windows: the whole crate, tests included, builds and is lint-clean.
rustup target list --installed | grep -qx x86_64-pc-windows-gnu \
  || rustup target add x86_64-pc-windows-gnu
# It builds in a target directory of its own (cargo builds one thing at a
# time in each), beside the host's test build instead of before it (on the
# two cores here both are bound by CPU, and the time saved was within the
# run-to-run noise). Its output is shown once both are done. In a session of
# its own, so that an interrupted run stops it too (a background job of a
# script ignores Ctrl+C).
mkdir -p target
setsid bash -euc '
  export CARGO_TARGET_DIR=target/windows
  # Its dependencies unoptimized (our crate keeps its own level): under
  # Wine it is run, not timed, and a clean build took 75 s against 120
  # (115 s of CPU against 204).
  export CARGO_PROFILE_DEV_OPT_LEVEL=0
  cargo clippy --target x86_64-pc-windows-gnu --all-targets -- -D warnings
  # The Windows binary, for tests/wine_peers.rs, with a stand-in for the
  # bcryptprimitives.dll that Debian'"'"'s Wine 8 lacks (Rust'"'"'s std
  # needs its ProcessPrng).
  cargo build --target x86_64-pc-windows-gnu --bin tcpkit
  x86_64-w64-mingw32-gcc -shared -O2 \
    -o target/windows/x86_64-pc-windows-gnu/debug/bcryptprimitives.dll \
    tests/wine/bcryptprimitives.c -ladvapi32
' >target/windows-check.log 2>&1 &
windows=$!
trap '[ -z "${windows:-}" ] || kill -- -"$windows" 2>/dev/null' EXIT
built=0
cargo test --workspace --all-targets --features peer-tests --no-run || built=$?
checked=0
wait "$windows" || checked=$?
windows=""
echo "--- the Windows check (clippy and build for x86_64-pc-windows-gnu):"
cat target/windows-check.log
((checked == 0)) || { echo "the Windows check failed (exit $checked)" >&2; exit "$checked"; }
((built == 0)) || exit "$built"

cargo test --workspace --all-targets --features peer-tests
