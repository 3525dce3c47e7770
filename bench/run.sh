#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make bench`: synack's benchmarks and the Linux kernel's TCP over loopback in one run, and
# docs/performance.md written from the results (ratios synack / Linux).
#   bench/run.sh [OUT.md]     default docs/performance.md; needs build/synack and iperf3
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/performance.md}
bench=./build/synack-bench
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
for name in bulk connections memory_per_connection million; do
  $bench $name --json | tee -a "$tmp/synack.jsonl" >&2
done
# Over a real wire every checksum is computed and verified: the same bulk without offload.
$bench bulk --software-checksum --json | tee -a "$tmp/synack.jsonl" >&2
echo "Linux loopback, one thread ..." >&2
$bench --linux-loopback --json | tee "$tmp/linux.jsonl" >&2

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

python3 - "$tmp/synack.jsonl" "$tmp/linux.jsonl" "$out" <<'EOF'
import json, os, platform, subprocess, sys, datetime
def load(p):
    return {r["name"]: r for r in map(json.loads, filter(str.strip, open(p)))}
s, l, out = load(sys.argv[1]), load(sys.argv[2]), sys.argv[3]
cpu = next((x.split(":", 1)[1].strip() for x in open("/proc/cpuinfo") if x.startswith("model name")), "?")
def v(d, k): return d[k]["value"] if k in d else None
def fmt(x): return "—" if x is None else (f"{x:,.0f}" if x >= 1000 else f"{x:.3g}")
def ratio(a, b): return "—" if a is None or not b else f"{a / b:.2f}×"
linux_bulk = v(l, "linux_bulk_iperf3") or v(l, "linux_bulk_1thread")
rows = [
  ("bulk, one connection (Gbit/s)", v(s, "bulk"), linux_bulk, "≥ 0.5×", ratio(v(s, "bulk"), linux_bulk)),
  ("  checksums in software (Gbit/s)", v(s, "bulk_software_checksum"), linux_bulk, "", ratio(v(s, "bulk_software_checksum"), linux_bulk)),
  ("  vs kernel on one thread (Gbit/s)", v(s, "bulk"), v(l, "linux_bulk_1thread"), "", ratio(v(s, "bulk"), v(l, "linux_bulk_1thread"))),
  ("connections: open, 1 B each way, close (/s)", v(s, "connections"), v(l, "linux_connections"), "≥ 1×", ratio(v(s, "connections"), v(l, "linux_connections"))),
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
load = open("/proc/loadavg").read().split()[0]
machine = (f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, "
           f"run {datetime.date.today().isoformat()}, load average {load} at the end")
begin, end = "<!-- results: begin (bench/run.sh) -->", "<!-- results: end -->"
block = f"{begin}\nMachine: {machine}.\n\n{table}\n{end}"
doc = open(out).read() if os.path.exists(out) else f"# Performance\n\n{begin}\n{end}\n"
if begin in doc and end in doc:
    doc = doc[:doc.index(begin)] + block + doc[doc.index(end) + len(end):]
else:
    doc += "\n" + block + "\n"
open(out, "w").write(doc)
print(table)
EOF
echo "wrote $out" >&2
