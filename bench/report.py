#!/usr/bin/env python3
"""Turns bench/compare.sh's JSON lines into BENCHMARKS.md and an SVG chart.

    report.py RESULTS.jsonl BENCHMARKS.md CHART.svg
"""
import datetime
import json
import platform
import statistics
import subprocess
import sys

SERVERS = ["tcpkit", "tokio", "python", "c-epoll"]
NAMES = {
    "tcpkit": "tcpkit serve",
    "tokio": "plain tokio",
    "python": "tutorial (Python threads)",
    "c-epoll": "C epoll (yardstick)",
}
COLORS = {"tcpkit": "#d9480f", "tokio": "#1c7ed6", "python": "#2b8a3e", "c-epoll": "#868e96"}


def measure(r):
    """What a run is judged by, lower being better: the server's CPU per
    reply or session, and for hold its RSS per connection."""
    key = "server_rss_per_connection" if r["scenario"] == "hold" else "server_cpu_ns_per_unit"
    v = r.get(key)
    return float("inf") if v is None else v


def load(path):
    """The best run of each scenario and server (of the rounds it ran:
    `ROUNDS=3`), whole, so that a cell's figures come from one run."""
    rows = {}
    for line in open(path):
        r = json.loads(line)
        key = (r["label"], r["server_name"])
        if key not in rows or measure(r) < measure(rows[key]):
            rows[key] = r
    return rows


def rounds_of(path):
    """How many runs each scenario and server had (the most of any)."""
    counts = {}
    for line in open(path):
        r = json.loads(line)
        key = (r["label"], r["server_name"])
        counts[key] = counts.get(key, 0) + 1
    return max(counts.values(), default=1)


def runs_of(path):
    """Every run's measure, by scenario, server and round (a run that
    failed has none, and its round pairs with nothing)."""
    runs = {}
    for i, line in enumerate(open(path)):
        r = json.loads(line)
        by_round = runs.setdefault(r["label"], {}).setdefault(r["server_name"], {})
        by_round[r.get("round", i)] = measure(r)
    return runs


def spread(runs, rounds):
    """With several rounds, the best run alone flatters whichever server had
    one lucky round: the median of each server's runs, their range, and the
    ratio of C's measure over tcpkit's round by round (the two ran minutes
    apart in the same round) with its median. Lower measures are better, so
    a ratio above 1 is tcpkit ahead."""
    if rounds < 2:
        return []
    out = ["", f"Across the {rounds} rounds (server CPU per reply or session; hold: RSS per connection):", "",
           "| scenario | tcpkit: median (range) | C epoll: median (range) | C epoll / tcpkit, round by round | median ratio |",
           "|---|---|---|---|---|"]
    def summary(vs):
        vs = [v for v in vs if v != float("inf")]
        if not vs:
            return "-"
        return f"{statistics.median(vs):,.0f} ({min(vs):,.0f}-{max(vs):,.0f})"
    for label, by in runs.items():
        ours, c = by.get("tcpkit", {}), by.get("c-epoll", {})
        pairs = [c[k] / ours[k] for k in sorted(ours) if k in c
                 and 0 < ours[k] < float("inf") and c[k] < float("inf")]
        ours, c = list(ours.values()), list(c.values())
        each = ", ".join(f"{x:.2f}" for x in pairs) or "-"
        mid = f"{statistics.median(pairs):.2f}x" if pairs and "hold" not in label else "-"
        if "hold" in label:
            each = "-"
        out.append(f"| {label} | {summary(ours)} | {summary(c)} | {each} | {mid} |")
    return out


def labels(rows):
    seen = []
    for label, _ in rows:
        if label not in seen:
            seen.append(label)
    # hold labels differ by count; keep them last
    return sorted(seen, key=lambda l: (l.startswith("hold"), seen.index(l)))


def fmt_rate(v):
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def fmt_us(v):
    if v is None:
        return "-"
    if v >= 1000:
        return f"{v / 1000:.2f} ms"
    return f"{v:.0f} µs"


def cell(r):
    if r is None:
        return "not run"
    bad = "" if r["errors"] == 0 and r["mismatches"] == 0 else f" **{r['errors']} err, {r['mismatches']} wrong**"
    if r["scenario"] == "hold":
        rss = r.get("server_rss_per_connection")
        rss = f"{rss:,.0f} B/conn" if rss is not None else "-"
        return f"{rss}; {r['sampled_ok']}/{r['sampled']} answered{bad}"
    lat = r.get("latency_us") or {}
    cpu = r.get("server_cpu_ns_per_unit")
    cpu = f"; {cpu:,.0f} ns CPU" if cpu is not None else ""
    busy = r.get("bench_cores_busy")
    busy = f"; bench {busy * 100:.0f}%" if busy is not None else ""
    return f"{fmt_rate(r['per_second'])}/s; p99 {fmt_us(lat.get('p99'))}{cpu}{busy}{bad}"


def machine():
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return f"{cpu}, {cores} cores; kernel {platform.release()}; {datetime.date.today().isoformat()}"


def ratio(rows, label, a, b, key="per_second"):
    ra, rb = rows.get((label, a)), rows.get((label, b))
    if not ra or not rb or not rb.get(key):
        return "-"
    return f"{ra[key] / rb[key]:.1f}x"


def markdown(rows, rounds=1, runs=None):
    ls = labels(rows)
    best = (f" Best of {rounds} alternating rounds (every server once a round), by server CPU"
            " (hold: RSS) per unit; each cell is one run's figures.") if rounds > 1 else ""
    out = ["# Benchmarks", "",
           f"Measured by `bash bench/compare.sh` on {machine()}.",
           "Each server pinned to core 0 (`taskset -c 0`), `tcpkit bench --threads 1` pinned to core 1;",
           "1 s warm-up, then the measured seconds; every reply checked byte for byte." + best,
           "Cells: throughput (replies or sessions per second); p99 latency; server CPU time per reply or",
           "session (from /proc, `--server-pid`); how busy the bench's own core was (near 100 %: the",
           "bench set the pace, not the server). Hold: server RSS growth per idle connection.", "",
           "| scenario | " + " | ".join(NAMES[s] for s in SERVERS) + " |",
           "|---|" + "---|" * len(SERVERS)]
    for label in ls:
        out.append(f"| {label} | " + " | ".join(cell(rows.get((label, s))) for s in SERVERS) + " |")
    out += ["", "Ratios (throughput):", "",
            "| scenario | tcpkit / plain tokio | tcpkit / tutorial Python | tcpkit / C epoll |",
            "|---|---|---|---|"]
    for label in ls:
        if label.startswith("hold"):
            continue
        out.append(f"| {label} | {ratio(rows, label, 'tcpkit', 'tokio')} | "
                   f"{ratio(rows, label, 'tcpkit', 'python')} | {ratio(rows, label, 'tcpkit', 'c-epoll')} |")
    out += spread(runs or {}, rounds)
    out += ["", "![throughput and p99 per server and scenario](bench/chart.svg)", "",
            "What the numbers mean: this machine has 2 cores and runs under a sandboxing kernel where",
            "system calls are costly, so the absolute figures are low and noisy (±25 % run to run);",
            "compare servers within one run. Pingpong is bound by loopback round trips, so fast",
            "servers tie there and the CPU column shows the difference. See README, Performance.", ""]
    return "\n".join(out)


def svg(rows):
    ls = [l for l in labels(rows) if not l.startswith("hold")]
    width, row_h, bar_h, left = 900, 120, 22, 150
    height = 60 + row_h * len(ls)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             '<text x="10" y="20" font-size="14" font-weight="bold">Throughput per server '
             '(log scale; label: rate and p99)</text>']
    for i, s in enumerate(SERVERS):
        parts.append(f'<rect x="{10 + i * 200}" y="32" width="12" height="12" fill="{COLORS[s]}"/>'
                     f'<text x="{26 + i * 200}" y="43">{NAMES[s]}</text>')
    import math
    top = max((r["per_second"] for r in rows.values() if r["scenario"] != "hold"), default=1)
    span = math.log10(max(top, 10)) - 2  # from 100/s
    for j, label in enumerate(ls):
        y0 = 60 + j * row_h
        parts.append(f'<text x="10" y="{y0 + 50}" font-weight="bold">{label}</text>')
        for i, s in enumerate(SERVERS):
            r = rows.get((label, s))
            y = y0 + 4 + i * (bar_h + 4)
            if not r:
                continue
            v = max(r["per_second"], 100)
            w = (width - left - 230) * (math.log10(v) - 2) / span
            p99 = fmt_us((r.get("latency_us") or {}).get("p99"))
            parts.append(f'<rect x="{left}" y="{y}" width="{max(w, 1):.0f}" height="{bar_h}" fill="{COLORS[s]}"/>'
                         f'<text x="{left + max(w, 1) + 6:.0f}" y="{y + 15}">{fmt_rate(r["per_second"])}/s, p99 {p99}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def main():
    rows = load(sys.argv[1])
    # What follows the marker is written by hand (the goals, what moved and
    # why) and kept across runs.
    marker = "<!-- kept across runs: written by hand below -->"
    try:
        kept = open(sys.argv[2]).read().split(marker, 1)
    except OSError:
        kept = []
    tail = "\n" + marker + kept[1] if len(kept) == 2 else ""
    open(sys.argv[2], "w").write(markdown(rows, rounds_of(sys.argv[1]), runs_of(sys.argv[1])) + tail)
    open(sys.argv[3], "w").write(svg(rows) + "\n")


if __name__ == "__main__":
    main()
