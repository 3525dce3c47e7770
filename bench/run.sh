#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make bench`: synack's benchmarks and the Linux kernel's TCP over loopback in one run, and
# docs/performance.md written from the results (ratios synack / Linux).
#   bench/run.sh [OUT.md]     default docs/performance.md; needs build/synack and iperf3
# Knobs (environment): CONCURRENCY (1,100,10000: the connection counts of bulk_concurrent and
# connections_concurrent), PICTURES (the curves' directory, default pictures/ beside OUT.md;
# drawn by bench/plot.sh with gnuplot), BENCH_ARGS (extra synack-bench options for every run,
# e.g. "--bulk-bytes 100000000 --connections 10000 --time-limit 5" for a short trial).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/performance.md}
bench=./build/synack-bench
CONCURRENCY=${CONCURRENCY:-1,100,10000}
PICTURES=${PICTURES:-$(dirname "$out")/pictures}
read -r -a bench_args <<<"${BENCH_ARGS:-}"
load_start=$(cut -d' ' -f1 /proc/loadavg)
tmp=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "synack (in-process, one core) ..." >&2
# Each benchmark in its own process, so memory figures and the peak RSS do not depend on
# what ran before (freed memory stays resident in malloc's arena).
# A benchmark that fails (or stops at its time limit) is reported; its figures that were
# printed are kept and the rest of the table shows "—".
for name in bulk connections memory_per_connection million; do
  $bench $name --json "${bench_args[@]}" | tee -a "$tmp/synack.jsonl" >&2 ||
    echo "synack-bench $name failed or was incomplete (exit status above)" >&2
done
# Scaling: the same work over 1, 100 and 10,000 concurrent connections.
for name in bulk_concurrent connections_concurrent; do
  $bench $name --concurrency "$CONCURRENCY" --json "${bench_args[@]}" | tee -a "$tmp/synack.jsonl" >&2 ||
    echo "synack-bench $name failed or was incomplete" >&2
done
# Over a real wire every checksum is computed and verified: the same bulk without offload.
$bench bulk --software-checksum --json | tee -a "$tmp/synack.jsonl" >&2
echo "Linux loopback, one thread ..." >&2
$bench --linux-loopback --json "${bench_args[@]}" | tee "$tmp/linux.jsonl" >&2

# iperf3: one stream on 127.0.0.1 for 5 s; the server serves one test (-1) and exits.
if command -v iperf3 >/dev/null; then
  echo "Linux loopback, iperf3 ..." >&2
  port=5299
  iperf3 -s -1 -p $port >/dev/null 2>&1 &
  server_pid=$!
  sleep 0.5
  if timeout 30 iperf3 -c 127.0.0.1 -p $port -t 5 -J >"$tmp/iperf3.json"; then
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(json.dumps({"name": "linux_bulk_iperf3", "value": d["end"]["sum_received"]["bits_per_second"] / 1e9, "unit": "Gbit/s"}))
' "$tmp/iperf3.json" | tee -a "$tmp/linux.jsonl" >&2
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=
else
  echo "iperf3 not installed (apt-get install iperf3): Linux bulk from the one-thread loop only" >&2
fi

mkdir -p "$PICTURES"
python3 - "$tmp/synack.jsonl" "$tmp/linux.jsonl" "$out" "$CONCURRENCY" "$PICTURES" "$tmp" "$load_start" \
  "${BENCH_ARGS:-}" <<'EOF'
import json, os, platform, subprocess, sys, datetime
def load(p):
    return {r["name"]: r for r in map(json.loads, filter(str.strip, open(p)))}
s, l, out = load(sys.argv[1]), load(sys.argv[2]), sys.argv[3]
levels = [int(x) for x in sys.argv[4].split(",")]
pictures, tmp, load_start, bench_args = sys.argv[5], sys.argv[6], sys.argv[7], sys.argv[8]
cpu = next((x.split(":", 1)[1].strip() for x in open("/proc/cpuinfo") if x.startswith("model name")), "?")
def v(d, k): return d[k]["value"] if k in d else None
def fmt(x): return "—" if x is None else (f"{x:,.0f}" if x >= 1000 else f"{x:.3g}")
def ratio(a, b): return "—" if a is None or not b else f"{a / b:.2f}×"
linux_bulk = v(l, "linux_bulk_iperf3") or v(l, "linux_bulk_1thread")
rows = [
  ("bulk, one connection (Gbit/s)", v(s, "bulk"), linux_bulk, "≥ 1× (issue 14)", ratio(v(s, "bulk"), linux_bulk)),
  ("  checksums in software (Gbit/s)", v(s, "bulk_software_checksum"), linux_bulk, "", ratio(v(s, "bulk_software_checksum"), linux_bulk)),
  ("  vs kernel on one thread (Gbit/s)", v(s, "bulk"), v(l, "linux_bulk_1thread"), "", ratio(v(s, "bulk"), v(l, "linux_bulk_1thread"))),
  ("connections: open, 1 B each way, close (/s)", v(s, "connections"), v(l, "linux_connections"), "≥ 3× (issue 14)", ratio(v(s, "connections"), v(l, "linux_connections"))),
  ("memory per idle connection end, heap (bytes)", v(s, "memory_per_connection"), None, "≤ 1024", ""),
  ("memory per idle connection end, RSS (bytes)", v(s, "memory_per_connection_rss"), None, "≤ 1024", ""),
  ("sizeof(tcp::Connection) (bytes)", v(s, "sizeof_tcp_connection"), None, "", ""),
  ("stack overhead per connection (bytes)", v(s, "stack_overhead_per_connection"), None, "", ""),
  ("1,000,000 connections: setup (s)", v(s, "million_setup_time"), None, "", ""),
  ("1,000,000 connections: peak RSS (MiB)", v(s, "million_peak_rss"), None, "< 4096", ""),
]
lines = ["| measure | synack | Linux loopback | target | ratio |", "|---|---:|---:|---:|---:|"]
lines += [f"| {n} | {fmt(a)} | {fmt(b)} | {t} | {r} |" for n, a, b, t, r in rows]
table = "\n".join(lines)

# Scaling: one row per connection count, and the two curves.
def n(k): return f"{k:,}"
scaling = ["| connections at once | bulk, all sending (Gbit/s, aggregate) | per-connection buffer (KiB) "
           "| fairness at half-way (Jain index) | connection cycles (/s, all clients together) |",
           "|---:|---:|---:|---:|---:|"]
for k in levels:
    scaling.append(f"| {n(k)} | {fmt(v(s, f'bulk_c{k}'))} | {fmt(v(s, f'bulk_c{k}_buffer'))} "
                   f"| {fmt(v(s, f'bulk_c{k}_fairness'))} | {fmt(v(s, f'connections_c{k}'))} |")
scaling = "\n".join(scaling)
rel = os.path.relpath(pictures, os.path.dirname(os.path.abspath(out)) or ".")
pictures_md = []
for key, title, ylabel, svg in (
        ("bulk_c", "synack-bench bulk over N concurrent connections", "Gbit/s (aggregate)", "bench-inmemory-bulk.svg"),
        ("connections_c", "synack-bench connection cycles with N concurrent clients", "cycles/s", "bench-inmemory-cycles.svg")):
    data = os.path.join(tmp, svg + ".dat")
    with open(data, "w") as f:
        f.write('x "synack (in-process, one core)"\n')
        for k in levels:
            x = v(s, f"{key}{k}")
            f.write(f"{k} {'-' if x is None else x}\n")
    subprocess.run(["bench/plot.sh", os.path.join(pictures, svg), title, "concurrent connections",
                    ylabel, data], check=True)
    pictures_md.append(f"![{title}]({rel}/{svg})")

load = open("/proc/loadavg").read().split()[0]
machine = (f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, "
           f"run {datetime.date.today().isoformat()}, load average {load_start} at the start and {load} at the end")
loaded = ""
if float(load_start) >= os.cpu_count() / 2:
    loaded = (f"\n\n**Loaded machine:** the load average was {load_start} when the run started, on "
              f"{os.cpu_count()} CPUs: other work shared the CPUs, so these figures are not this "
              "machine's best. Rerun `make bench` on an idle machine.")
if bench_args.strip():
    loaded += (f"\n\n**Not the default sizes:** run with `BENCH_ARGS=\"{bench_args.strip()}\"`; the row "
               "labels name the defaults.")
begin, end = "<!-- results: begin (bench/run.sh) -->", "<!-- results: end -->"
block = f"""{begin}
Machine: {machine}.{loaded}

{table}

Scaling (`synack-bench bulk_concurrent connections_concurrent --concurrency {",".join(map(str, levels))}`):
bulk with every connection sending at once, {fmt(v(s, f"bulk_c{levels[-1]}_buffer"))} KiB send and
receive buffers per connection at {n(levels[-1])} (256 MiB shared out, at least 32 KiB; the stacks' 4 MiB
for one); connection cycles with that many clients cycling at once.

{scaling}

{(chr(10) * 2).join(pictures_md)}
{end}"""
doc = open(out).read() if os.path.exists(out) else f"# Performance\n\n{begin}\n{end}\n"
if begin in doc and end in doc:
    doc = doc[:doc.index(begin)] + block + doc[doc.index(end) + len(end):]
else:
    doc += "\n" + block + "\n"
open(out, "w").write(doc)
print(table)
print()
print(scaling)
EOF
echo "wrote $out" >&2
