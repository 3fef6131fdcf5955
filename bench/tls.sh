#!/usr/bin/env bash
# TLS against plain, measured in the same run with the server on core 0
# and the load on core 1 (loopback only; each server stopped by its pid):
#
#   bash bench/tls.sh pipeline     server CPU per reply, pipeline 50x64:
#                                  plain and TLS 1.3, with the C epoll
#                                  yardstick plain and over OpenSSL
#                                  (bench/servers/, needs libssl-dev),
#                                  ROUNDS alternating rounds (default 3);
#                                  then each one's median and C's over
#                                  tcpkit's, round by round (and the plain
#                                  server of $BASELINE, if set)
#   bash bench/tls.sh handshake    server CPU per opening: bench handshake
#                                  full and resumed, openssl s_time as a
#                                  cross-check (TLS 1.3 and 1.2), and plain
#   bash bench/tls.sh hold [N]     idle memory per connection, plain and
#                                  TLS, N connections (default 10000)
set -u
cd "$(dirname "$0")/.."
cargo build --release -q || exit 1
NOW=$PWD/target/release/tcpkit
BASE=${BASELINE:-}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
start() { # bin port args...
  local bin=$1 port=$2; shift 2
  taskset -c 0 $bin --plain-logs -q serve --bind 127.0.0.1:$port --idle-timeout 0 "$@" >/dev/null 2>$D/log.$port &
  echo $! > $D/pid.$port
  for i in $(seq 50); do nc -z 127.0.0.1 $port 2>/dev/null && break; sleep 0.1; done
}
stop() { kill $(cat $D/pid.$1); wait $(cat $D/pid.$1) 2>/dev/null; }
cpu() { # pid -> utime+stime ticks
  awk '{print $14+$15}' /proc/$1/stat
}
json() { python3 -c "import json,sys; r=json.load(sys.stdin); print(' '.join(str(r.get(k)) for k in sys.argv[1:]))" "$@"; }
mode=${1:-}
case $mode in
pipeline)
  # One certificate and key (ECDSA P-256, as --tls-self-signed makes) for
  # both TLS servers, so that they differ only in their code.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout $D/key.pem -out $D/cert.pem 2>/dev/null || { echo "openssl req failed" >&2; exit 1; }
  cc -O2 -o $D/epoll bench/servers/epoll_server.c || exit 1
  cc -O2 -o $D/epoll_tls bench/servers/epoll_tls_server.c -lssl -lcrypto \
    || { echo "cannot build the C TLS yardstick: install libssl-dev" >&2; exit 1; }
  cstart() { # bin port args...
    local bin=$1 port=$2; shift 2
    taskset -c 0 $bin $port "$@" >/dev/null 2>&1 &
    echo $! > $D/pid.$port
    for i in $(seq 50); do nc -z 127.0.0.1 $port 2>/dev/null && break; sleep 0.1; done
  }
  kinds="now c tls c-tls"; [ -n "$BASE" ] && kinds="base $kinds"
  for round in $(seq ${ROUNDS:-3}); do
    for kind in $kinds; do
      tls=(--tls --cacert $D/cert.pem)
      case $kind in
        base) port=19501; start $BASE $port; extra=();;
        now) port=19502; start $NOW $port; extra=();;
        tls) port=19503; start $NOW $port --tls-cert $D/cert.pem --tls-key $D/key.pem; extra=("${tls[@]}");;
        c) port=19504; cstart $D/epoll $port; extra=();;
        c-tls) port=19505; cstart $D/epoll_tls $port $D/cert.pem $D/key.pem; extra=("${tls[@]}");;
      esac
      pid=$(cat $D/pid.$port)
      r=$(taskset -c 1 $NOW bench pipeline localhost:$port -c 50 --depth 64 --duration 3s --warmup 1s --threads 1 --server-pid $pid --json "${extra[@]}" | json per_second server_cpu_ns_per_unit errors)
      echo "round $round $kind: replies/s, server ns/reply, errors = $r" | tee -a $D/rounds
      stop $port
    done
  done
  # Medians, and C's CPU per reply over tcpkit's in each round (above 1:
  # tcpkit used less), plain against plain and TLS against TLS.
  python3 - $D/rounds <<'PY'
import statistics, sys
by = {}
for line in open(sys.argv[1]):
    kind = line.split()[2].rstrip(":")
    ns = line.split("=")[1].split()[1]
    by.setdefault(kind, []).append(float(ns) if ns != "None" else float("nan"))
for kind, v in by.items():
    print(f"{kind}: median {statistics.median(v):.1f} ns/reply (range {min(v):.1f}-{max(v):.1f})")
for ours, c in (("now", "c"), ("tls", "c-tls")):
    pairs = [b / a for a, b in zip(by.get(ours, []), by.get(c, []))]
    if pairs:
        print(f"{c} / {ours}, round by round: " + ", ".join(f"{x:.2f}" for x in pairs)
              + f"; median {statistics.median(pairs):.2f}x")
PY
  ;;
handshake)
  start $NOW 19510 --tls-self-signed --tls-cert-out $D/cert.pem
  pid=$(cat $D/pid.19510)
  for round in 1 2; do
    for kind in full resumed; do
      extra=(); [ $kind = full ] && extra=(--no-tls-resume)
      r=$(taskset -c 1 $NOW bench handshake localhost:19510 -c 16 --threads 1 --duration 3s --warmup 1s --server-pid $pid --json --tls --cacert $D/cert.pem "${extra[@]}" | json per_second server_cpu_ns_per_unit errors)
      echo "round $round bench handshake $kind: handshakes/s, server ns/handshake, errors = $r"
    done
    for v in tls1_3 tls1_2; do
    for kind in new reuse; do
      c0=$(cpu $pid)
      out=$(taskset -c 1 timeout 20 openssl s_time -connect 127.0.0.1:19510 -$kind -$v -time 3 -CAfile $D/cert.pem 2>&1 | grep -E "connections in [0-9.]+ real")
      c1=$(cpu $pid)
      n=$(echo "$out" | awk '{print $1}')
      echo "round $round openssl s_time -$kind -$v: $out; server $(( (c1-c0)*10000000 / (n>0?n:1) )) ns/handshake"
    done
    done
  done
  stop 19510
  start $NOW 19511; pid=$(cat $D/pid.19511)
  r=$(taskset -c 1 $NOW bench handshake localhost:19511 -c 16 --threads 1 --duration 3s --warmup 1s --server-pid $pid --json | json per_second server_cpu_ns_per_unit errors)
  echo "plain bench handshake (connect, welcome, close): connections/s, server ns/connection, errors = $r"
  stop 19511;;
hold)
  N=${2:-10000}
  start $NOW 19520; start $NOW 19521 --tls-self-signed --tls-cert-out $D/cert.pem
  for round in 1 2; do
    r=$(taskset -c 1 $NOW bench hold localhost:19520 -c $N --duration 2s --server-pid $(cat $D/pid.19520) --json | json server_rss_per_connection done sampled_ok errors)
    echo "round $round plain hold $N: rss/conn, done, sampled_ok, errors = $r"
    r=$(taskset -c 1 $NOW bench hold localhost:19521 -c $N --duration 2s --server-pid $(cat $D/pid.19521) --json --tls --cacert $D/cert.pem | json server_rss_per_connection done sampled_ok errors)
    echo "round $round tls hold $N: rss/conn, done, sampled_ok, errors = $r"
  done
  stop 19520; stop 19521;;
*) echo "usage: bash bench/tls.sh pipeline|handshake|hold [N]" >&2; exit 2;;
esac
