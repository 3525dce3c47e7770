#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/loss_report.py from made-up run logs: medians, failures counted as slower than every
# finished run and ordered among themselves by how far they got, pooled counters, and the rank test's verdict (ahead / behind / even) with the
# p a two-sided Mann-Whitney test gives (scipy.stats.mannwhitneyu, asymptotic with continuity
# correction, gives 0.0122 for 1..5 against 6..10).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root"

python3 - "$tmp/results.jsonl" <<'PY'
import json, sys
rows = []
def add(label, direction, loss, times, failed=0, progress=()):
    for t in times:
        rows.append(dict(bytes=2097152, seconds=t, status="ok", label=label, direction=direction, size=2097152, loss=loss))
    for i in range(failed):
        got = progress[i] if progress else 0
        rows.append(dict(bytes=got, seconds=30.0, status="timeout", label=label, direction=direction, size=2097152, loss=loss))
# 1 %: synack sends faster in every pair (1..5 ms against 6..10 ms): ahead, p 0.012.
add("synack", "get", 1, [0.001, 0.002, 0.003, 0.004, 0.005])
add("kernel-cubic", "get", 1, [0.006, 0.007, 0.008, 0.009, 0.010])
# 1 %: synack receives slower in every pair: behind.
add("synack", "put", 1, [0.016, 0.017, 0.018, 0.019, 0.020])
add("kernel-cubic", "put", 1, [0.011, 0.012, 0.013, 0.014, 0.015])
# 20 %: the same times both, and two failures each: even, p 1.
add("synack", "get", 20, [0.5, 0.6, 0.7], failed=2)
add("kernel-cubic", "get", 20, [0.5, 0.6, 0.7], failed=2)
# 20 %: synack receives every time in 1 s; the kernel in 0.5 s half the time and fails the
# other half. A failure is slower than any finished run: its median is "> 30", and half the
# pairs go each way: even.
add("synack", "put", 20, [1.0] * 6)
add("kernel-cubic", "put", 20, [0.5] * 3, failed=3)
# 15 %: nothing finishes in either direction. Sending, synack's failed runs had moved 1.1-1.5
# MiB when stopped, the kernel's 0.1-0.5 MiB: synack ranks first in every pair, ahead (p
# 0.012), and the cells say how far the median failure got. Receiving, the logs say nothing
# of progress (bytes 0, as before 2026-12-08): all tied, even.
add("synack", "get", 15, [], failed=5, progress=[k * 104858 + 1048576 for k in range(1, 6)])
add("kernel-cubic", "get", 15, [], failed=5, progress=[k * 104858 for k in range(1, 6)])
add("synack", "put", 15, [], failed=5)
add("kernel-cubic", "put", 15, [], failed=5)
with open(sys.argv[1], "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
PY
# Two pooled rounds of the 1 % cell's counters are summed.
printf '%s\n' '{"counters": "10 990", "size": 2097152, "loss": 1}' \
  '{"counters": "5 495", "size": 2097152, "loss": 1}' \
  '{"counters": "200 800", "size": 2097152, "loss": 20}' >"$tmp/counters.jsonl"
: >"$tmp/sim.jsonl"
printf '# Performance\n' >"$tmp/out.md"

PICTURES="$tmp/none" LOW_MAX_LOSS=5 python3 bench/loss_report.py "$tmp" "$tmp/out.md" 5 30 \
  "test" "abc1234" "0.00 0.00 0.00" 5 cubic gso >"$tmp/stdout"

fail() { echo "FAIL: $*" >&2; sed -n '/bench-loss:begin/,/bench-loss:end/p' "$tmp/out.md" >&2; exit 1; }
row() { grep -F "| $1 % |" "$tmp/out.md" || fail "no row for $1 %"; }
one=$(row 1)
twenty=$(row 20)
# Medians: 3 ms and 8 ms sending, 18 ms and 13 ms receiving.
[[ $one == "| 1 % | 0.003 | 0.008 | — | 0.018 | 0.013 | — | "* ]] || fail "1 % medians: $one"
[[ $one == *"| 1.00 ahead (p 0.012) | 0.00 behind (p 0.012) | 15 / 1485 |" ]] || fail "1 % verdicts or counters: $one"
# Two of five failed: the median is the third run, 0.7 s; the failures are counted.
[[ $twenty == "| 20 % | 0.700 [2/5 failed] | 0.700 [2/5 failed] | — | 1.00 | > 30 [3/6 failed] | — | 0.50 even (p 1) | 0.50 even (p 1) | 200 / 800 |" ]] ||
  fail "20 %: $twenty"
fifteen=$(row 15)
[[ $fifteen == "| 15 % | > 30 [5/5 failed; 1.3 MiB by then] | > 30 [5/5 failed; 0.3 MiB by then] | — | > 30 [5/5 failed] | > 30 [5/5 failed] | — | 1.00 ahead (p 0.012) | 0.50 even (p 1) |"* ]] ||
  fail "15 %: $fifteen"
grep -q "median seconds of 5 runs at up to 5 % loss, 5–6 above" "$tmp/out.md" || fail "run count"
grep -q "<!-- bench-loss:end -->" "$tmp/out.md" || fail "end marker"
echo "loss_report: ok"
