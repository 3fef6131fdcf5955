#!/bin/bash
# Server CPU per churn session with logging on (to a file: a reader that
# keeps up), BASE binary against NEW, alternated, server on core 0 and the
# bench on core 1. EXTRA=--trace measures the --trace lines instead.
#   bash bench/log_cost.sh BASE_BIN [NEW_BIN]
BASE=${1:?base tcpkit binary}
NEW=${2:-target/release/tcpkit}
for round in 1 2 3 4 5 6; do
for name in base new; do
  if [ $name = base ]; then bin=$BASE; else bin=$NEW; fi
  port=$((20000 + RANDOM % 20000))
  taskset -c 0 "$bin" serve --bind 127.0.0.1:$port $EXTRA 2>/tmp/serve-$name.log &
  pid=$!
  sleep 0.3
  taskset -c 1 "$NEW" bench churn 127.0.0.1:$port -c 20 -d 3s --warmup 500ms --json --server-pid $pid 2>/dev/null \
    | python3 -c "import json,sys; d=json.load(sys.stdin); print('$name', round(d['per_second']), round(d['server_cpu_ns_per_unit']))"
  kill -TERM $pid; wait $pid
done; done | awk '{print; s[$1]+=$3; n[$1]++; r[$1]+=$2} END {for (k in s) print k, "mean sessions/s", r[k]/n[k], "server ns/session", s[k]/n[k]}'
