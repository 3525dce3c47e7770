#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The simulator part of bench/loss.sh alone, comparing congestion controls: `synack sim bulk`
# at each loss rate (each way) and RTT, median virtual seconds over seeds, one column per
# (RTT, congestion control). Virtual time: the figures do not depend on the machine's load.
# Needs no root. Prints a markdown table.
#
#   bench/sim_cc.sh                   SYNACK=path/to/synack (default ./build/synack)
#   LOSSES="0 1 5 10 20" DELAYS_MS="1 25 100" CCS="cubic bbr" SEEDS=3 BYTES=2097152
#   TIMEOUT=300                       wall-clock seconds per run
set -euo pipefail
cd "$(dirname "$0")/.."
synack=${SYNACK:-./build/synack}
LOSSES=${LOSSES:-0 1 5 10 20}
DELAYS_MS=${DELAYS_MS:-1 25 100}
CCS=${CCS:-cubic bbr}
SEEDS=${SEEDS:-3}
BYTES=${BYTES:-2097152}
TIMEOUT=${TIMEOUT:-300}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for loss in $LOSSES; do
  for rtt in $DELAYS_MS; do
    for cc in $CCS; do
      for seed in $(seq "$SEEDS"); do
        line=$(timeout "$TIMEOUT" "$synack" sim bulk --bytes "$BYTES" --loss "0.$(printf %02d "$loss")" \
                 --delay "$(python3 -c "print($rtt / 2)")" --seed "$seed" --cc "$cc" --json 2>/dev/null |
               tail -1) || line='{"hung": true}'
        [ -n "$line" ] || line='{"hung": true}'
        echo "{\"loss\": $loss, \"rtt\": $rtt, \"cc\": \"$cc\", \"seed\": $seed, \"r\": $line}" >>"$tmp"
      done
    done
  done
done
python3 - "$tmp" "$SEEDS" "$BYTES" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
seeds, size = sys.argv[2], int(sys.argv[3])
cols = list(dict.fromkeys((r["rtt"], r["cc"]) for r in rows))
print(f"{size / 1048576:g} MiB, median virtual seconds over seeds 1-{seeds} "
      "(goodput Mbit/s in parentheses; [n failed]):\n")
print("| loss each way | " + " | ".join(f"RTT {r:g} ms {c.upper()}" for r, c in cols) + " |")
print("|---:|" + "---:|" * len(cols))
for loss in dict.fromkeys(r["loss"] for r in rows):
    cells = []
    for rtt, cc in cols:
        rs = [r["r"] for r in rows if (r["loss"], r["rtt"], r["cc"]) == (loss, rtt, cc)]
        ok = [r for r in rs if not r.get("hung") and r.get("intact")]
        if ok:
            t = statistics.median(r["virtual_seconds"] for r in ok)
            cell = f"{t:.2f} ({size * 8 / t / 1e6:.1f})"
        else:
            cell = "—"
        if len(ok) < len(rs):
            cell += f" [{len(rs) - len(ok)} failed]"
        cells.append(cell)
    print(f"| {loss} % | " + " | ".join(cells) + " |")
PY
