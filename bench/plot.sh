#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Draws one scaling curve as SVG with gnuplot (Debian: gnuplot-nox); bench/run.sh and
# bench/usermode.sh call it for docs/pictures/bench-*.svg.
#
#   bench/plot.sh OUT.svg TITLE XLABEL YLABEL DATA
#
# DATA: a header line `x "series one" "series two" ...`, then one line per x value with a
# number per series, or - where there is none (a failed or skipped point). x is drawn on a
# logarithmic axis with a tick at every x of the data; one line with points per series, broken
# where a point is missing. XSCALE=linear draws x on a linear axis (for data with x = 0);
# YSCALE=log draws y on a logarithmic one (for values spanning orders of magnitude).
# Without gnuplot it says so and exits 0: the tables are written either way.
set -euo pipefail
[ $# -eq 5 ] || { echo "usage: bench/plot.sh OUT.svg TITLE XLABEL YLABEL DATA" >&2; exit 2; }
out=$1 title=$2 xlabel=$3 ylabel=$4 data=$5
XSCALE=${XSCALE:-log} YSCALE=${YSCALE:-linear}
case "$XSCALE/$YSCALE" in log/linear | log/log | linear/linear | linear/log) ;;
  *) echo "bench/plot.sh: XSCALE and YSCALE are log or linear" >&2; exit 2 ;;
esac
if ! command -v gnuplot >/dev/null; then
  echo "bench/plot.sh: gnuplot missing (apt-get install gnuplot-nox); $out not drawn" >&2
  exit 0
fi
series=$(head -1 "$data" | python3 -c 'import shlex, sys; print(len(shlex.split(sys.stdin.read())) - 1)')
[ "$series" -ge 1 ] || { echo "bench/plot.sh: $data has no series" >&2; exit 1; }
# A tick at every x of the data, labelled with thousands separators.
xtics=$(awk 'NR > 1 && $1 != "" {
  n = $1; s = ""; while (n >= 1000) { s = sprintf(",%03d", n % 1000) s; n = int(n / 1000) }
  printf "%s\"%s\" %s", (c++ ? ", " : ""), n s, $1 }' "$data")
if ! awk 'NR > 1 { for (i = 2; i <= NF; i++) if ($i != "-") found = 1 } END { exit !found }' "$data"; then
  echo "bench/plot.sh: no points in $data; $out not drawn" >&2
  exit 0
fi
gp=$(mktemp) cells=$(mktemp)
trap 'rm -f "$gp" "$cells"' EXIT
# A missing point is NaN to gnuplot, which breaks the line there ("set datafile missing" would
# join its neighbours instead).
awk 'NR == 1 { print; next } { for (i = 2; i <= NF; i++) if ($i == "-") $i = "NaN"; print }' \
  "$data" >"$cells"
# Quotes in the title or labels would end gnuplot's strings: drop them.
q() { printf '%s' "${1//\"/}"; }
cat >"$gp" <<EOF
set terminal svg size 720,420 dynamic noenhanced font "sans,12" background rgb "white"
set output "$(q "$out")"
set title "$(q "$title")"
set xlabel "$(q "$xlabel")"
set ylabel "$(q "$ylabel")"
$([ "$XSCALE" = log ] && echo "set logscale x")
set xtics ($xtics)
set autoscale xfix
set offsets graph 0.04, graph 0.04, 0, 0
# Colours that stay apart on white (no yellow), and a dash pattern per line as well.
set linetype 1 lc rgb "#1f77b4" dt 1
set linetype 2 lc rgb "#d62728" dt 2
set linetype 3 lc rgb "#2ca02c" dt 3
set linetype 4 lc rgb "#ff7f0e" dt 4
set linetype 5 lc rgb "#000000" dt 1
set linetype 6 lc rgb "#9467bd" dt 5
set linetype 7 lc rgb "#8c564b" dt 6
set linetype cycle 7
$([ "$YSCALE" = log ] && echo "set logscale y" || echo "set yrange [0:*]")
set grid ytics lc rgb "#dddddd"
$([ "$series" -gt 1 ] && echo "set key outside right top" || echo "set key inside right top")
set border 3
set tics nomirror
plot for [i=2:$((series + 1))] "$cells" using 1:i with linespoints lw 2 pt 7 ps 0.8 title columnheader(i)
EOF
gnuplot "$gp"
echo "  $out" >&2
