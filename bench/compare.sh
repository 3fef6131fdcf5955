#!/usr/bin/env bash
# Runs every bench scenario against four greeting servers, each pinned to
# core 0 while `tcpkit bench` runs pinned to core 1, and writes the table
# to BENCHMARKS.md and the chart to bench/chart.svg.
#
#   bash bench/compare.sh [SECONDS]        (measured seconds per run, default 3)
#   ROUNDS=3 bash bench/compare.sh [SECONDS]
#   BASELINE=/path/to/old/tcpkit bash bench/compare.sh [SECONDS]
#
# With BASELINE, the same scenarios run against this build's serve and
# the given binary's, alternately, and a ratio table is printed instead
# (BENCHMARKS.md is left alone): a same-run check that a change cost
# nothing.
#
# Servers: tcpkit serve; the plainest idiomatic tokio server
# (examples/plain_tokio_server.rs); the tutorial's thread-per-connection
# Python server rendered for lines (bench/servers/tutorial_lines.py); and a
# minimal C epoll server (bench/servers/epoll_server.c), the yardstick that
# shows the bench keeps up. Loopback only, a few minutes a round; every
# server is stopped by its pid.
#
# With ROUNDS=N, every server runs every scenario N times, one server
# after another each round, and the table keeps each one's best run (by
# server CPU per unit; hold: RSS per connection): this 2-core machine's
# figures move by a quarter from run to run, more than the servers
# differ, and alternating rounds spread that over all of them.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-3}
for tool in taskset cc python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install util-linux gcc python3)" >&2; exit 1; }
done
cargo build --release -q || exit 1
cargo build --release -q --example plain_tokio_server || exit 1
work=$(mktemp -d)
cc -O2 -o "$work/epoll_server" bench/servers/epoll_server.c || exit 1
bin=$PWD/target/release/tcpkit
results=$work/results.jsonl
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start NAME PORT: starts a server on core 0 and waits until it listens.
start() {
  local name=$1 port=$2
  case $name in
    tcpkit) taskset -c 0 "$bin" -q serve --bind "127.0.0.1:$port" & ;;
    baseline) taskset -c 0 "$BASELINE" -q serve --bind "127.0.0.1:$port" & ;;
    tokio) taskset -c 0 target/release/examples/plain_tokio_server "127.0.0.1:$port" 2>/dev/null & ;;
    python) taskset -c 0 python3 bench/servers/tutorial_lines.py "$port" 2>/dev/null & ;;
    c-epoll) taskset -c 0 "$work/epoll_server" "$port" 2>/dev/null & ;;
  esac
  server_pid=$!
  for _ in $(seq 200); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2).close()" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "$name did not start" >&2
  return 1
}

stop() {
  kill "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null
  server_pid=""
}

# bench NAME PORT LABEL ARGS...: one run, its JSON tagged with server and label.
bench() {
  local name=$1 port=$2 label=$3; shift 3
  echo "  $name: $label" >&2
  local out
  out=$(taskset -c 1 "$bin" bench "$@" "127.0.0.1:$port" --json --threads 1 \
        --server-pid "$server_pid" 2>"$work/stderr")
  if [ -z "$out" ]; then
    echo "    failed: $(tail -1 "$work/stderr")" >&2
    return
  fi
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r["server_name"]=sys.argv[2]; r["label"]=sys.argv[3]; r["round"]=int(sys.argv[4]); print(json.dumps(r))' \
    "$out" "$name" "$label" "$round" >>"$results"
}

run="--warmup 1s --duration ${seconds}s"
servers="tcpkit tokio python c-epoll"
[ -n "${BASELINE:-}" ] && servers="tcpkit baseline baseline tcpkit"
for round in $(seq "${ROUNDS:-1}"); do
for name in $servers; do
  echo "$name (round $round):" >&2
  port=$(free_port)
  start "$name" "$port" || continue
  bench "$name" "$port" "pingpong 1" pingpong -c 1 $run
  bench "$name" "$port" "pingpong 100" pingpong -c 100 $run
  bench "$name" "$port" "pipeline 50x64" pipeline -c 50 --depth 64 $run
  bench "$name" "$port" "churn 1000" churn -c 1000 $run
  # Idle connections: the Python server needs a thread (and its stack)
  # for each, so it holds fewer; every figure is per connection.
  if [ "$name" = python ]; then held=2000; else held=19000; fi
  stop
  start "$name" "$port" || continue
  bench "$name" "$port" "hold $held" hold -c "$held" --duration 2s
  stop
done
done

if [ -n "${BASELINE:-}" ]; then
  # Each server ran twice (ABBA); the table shows both and the ratio of
  # the best of each, for server CPU per unit and, for hold, RSS per
  # connection (lower is better for both).
  python3 - "$results" <<'PY'
import json, sys
runs = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    key = "server_rss_per_connection" if r["scenario"] == "hold" else "server_cpu_ns_per_unit"
    runs.setdefault((r["label"], key), {}).setdefault(r["server_name"], []).append(r.get(key))
print("| run | measure | this build | baseline | ratio (best of each) |")
print("|---|---|---|---|---|")
for (label, key), by in runs.items():
    now, base = by.get("tcpkit", []), by.get("baseline", [])
    fmt = lambda vs: ", ".join("-" if v is None else f"{v:.1f}" for v in vs)
    good = lambda vs: [v for v in vs if v is not None]
    ratio = f"{min(good(now)) / min(good(base)):.3f}" if good(now) and good(base) else "-"
    unit = "B/conn" if "rss" in key else "ns/unit"
    print(f"| {label} | server {unit} | {fmt(now)} | {fmt(base)} | {ratio} |")
PY
else
  python3 bench/report.py "$results" BENCHMARKS.md bench/chart.svg
  echo "wrote BENCHMARKS.md and bench/chart.svg" >&2
fi
