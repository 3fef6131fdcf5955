#!/bin/bash
# bench's open loop against its closed loop and an independent Python
# open-loop client (tests/peers/openloop.py), one connection, server on
# core 0 and the clients on core 1.  SERVE=--delay\ 10ms for a slow server.
#   bash bench/pacing.sh [BENCH_BIN]
B=${1:-target/release/tcpkit}
S=target/release/tcpkit
port=$((20000 + RANDOM % 20000))
taskset -c 0 $S serve --bind 127.0.0.1:$port -q $SERVE 2>/dev/null & pid=$!; sleep 0.3
j() { python3 -c 'import json,sys; d=json.load(sys.stdin); l=d["latency_us"]; s=d.get("send_lateness_us"); print("p50 %.1fus p99 %.1fus rate %.0f late %s notes %s" % (l["p50"], l["p99"], d["per_second"], s and "p50 %.1f p99 %.1f max %.1f" % (s["p50"], s["p99"], s["max"]), d["notes"]))'; }
echo -n "closed: "; taskset -c 1 $B bench pingpong 127.0.0.1:$port -c 1 -d 2s --warmup 300ms --json 2>/dev/null | j
for r in 100 1000 10000; do
  echo -n "R $r: "; taskset -c 1 $B bench pingpong 127.0.0.1:$port -c 1 -R $r -d 2s --warmup 300ms --json 2>/dev/null | j
  echo "R $r python p50 $(taskset -c 1 python3 tests/peers/openloop.py 127.0.0.1 $port $r 2)us"
done
kill $pid
