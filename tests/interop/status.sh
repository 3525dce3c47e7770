#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# synack ss and synack stats against a running synack serve: a kernel nc holds a connection to
# the echo port open, and both commands must see it through serve's control socket.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup status
need nc timeout mkfifo

start_serve --echo 7

# The kernel's connection, held open: nc reads its stdin from a FIFO that we keep open for
# writing (read-write open: neither side blocks) and never write to.
mkfifo "$WORK/hold"
exec 3<>"$WORK/hold"
timeout "$STEP_TIMEOUT" ip netns exec "$NS" nc "$ADDR" 7 <"$WORK/hold" >/dev/null 2>&1 &
NC_PID=$!
PIDS+=("$NC_PID")

# Poll (at most 10 s) until the connection is listed as ESTABLISHED.
listed=0
for _ in $(seq 100); do
  timeout 10 "$SYNACK" ss --pid "$SERVE_PID" >"$WORK/ss.out" 2>"$WORK/ss.err" || true
  if grep -q "^ESTABLISHED .* $ADDR:7 *$PEER:[0-9]* *synack-serve,pid=$SERVE_PID" "$WORK/ss.out"; then
    listed=1
    break
  fi
  kill -0 "$NC_PID" 2>/dev/null || fail "nc exited"
  sleep 0.1
done
cat "$WORK/ss.out"
[ "$listed" = 1 ] || { cat "$WORK/ss.err" >&2; fail "synack ss does not show the connection ESTABLISHED"; }
grep -qE "^	 cubic .*rto:[0-9.]+ rtt:[0-9.]+/[0-9.]+ mss:[0-9]+ cwnd:[0-9]+ .*bytes_sent:[0-9]+" \
  "$WORK/ss.out" || fail "synack ss: no details line"

# Without --pid: every running synack process, this one among them.
timeout 10 "$SYNACK" ss | grep -q "synack-serve,pid=$SERVE_PID" || fail "synack ss (all) misses pid $SERVE_PID"
timeout 10 "$SYNACK" ss --pid "$SERVE_PID" --json >"$WORK/ss.json" || fail "synack ss --json"
grep -q '"type":"connection".*"state":"ESTABLISHED"' "$WORK/ss.json" || fail "synack ss --json: no ESTABLISHED connection"
echo "synack ss: connection listed ESTABLISHED"

timeout 10 "$SYNACK" stats --pid "$SERVE_PID" >"$WORK/stats.out" || fail "synack stats"
cat "$WORK/stats.out"
opens=$(awk '$1 == "tcp_passive_opens" { print $2 }' "$WORK/stats.out")
[ -n "$opens" ] && [ "$opens" -ge 1 ] || fail "synack stats: tcp_passive_opens is '${opens}', expected >= 1"
timeout 10 "$SYNACK" stats --pid "$SERVE_PID" -a | grep -q "^drop_paws " || fail "synack stats -a misses zero counters"
timeout 10 "$SYNACK" stats --pid "$SERVE_PID" --json | grep -q '"name":"tcp_passive_opens","value":[1-9]' \
  || fail "synack stats --json"
echo "synack stats: tcp_passive_opens = $opens"
# The memory budget (issue 11 §4; serve's default --max-memory is 256M) and its use (0 here:
# the held connection has carried no data, and buffers are allocated on first use).
budget=$(awk '$1 == "memory_budget_bytes" { print $2 }' "$WORK/stats.out")
[ "$budget" = $((256 << 20)) ] || fail "synack stats: memory_budget_bytes is '$budget', want $((256 << 20))"
timeout 10 "$SYNACK" stats --pid "$SERVE_PID" -a | grep -q "^memory_used_bytes  *0 " ||
  fail "synack stats -a: no memory_used_bytes"
echo "synack stats: memory_budget_bytes = $budget"

exec 3>&-
stop_serve
# The socket went with the process.
if timeout 10 "$SYNACK" ss --pid "$SERVE_PID" >/dev/null 2>&1; then fail "synack ss still finds pid $SERVE_PID"; fi
echo "PASS"
