#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Draws the pictures of docs/tcp-by-pictures.md with synack itself: the ladder of each scenario
# (synack sim SCENARIO --svg) and RFC 9293's state diagram, plain and with the transitions the
# scenarios took (synack diagram). `make docs` builds synack and runs this; commit the result.
#
# Needs Graphviz's dot (Debian: graphviz). SYNACK overrides the binary (default build/synack).
set -euo pipefail

cd "$(dirname "$0")/.."
synack=${SYNACK:-build/synack}
out=docs/pictures
mkdir -p "$out"

if [ ! -x "$synack" ]; then
  echo "make-pictures: $synack not found; run 'make build' first" >&2
  exit 1
fi
if ! command -v dot >/dev/null; then
  echo "make-pictures: Graphviz's dot is missing (Debian: apt-get install graphviz)" >&2
  exit 1
fi

scenarios=(handshake exchange close simultaneous-open simultaneous-close half-close time-wait
           lost-syn lost-final-ack reset refused)
for scenario in "${scenarios[@]}"; do
  "$synack" sim "$scenario" --svg "$out/$scenario.svg" >/dev/null
  echo "  $out/$scenario.svg"
done

traces=$(mktemp -d)
trap 'rm -rf "$traces"' EXIT
"$synack" diagram -o "$out/state-diagram.svg" 2>/dev/null
echo "  $out/state-diagram.svg"
# The trace's file name is written in the picture's title.
"$synack" sim exchange --trace "$traces/exchange.jsonl" >/dev/null
"$synack" diagram --trace "$traces/exchange.jsonl" -o "$out/state-diagram-exchange.svg" 2>/dev/null
echo "  $out/state-diagram-exchange.svg"
# Every scripted scenario (bulk is a transfer with options of its own, not a script).
for scenario in $("$synack" sim --list | awk '$1 != "bulk" {print $1}'); do
  rm -f "$traces/one.jsonl"
  "$synack" sim "$scenario" --trace "$traces/one.jsonl" >/dev/null || true
  if [ -f "$traces/one.jsonl" ]; then cat "$traces/one.jsonl" >>"$traces/all-scenarios.jsonl"; fi
done
"$synack" diagram --trace "$traces/all-scenarios.jsonl" -o "$out/state-diagram-scenarios.svg" \
  2>/dev/null
echo "  $out/state-diagram-scenarios.svg"

# The layering of the source tree (docs/architecture.md).
dot -Tsvg "$out/layers.dot" -o "$out/layers.svg"
echo "  $out/layers.svg"
