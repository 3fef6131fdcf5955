#!/usr/bin/env bash
# Builds the container image deploy/kubernetes.yaml runs (tcpkit:latest by
# default): a static binary for x86_64-unknown-linux-musl (musl-tools
# compiles ring's C code for it) in packaging/Containerfile's empty image,
# with podman, or docker when there is no podman.
#
#   bash scripts/image.sh                          # release build, tcpkit:latest
#   bash scripts/image.sh --profile dev --tag tcpkit:test
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
tag=tcpkit:latest
while (($#)); do
  case "$1" in
    --profile) profile=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    *) echo "usage: scripts/image.sh [--profile PROFILE] [--tag NAME:TAG]" >&2; exit 2 ;;
  esac
done
triple=x86_64-unknown-linux-musl
rustup target list --installed | grep -qx "$triple" || rustup target add "$triple"
cargo build --profile "$profile" --target "$triple" --bin tcpkit
target=${CARGO_TARGET_DIR:-target}
bin="$target/$triple/$([ "$profile" = dev ] && echo debug || echo "$profile")/tcpkit"
# Static, or the empty image could not run it.
if ldd "$bin" >/dev/null 2>&1 && ! ldd "$bin" 2>&1 | grep -q 'statically linked'; then
  echo "scripts/image.sh: $bin is not static: $(ldd "$bin" 2>&1)" >&2
  exit 1
fi
context=target/image
rm -rf "$context"
mkdir -p "$context"
cp "$bin" "$context/tcpkit"
tool=podman
command -v podman >/dev/null || tool=docker
"$tool" build --tag "$tag" --file packaging/Containerfile "$context"
