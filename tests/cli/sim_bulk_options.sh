#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `synack sim bulk --server-profile` and `--trace`: the receiving end takes its own profile (a
# synack sender against a Linux-like receiver, as in bench/loss.sh's real runs), and the trace
# holds both stacks' segments. The SYN,ACK's window scale tells the profiles apart: 3 for the
# rfc profile's 256 KiB buffer, 10 for the linux profile's 32 MiB tcp_rmem[2].
set -euo pipefail
synack=${1:?usage: sim_bulk_options.sh SYNACK}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

synack_ack_options() {  # PROFILE-FLAGS... -> the SYN,ACK's options from the trace
  "$synack" sim bulk --bytes 64k --seed 3 "$@" --trace "$tmp/t.jsonl" --trace-segments --json \
    >"$tmp/out.json"
  grep -q '"intact":true' "$tmp/out.json" || { echo "transfer not intact: $(cat "$tmp/out.json")"; exit 1; }
  [ "$(grep -c '"type":"segment"' "$tmp/t.jsonl")" -gt 40 ] || { echo "trace without segments"; exit 1; }
  grep '"flags":"SYN,ACK"' "$tmp/t.jsonl" | head -1 | grep -o '"options":"[^"]*"'
}

both=$(synack_ack_options)
mixed=$(synack_ack_options --server-profile linux)
linux=$(synack_ack_options --profile linux)
echo "rfc: $both; rfc sender, linux receiver: $mixed; linux: $linux"
[[ $both == *"ws 3,"* ]] || { echo "rfc profile's SYN,ACK: $both"; exit 1; }
[[ $mixed == *"ws 10,"* ]] || { echo "--server-profile linux not taken: $mixed"; exit 1; }
[[ $linux == *"ws 10,"* ]] || { echo "linux profile's SYN,ACK: $linux"; exit 1; }
# The sender keeps --profile's choices: its SYN (the rfc profile's) announces ws 3.
"$synack" sim bulk --bytes 64k --seed 3 --server-profile linux --trace "$tmp/t.jsonl" \
  --trace-segments --json >/dev/null
grep '"flags":"SYN"' "$tmp/t.jsonl" | head -1 | grep -q '"options":"[^"]*ws 3,' ||
  { echo "the sender's SYN did not keep the rfc profile"; exit 1; }
if "$synack" sim bulk --bytes 1k --trace /nonexistent/dir/t.jsonl >/dev/null 2>&1; then
  echo "an unwritable trace file was accepted"; exit 1
fi
echo ok
