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
#   OPEN_BATCH=N bash bench/million.sh                 (default 64)
#   YARDSTICK=c bash bench/million.sh                  (the C yardsticks)
#
# YARDSTICK=c runs the same million with minimal C programs on both ends
# instead (bench/servers/epoll_server.c with SO_REUSEPORT, and
# bench/clients/open_client.c, one thread, the same batches and source
# networks): how fast this box opens connections when the programs on
# either end cost next to nothing, the floor to hold tcpkit's figure to.
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
# wake-ups on both ends (README, bench --open-batch). 64 opened the most a
# second here (BENCHMARKS.md), at the cost of each connection's open time,
# which includes its batch's connects. The servers' backlog (1024 each)
# holds their share of every bench's threads times this many.
batch=${OPEN_BATCH:-64}
yardstick=${YARDSTICK:-}
case "$yardstick" in
  "") cargo build --release -q || exit 1 ;;
  c) command -v cc >/dev/null || { echo "YARDSTICK=c needs a C compiler (apt-get install gcc)" >&2; exit 1; } ;;
  *) echo "YARDSTICK is c or unset, not '$yardstick'" >&2; exit 2 ;;
esac
# In a network namespace of its own when it may (as root): a loopback of
# its own, where no connection-tracking table fills up. A host whose
# firewall tracks connections (podman's rules load nf_conntrack) drops
# every SYN past net.netfilter.nf_conntrack_max (262,144 here), and the
# connects then crawl on the SYN retransmits' backoff.
# The namespace also gets a table of established sockets sized for the
# run (net.ipv4.tcp_child_ehash_entries, read once as a namespace is made):
# the host's, 262,144 buckets here, held two million sockets (both ends)
# eight to a bucket, and the kernel walks a bucket for every segment and
# every connect. The host's setting is put back as soon as the namespace
# exists.
if [ -z "${MILLION_NETNS:-}" ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  export MILLION_NETNS=1
  old=$(sysctl -n net.ipv4.tcp_child_ehash_entries 2>/dev/null)
  # Only once a namespace is known to be made here (a container may refuse
  # it), so that the host's setting is never left changed.
  if [ -n "$old" ] && command -v nsenter >/dev/null && unshare -n true 2>/dev/null; then
    buckets=1024
    while [ "$buckets" -lt $((2 * total)) ] && [ "$buckets" -lt 16777216 ]; do buckets=$((buckets * 2)); done
    sysctl -qw net.ipv4.tcp_child_ehash_entries="$buckets" && export MILLION_EHASH_WAS=$old
    exec 3</proc/self/ns/net
  fi
  exec unshare -n bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
if [ -n "${MILLION_EHASH_WAS:-}" ]; then
  nsenter --net=/proc/self/fd/3 sysctl -qw net.ipv4.tcp_child_ehash_entries="$MILLION_EHASH_WAS"
  exec 3<&-
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
if [ "$yardstick" = c ]; then
  cc -O2 -o "$work/epoll_server" bench/servers/epoll_server.c || exit 1
  cc -O2 -o "$work/open_client" bench/clients/open_client.c || exit 1
fi

# 19,000 connections per process on either side, under the 20,000 files.
each=19000
procs=$(( (total + each - 1) / each ))
per=$(( (total + procs - 1) / procs ))
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
server_pids=()
for i in $(seq "$procs"); do
  if [ "$yardstick" = c ]; then
    REUSEPORT=1 "$work/epoll_server" "$port" 2>"$work/serve.$i.log" &
  else
    "$bin" -q serve --bind "127.0.0.1:$port" --reuse-port --idle-timeout 0 --no-connection-logs \
      2>"$work/serve.$i.log" &
  fi
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
fds() { local sum=0; for p in "${server_pids[@]}"; do sum=$((sum + $(ls /proc/$p/fd | wc -l))); done; echo $sum; }
idle=$(rss); idle_slab=$(slab); idle_fds=$(fds)
echo "million: $total connections to 127.0.0.1:$port, $procs servers, $procs $([ "$yardstick" = c ] && echo "C clients" || echo benches) of $per each, $batch connects a batch"
if [ -n "${MILLION_NETNS:-}" ]; then
  # Negative: the namespace shares the host's table (Documentation/networking/ip-sysctl).
  ehash=$(sysctl -n net.ipv4.tcp_ehash_entries 2>/dev/null)
  case "$ehash" in
    -*) echo "in a network namespace of its own, sharing the host's table of established sockets (${ehash#-} buckets)" ;;
    "") echo "in a network namespace of its own" ;;
    *) echo "in a network namespace of its own, with its own table of established sockets ($ehash buckets)" ;;
  esac
fi

bench_pids=()
for w in $(seq "$procs"); do
  if [ "$yardstick" = c ]; then
    "$work/open_client" "$port" "$per" "127.$w.0" 14 "$batch" "$hold" \
      >"$work/open.$w.txt" 2>"$work/hold.$w.err" &
    pids+=($!); bench_pids+=($!)
    continue
  fi
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
  [ "$(fds)" -ge $((idle_fds + procs * per)) ] && break
  benches_alive || break
  sleep 0.5
done
held=$(rss); held_slab=$(slab)
failed=0
for p in "${bench_pids[@]}"; do wait "$p" || failed=1; done
if [ "$yardstick" = c ]; then
  # The opening runs from the first client's start to the last one's
  # end (the union of their windows, as bench merge takes it).
  for w in $(seq "$procs"); do
    [ -s "$work/open.$w.txt" ] || { echo "client $w: $(tail -c 300 "$work/hold.$w.err")"; failed=1; }
  done
  cat "$work"/open.*.txt | awk '{ n += $2; if (!first || $7 < first) first = $7; if ($9 > last) last = $9 }
    END { if (n) printf "C clients: %d connections opened in %.2f s: %.0f connections/s\n", n, last - first, n / (last - first) }'
else
  for w in $(seq "$procs"); do
    [ -s "$work/hold.$w.json" ] || { echo "bench $w: $(tail -c 300 "$work/hold.$w.err")"; failed=1; }
  done
  "$bin" bench merge "$work"/hold.*.json || failed=1
fi
echo "servers' RSS: $idle KiB idle, $held KiB holding them:" \
  "$(( (held - idle) * 1024 / total )) bytes per connection"
echo "kernel slab: $(( (held_slab - idle_slab) * 1024 / total )) bytes per connection" \
  "(both ends, client and server, with the sockets' state; /proc/meminfo)"
echo "verdict: $([ "$failed" = 0 ] && echo PASS || echo FAIL)"
exit "$failed"
