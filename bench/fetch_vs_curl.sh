#!/usr/bin/env bash
# Fetches one large file from a local nginx with `tcpkit fetch` and with
# curl, side by side in one run, and prints each one's time, throughput
# and peak RSS, plus the ratio tcpkit/curl. A benchmark, not a test.
#
#   bash bench/fetch_vs_curl.sh [SIZE_MIB] [ROUNDS]     (defaults: 1024 3)
#
# nginx runs on core 0 and the client on core 1 (taskset), so the two do
# not fight over one core. Loopback only; stops its nginx by pid on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin"
size_mib=${1:-1024}
rounds=${2:-3}
for tool in nginx curl taskset /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/test.sh, or apt-get install nginx-light curl util-linux time" >&2; exit 1; }
done

cargo build --release -q
bin=$PWD/target/release/tcpkit
work=$(mktemp -d)
nginx_pid=""
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/www" "$work/tmp" "$work/out"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$work/www/big.bin"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/nginx.conf" <<EOF
user root;
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp;
  fastcgi_temp_path $work/tmp; uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  server { listen 127.0.0.1:$port; root $work/www; }
}
EOF
taskset -c 0 nginx -p "$work" -c "$work/nginx.conf" &
nginx_pid=$!
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
  sleep 0.05
done
url="http://127.0.0.1:$port/big.bin"
# Flush the new file to disk and warm the page cache, so the first tool
# measured does not pay for writeback of the source.
sync
curl -s -o /dev/null "$url"

# run NAME CMD...: one timed download; a file in $work/out/f is checked
# against the source, then removed.
run() {
  local name=$1; shift
  rm -f "$work/out/f"
  /usr/bin/time -o "$work/time" -f '%e %M' taskset -c 1 "$@" >/dev/null 2>&1
  local stats
  stats=$(tail -1 "$work/time")
  if [[ "$*" == *"$work/out/f"* ]]; then
    cmp -s "$work/out/f" "$work/www/big.bin" || { echo "$name: saved bytes differ" >&2; exit 1; }
  fi
  echo "$name $stats"
}

results=$work/results
# One unmeasured round each: the first write of a large file is slower.
run tcpkit "$bin" fetch -s -o "$work/out/f" "$url" >/dev/null
run curl curl -s -o "$work/out/f" "$url" >/dev/null
# To a file (the real job, disk writeback included), then to /dev/null
# (the client alone).
for i in $(seq "$rounds"); do
  run tcpkit-file "$bin" fetch -s -o "$work/out/f" "$url" >>"$results"
  run curl-file curl -s -o "$work/out/f" "$url" >>"$results"
done
for i in $(seq "$rounds"); do
  run tcpkit-null "$bin" fetch -s -o /dev/null "$url" >>"$results"
  run curl-null curl -s -o /dev/null "$url" >>"$results"
done

python3 - "$results" "$size_mib" <<'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
mib = int(sys.argv[2])
for sink in ("file", "null"):
    med = {}
    for tool in ("tcpkit", "curl"):
        name = f"{tool}-{sink}"
        secs = [float(r[1]) for r in rows if r[0] == name]
        rss = [int(r[2]) for r in rows if r[0] == name]
        med[tool] = statistics.median(secs)
        print(f"{name:12} median {med[tool]:.2f} s  {mib / med[tool]:6.0f} MiB/s  "
              f"peak RSS {max(rss) / 1024:4.1f} MiB  (runs: {', '.join(f'{s:.2f}' for s in secs)})")
    print(f"to {sink}: throughput tcpkit/curl {med['curl'] / med['tcpkit']:.2f}x")
EOF
