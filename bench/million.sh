#!/usr/bin/env bash
# A million idle connections on one box whose open-file limit is 20,000
# per process: enough `serve --reuse-port` processes share one port, and
# as many `bench hold` processes each open their share from a network of
# loopback source addresses of their own (--source 127.W.0.0/28: 14 hosts,
# each a full ephemeral port range, so that no (source, server) pair goes
# past half the range, where Linux's connect() scan collapses); their
# reports are added up by `tcpkit bench merge`.
#
#   bash bench/million.sh [TOTAL] [HOLD_SECONDS]      (defaults 1000000 10)
#   OPEN_BATCH=N bash bench/million.sh                 (default 8)
#
# Prints the merged report (opened, open time, sample answered) and the
# servers' RSS per connection, and the kernel's slab memory per
# connection (both ends: the client's socket and the server's). Loopback only; every process it starts is
# stopped by its pid; it ends by itself.
set -uo pipefail
cd "$(dirname "$0")/.."
total=${1:-1000000}
hold=${2:-10}
# Connects each bench thread makes before it reads their welcomes: fewer
# wake-ups on both ends (README, bench --open-batch); the servers' backlog
# (1024) holds every bench's threads times this many.
batch=${OPEN_BATCH:-8}
cargo build --release -q || exit 1
# In a network namespace of its own when it may (as root): a loopback of
# its own, where no connection-tracking table fills up. A host whose
# firewall tracks connections (podman's rules load nf_conntrack) drops
# every SYN past net.netfilter.nf_conntrack_max (262,144 here), and the
# connects then crawl on the SYN retransmits' backoff.
if [ -z "${MILLION_NETNS:-}" ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  export MILLION_NETNS=1
  exec unshare -n bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
bin=$PWD/target/release/tcpkit
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# 19,000 connections per process on either side, under the 20,000 files.
each=19000
procs=$(( (total + each - 1) / each ))
per=$(( (total + procs - 1) / procs ))
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
server_pids=()
for i in $(seq "$procs"); do
  "$bin" -q serve --bind "127.0.0.1:$port" --reuse-port --idle-timeout 0 --no-connection-logs \
    2>"$work/serve.$i.log" &
  pids+=($!); server_pids+=($!)
done
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()" 2>/dev/null && break
  sleep 0.1
done
sleep 1
rss() { local sum=0; for p in "${server_pids[@]}"; do sum=$((sum + $(awk '/VmRSS/ {print $2}' /proc/$p/status))); done; echo $sum; }
# The kernel's side: socket structures live in its slab caches.
slab() { awk '/^Slab:/ {print $2}' /proc/meminfo; }
idle=$(rss); idle_slab=$(slab)
echo "million: $total connections to 127.0.0.1:$port, $procs servers, $procs benches of $per each"

bench_pids=()
for w in $(seq "$procs"); do
  "$bin" -qq bench hold "127.0.0.1:$port" -c "$per" --source "127.$w.0.0/28" --open-batch "$batch" \
    --duration "${hold}s" --sample 100 --json >"$work/hold.$w.json" 2>"$work/hold.$w.err" &
  pids+=($!); bench_pids+=($!)
done
# The servers' memory once every connection is open (each bench holds
# them idle for $hold s after).
benches_alive() { for p in "${bench_pids[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
# Listing a million descriptors under /proc every half second took 3.5 %
# of the CPU during the opening (perf record -a), so in its own namespace
# the script first waits on the kernel's count of TCP sockets there (both
# ends of every connection, counted before the server accepts), then
# counts the servers' descriptors, once they are nearly all open.
if [ -n "${MILLION_NETNS:-}" ]; then
  while [ "$(awk '/^TCP:/ {print $3}' /proc/net/sockstat)" -lt $((2 * total)) ] && benches_alive; do
    sleep 0.5
  done
fi
while :; do
  open=0
  for p in "${server_pids[@]}"; do open=$((open + $(ls /proc/$p/fd | wc -l))); done
  [ "$open" -ge $((total + procs * 10)) ] && break
  benches_alive || break
  sleep 0.5
done
held=$(rss); held_slab=$(slab)
failed=0
for p in "${bench_pids[@]}"; do wait "$p" || failed=1; done
for w in $(seq "$procs"); do
  [ -s "$work/hold.$w.json" ] || { echo "bench $w: $(tail -c 300 "$work/hold.$w.err")"; failed=1; }
done
"$bin" bench merge "$work"/hold.*.json || failed=1
echo "servers' RSS: $idle KiB idle, $held KiB holding them:" \
  "$(( (held - idle) * 1024 / total )) bytes per connection"
echo "kernel slab: $(( (held_slab - idle_slab) * 1024 / total )) bytes per connection" \
  "(both ends, client and server, with the sockets' state; /proc/meminfo)"
echo "verdict: $([ "$failed" = 0 ] && echo PASS || echo FAIL)"
exit "$failed"
