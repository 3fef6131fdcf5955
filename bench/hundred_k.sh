#!/usr/bin/env bash
# 100,000 idle connections on one box whose open-file limit is 20,000 per
# process: several `serve --reuse-port` processes share one port, several
# `bench hold` processes each open their share from their own loopback
# source addresses (--source, each address a full ephemeral port range).
#
#   bash bench/hundred_k.sh [TOTAL] [SERVERS] [WORKERS] [HOLD_SECONDS]
#                                   (defaults 100000 6 6 10)
#
# Reports the time to open them all, the servers' RSS per connection (all
# processes summed, against their idle RSS), and whether every sampled
# connection still answered. Loopback only; every process it starts is
# stopped by its pid; it ends by itself.
set -uo pipefail
cd "$(dirname "$0")/.."
total=${1:-100000}
servers=${2:-6}
workers=${3:-6}
hold=${4:-10}
cargo build --release -q || exit 1
bin=$PWD/target/release/tcpkit
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

per_worker=$(( (total + workers - 1) / workers ))
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
server_pids=()
for i in $(seq "$servers"); do
  "$bin" -q serve --bind "127.0.0.1:$port" --reuse-port --idle-timeout 0 2>"$work/serve.$i.log" &
  pids+=($!); server_pids+=($!)
done
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()" 2>/dev/null && break
  sleep 0.1
done
sleep 1
rss() { local sum=0; for p in "${server_pids[@]}"; do sum=$((sum + $(awk '/VmRSS/ {print $2}' /proc/$p/status))); done; echo $sum; }
idle=$(rss)
echo "hundred_k: $total connections to 127.0.0.1:$port, $servers servers, $workers bench workers of $per_worker each"

started=$(date +%s.%N)
for w in $(seq "$workers"); do
  # Worker w connects from 127.0.0.(10w+1) to 127.0.0.(10w+4): 4 x 28,000 ports.
  first="127.0.0.$((10 * w + 1))"; last="127.0.0.$((10 * w + 4))"
  "$bin" bench hold "127.0.0.1:$port" -c "$per_worker" --source "$first-$last" \
    --duration "${hold}s" --json >"$work/hold.$w.json" 2>"$work/hold.$w.err" &
  pids+=($!)
done
# Open: all connections established (each worker sleeps $hold s once open).
peak=0
while :; do
  open=0
  for p in "${server_pids[@]}"; do open=$((open + $(ls /proc/$p/fd | wc -l))); done
  [ "$open" -gt "$peak" ] && peak=$open
  now=$(rss)
  if [ "$open" -ge $((total + servers * 10)) ]; then break; fi
  if ! jobs -r | grep -q .; then break; fi
  sleep 0.5
done
opened=$(date +%s.%N)
held_rss=$(rss)
wait "${pids[@]:$servers}" 2>/dev/null

python3 - "$work" "$workers" "$total" "$idle" "$held_rss" "$started" "$opened" <<'PY'
import json, sys
work, workers, total, idle, held, started, opened = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
done = errors = sampled = ok = 0
for w in range(1, workers + 1):
    try:
        r = json.load(open(f"{work}/hold.{w}.json"))
    except (OSError, ValueError):
        print(f"worker {w}: no report:", open(f"{work}/hold.{w}.err").read().strip()[-300:])
        continue
    done += r["done"]; errors += r["errors"]; sampled += r["sampled"] or 0; ok += r["sampled_ok"] or 0
print(f"opened {done} connections ({errors} errors) in {opened - started:.1f} s "
      f"({done / max(opened - started, 1e-9):,.0f}/s)")
print(f"servers' RSS: {idle} KiB idle, {held} KiB holding them: "
      f"{(held - idle) * 1024 / max(done, 1):.0f} bytes per connection")
print(f"sampled {sampled}, answered {ok}")
verdict = done >= total and errors == 0 and ok == sampled
print("verdict:", "PASS" if verdict else "FAIL")
sys.exit(0 if verdict else 1)
PY
