#!/usr/bin/env bash
# Builds the .deb into target/debian/ with cargo-deb (installed when
# missing; its metadata is in Cargo.toml), after making what the package
# holds but the repository does not: the man page and the completions,
# made by the binary itself (tcpkit --generate), and the systemd units,
# deploy/'s with the package's paths and user.
#
#   bash scripts/package.sh                       # release build, then the .deb
#   bash scripts/package.sh --profile dev --no-build   # the debug binary already built
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
build=1
while (($#)); do
  case "$1" in
    --profile) profile=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "usage: scripts/package.sh [--profile PROFILE] [--no-build]" >&2; exit 2 ;;
  esac
done
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked --version 3.8.0
if ((build)); then cargo build --profile "$profile" --bin tcpkit; fi
target=${CARGO_TARGET_DIR:-target}
bin="$target/$([ "$profile" = dev ] && echo debug || echo "$profile")/tcpkit"

out=target/package
rm -rf "$out"
mkdir -p "$out/completions" "$out/systemd"
"$bin" --generate man > "$out/tcpkit.1"
"$bin" --generate complete-bash > "$out/completions/tcpkit"
"$bin" --generate complete-zsh > "$out/completions/_tcpkit"
"$bin" --generate complete-fish > "$out/completions/tcpkit.fish"
# The package's binary is in /usr/bin, and its unit runs as the tcpkit
# user postinst makes, instead of a dynamic one.
sed -e 's|/usr/local/bin/tcpkit|/usr/bin/tcpkit|' \
    -e 's|^DynamicUser=yes$|User=tcpkit\nGroup=tcpkit|' \
    deploy/tcpkit.service > "$out/systemd/tcpkit.service"
cp deploy/tcpkit.socket "$out/systemd/tcpkit.socket"
grep -q '^User=tcpkit$' "$out/systemd/tcpkit.service"

cargo deb --no-build --profile "$profile" --output target/debian
