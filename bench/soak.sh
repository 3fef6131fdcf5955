#!/usr/bin/env bash
# Soak: `tcpkit serve` under mixed load for a while, hostile clients
# included, then a verdict.
#
#   bash bench/soak.sh [SECONDS] [--tls]  (default 60; the closing notes quote 600)
#
# With --tls the server speaks TLS (a self-signed certificate) and every
# client below does too.
#
# Load, all on 127.0.0.1 and stopping by itself after SECONDS:
#   - bench pipeline (20 connections x 16 in flight) and bench churn (4),
#     checking every reply;
#   - a pool of 2,000 idle connections (bench hold);
#   - hostile clients (bench/hostile.py): 50 that flood without reading,
#     50 slowloris drips, 10 sending lines over --max-message, 50 holding
#     64 KiB unfinished lines; each is reopened when the server closes it.
# The server runs on core 0, the load on core 1. Its RSS and open fds are
# sampled every second.
#
# Verdict (exit 0 only if all hold):
#   - RSS flat after warm-up: the median of the last quarter is within 10 %
#     (or 4 MB) of the median of the second quarter;
#   - fds back to the baseline 5 s after the load ends;
#   - 0 wrong replies and 0 errors in pipeline and churn, and every sampled
#     idle connection still answers.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
tls=${2:-}
for tool in taskset python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install util-linux python3)" >&2; exit 1; }
done
cargo build --release -q || exit 1
bin=$PWD/target/release/tcpkit
work=$(mktemp -d)
server_pid=""
load_pids=()
cleanup() {
  for pid in "${load_pids[@]}"; do kill "$pid" 2>/dev/null; done
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
addr=127.0.0.1:$port
# The idle pool must outlive the run: idle timeout past its end.
serve_tls=() bench_tls=() hostile_tls=()
if [ "$tls" = --tls ]; then
  serve_tls=(--tls-self-signed --tls-cert-out "$work/cert.pem")
  bench_tls=(--tls --cacert "$work/cert.pem")
  hostile_tls=(--tls "$work/cert.pem")
fi
taskset -c 0 "$bin" -q serve --bind "$addr" --idle-timeout "$((seconds + 60))s" \
  --message-timeout 10s --write-timeout 5s "${serve_tls[@]}" 2>"$work/serve.log" &
server_pid=$!
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()" 2>/dev/null && break
  sleep 0.1
done
sleep 1
fd_base=$(ls /proc/$server_pid/fd | wc -l)
rss_base=$(awk '/VmRSS/ {print $2}' /proc/$server_pid/status)
echo "soak${tls:+ (TLS)}: $seconds s against $addr (server pid $server_pid; idle: $rss_base KiB, $fd_base fds)"

# hold has no warm-up (it refuses --warmup); the others start measuring at once.
load() { taskset -c 1 "$bin" bench "$@" "$addr" --duration "${seconds}s" --json "${bench_tls[@]}"; }
load pipeline -c 20 --depth 16 --threads 1 --warmup 0s >"$work/pipeline.json" 2>"$work/pipeline.err" & load_pids+=($!)
load churn -c 4 --threads 1 --warmup 0s >"$work/churn.json" 2>"$work/churn.err" & load_pids+=($!)
load hold -c 2000 >"$work/hold.json" 2>"$work/hold.err" & load_pids+=($!)
taskset -c 1 python3 bench/hostile.py "$port" "$seconds" --non-readers 50 --drips 50 \
  --oversize 10 --partial 50 --pid "$server_pid" --json "${hostile_tls[@]}" >"$work/hostile.json" & load_pids+=($!)
for pid in "${load_pids[@]}"; do wait "$pid"; done
load_pids=()
sleep 5
fd_end=$(ls /proc/$server_pid/fd | wc -l)
rss_end=$(awk '/VmRSS/ {print $2}' /proc/$server_pid/status)

python3 - "$work" "$fd_base" "$fd_end" "$rss_base" "$rss_end" <<'PY'
import json, statistics, sys
work, fd_base, fd_end, rss_base, rss_end = sys.argv[1], *map(int, sys.argv[2:])

def load(name):
    try:
        with open(f"{work}/{name}.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        err = open(f"{work}/{name}.err").read().strip()
        return {"error": err or "no report"}

verdicts = []
def check(ok, text):
    verdicts.append(ok)
    print(("PASS " if ok else "FAIL ") + text)

hostile = load("hostile")
samples = [s for s in hostile.get("samples", []) if s.get("rss_kib")]
rss = [s["rss_kib"] for s in samples]
q = max(1, len(rss) // 4)
warm, last = statistics.median(rss[q:2 * q] or rss), statistics.median(rss[-q:])
check(last <= max(warm * 1.10, warm + 4096),
      f"RSS flat after warm-up: median {warm:.0f} KiB (2nd quarter) -> {last:.0f} KiB (last quarter); "
      f"peak {max(rss)} KiB; idle {rss_base} KiB before, {rss_end} KiB 5 s after")
check(fd_end <= fd_base, f"fds back to baseline: {fd_base} before, {fd_end} 5 s after (peak {max(s['fds'] or 0 for s in samples)})")
for name in ("pipeline", "churn", "hold"):
    r = load(name)
    if "error" in r:
        check(False, f"{name}: {r['error']}")
        continue
    bad = r.get("errors", 0) + r.get("mismatches", 0)
    extra = ""
    if name == "hold":
        extra = f", sampled {r.get('sampled')} answered {r.get('sampled_ok')}"
        bad += (r.get("sampled") or 0) - (r.get("sampled_ok") or 0)
    check(bad == 0, f"{name}: {r.get('done')} {r.get('unit')}, {r.get('per_second', 0):.0f}/s, "
          f"errors {r.get('errors')}, wrong replies {r.get('mismatches')}{extra}")
print("hostile clients opened:", hostile.get("opened"), "closed by the server:", hostile.get("closed_by_server"))
print("verdict:", "PASS" if all(verdicts) else "FAIL")
sys.exit(0 if all(verdicts) else 1)
PY
