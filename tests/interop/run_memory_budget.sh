#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 11 §4 and §5: 2,000 connections from synack run's namespace (and then from a namespace
# served by synack attach) to a host service that accepts them and never reads. Before the
# memory budget, this took synack to 726 MB (attach: no budget until 2026-12-07). Now
# `synack run --max-memory 64M` and `synack attach --max-memory 64M` must keep their resident
# set near the budget: the peak VmHWM of the synack process (from /proc/PID/status, sampled
# while it runs) stays under the budget plus a fixed allowance for the process itself,
# windows close instead of buffers growing (drop_memory_pressure), connections beyond the
# budget are refused with an RST and counted (tcp_memory_refused), and none of the
# connections that were accepted is reset.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup run_memory_budget --no-netns
need python3
CONNECTIONS=${BUDGET_CONNECTIONS:-2000}
BUDGET_MB=${BUDGET_MB:-64}
# What synack run needs besides the buffers the budget bounds: the executable, the scratch
# chunk, per-connection state (< 1 KiB each in the stack, a splice and a socket in the
# relay) and the allocator's slack.
ALLOWANCE_MB=${ALLOWANCE_MB:-48}
ulimit -n 20000 2>/dev/null || ulimit -n 8192 2>/dev/null ||
  skip "needs a descriptor limit above $((2 * CONNECTIONS + 100))"

# The host service: accepts every connection and never reads. A small receive buffer keeps
# the host kernel's share small, so that what waits does so in synack or in CMD's kernel.
python3 -u - >"$WORK/hold.out" 2>"$WORK/hold.err" <<'PY' &
import select, socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind(("127.0.0.1", 0))
s.listen(4096)
print("PORT", s.getsockname()[1], flush=True)
held = []
while True:
    r, _, _ = select.select([s], [], [], 120)
    if not r:
        break
    try:
        held.append(s.accept()[0])
    except OSError:
        pass
PY
PIDS+=($!)
HOST_PORT=
for _ in $(seq 100); do
  HOST_PORT=$(awk '$1 == "PORT" { print $2; exit }' "$WORK/hold.out" 2>/dev/null)
  [ -n "$HOST_PORT" ] && break
  sleep 0.1
done
[ -n "$HOST_PORT" ] || fail "the host service printed no port"

# CMD: opens every connection at once, then writes 1 MB on each as fast as the windows let
# it for 8 s, holding all of them open; reports what it could do.
cat >"$WORK/client.py" <<'PY'
import errno, selectors, socket, sys, time
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
PER = 1 << 20
sel = selectors.DefaultSelector()
conns = []
for i in range(n):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex((addr, port))
    conns.append({"s": s, "sent": 0, "state": "connecting"})
    sel.register(s, selectors.EVENT_WRITE, conns[-1])
chunk = b"x" * 65536
end = time.monotonic() + 8
while time.monotonic() < end:
    for key, _ in sel.select(0.2):
        c = key.data
        if c["state"] == "connecting":
            err = c["s"].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                c["state"] = "refused" if err == errno.ECONNREFUSED else "error"
                sel.unregister(c["s"])
                continue
            c["state"] = "up"
        try:
            c["sent"] += c["s"].send(chunk[: PER - c["sent"]])
        except BlockingIOError:
            pass
        except OSError:
            c["state"] = "reset"
            sel.unregister(c["s"])
            continue
        if c["sent"] >= PER:
            sel.unregister(c["s"])
count = lambda st: sum(1 for c in conns if c["state"] == st)
print(f"up {count('up')} refused {count('refused')} reset {count('reset')} "
      f"error {count('error')} connecting {count('connecting')} "
      f"bytes {sum(c['sent'] for c in conns)}", flush=True)
time.sleep(1)  # everything still held while the parent takes its last samples
PY

# sample_peak PID: the peak VmHWM (kB) of PID, sampled every 0.2 s until it exits (bounded by
# $STEP_TIMEOUT). VmHWM is the peak resident set so far; the last sample before exit is its peak.
sample_peak() {
  local pid=$1 hwm started=$SECONDS
  peak_kb=0
  while kill -0 "$pid" 2>/dev/null; do
    hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$pid/status" 2>/dev/null)
    [ -n "$hwm" ] && [ "$hwm" -gt "$peak_kb" ] && peak_kb=$hwm
    [ $((SECONDS - started)) -lt "$STEP_TIMEOUT" ] || fail "$LABEL still running after $STEP_TIMEOUT s"
    sleep 0.2
  done
}

# check LABEL: the client's summary ($WORK/client.out), synack's counters ($WORK/stats) and the
# peak resident set ($peak_kb) against the budget.
check() {
  cat "$WORK/client.out"
  stat() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/stats"; }
  echo "$LABEL: peak VmHWM $((peak_kb / 1024)) MB with --max-memory ${BUDGET_MB}M;" \
    "memory_peak_bytes $(stat memory_peak_bytes), drop_memory_pressure $(stat drop_memory_pressure)," \
    "tcp_memory_refused $(stat tcp_memory_refused), relay_tcp_connects $(stat relay_tcp_connects)"
  [ "$(stat memory_budget_bytes)" = $((BUDGET_MB << 20)) ] ||
    fail "$LABEL: memory_budget_bytes '$(stat memory_budget_bytes)', not --max-memory ${BUDGET_MB}M"
  local up refused reset error
  read -r up refused reset error <<<"$(awk '$1 == "up" { print $2, $4, $6, $8 }' "$WORK/client.out")"
  [ -n "${up:-}" ] || fail "$LABEL: the client printed no summary"
  [ "$reset" = 0 ] && [ "$error" = 0 ] ||
    fail "$LABEL: $reset accepted connections were reset, $error failed: windows must close instead"
  [ "$up" -ge 256 ] || fail "$LABEL: only $up connections up: the budget holds 256 receive buffers"
  [ "$peak_kb" -gt 0 ] || fail "$LABEL: no VmHWM sample of synack"
  local allowance_mb=$((ALLOWANCE_MB + $(sanitizer_rss_allowance_mb)))
  [ "$peak_kb" -le $(((BUDGET_MB + allowance_mb) * 1024)) ] ||
    fail "$LABEL: synack's peak resident set, $((peak_kb / 1024)) MB, is beyond the budget of $BUDGET_MB MB + $allowance_mb MB"
  local peak_bytes pressure refusals
  peak_bytes=$(stat memory_peak_bytes)
  # The relay may exceed the budget by one 4 KiB chunk per connection whose host socket is full
  # (src/relay/splice.cpp, kPressureChunk).
  [ "${peak_bytes:-0}" -le $(((BUDGET_MB << 20) + CONNECTIONS * 4096)) ] ||
    fail "$LABEL: memory_peak_bytes $peak_bytes beyond the budget and the relay's chunks"
  # The budget was reached: without it, these connections would have taken hundreds of MB.
  [ "${peak_bytes:-0}" -ge $((BUDGET_MB * 7 / 8 << 20)) ] ||
    fail "$LABEL: memory_peak_bytes ${peak_bytes:-0}: the load never reached the budget"
  pressure=$(stat drop_memory_pressure)
  refusals=$(stat tcp_memory_refused)
  [ "${pressure:-0}" -gt 0 ] || [ "${refusals:-0}" -gt 0 ] ||
    fail "$LABEL: neither a closed window (drop_memory_pressure) nor a refusal (tcp_memory_refused)"
  [ "${refused:-0}" -le "${refusals:-0}" ] ||
    fail "$LABEL: $refused refused but tcp_memory_refused=${refusals:-0}"
  echo "$LABEL: resident set bounded by the budget; no accepted connection reset"
}

# --- 1. synack run: CMD's namespace is synack's own ------------------------------------------
LABEL="synack run"
"$SYNACK" run --allow-host-loopback --max-memory "${BUDGET_MB}M" --drain-timeout 1 --stats -- \
  python3 "$WORK/client.py" "$ADDR" "$HOST_PORT" "$CONNECTIONS" \
  >"$WORK/client.out" 2>"$WORK/stats" &
RUN_PID=$!
PIDS+=("$RUN_PID")
sample_peak "$RUN_PID"
wait "$RUN_PID" || { cat "$WORK/client.out" "$WORK/stats" >&2; fail "synack run exited with $?"; }
check

# --- 2. synack attach: a namespace made by someone else (issue 16; a container's) -------------
# Before attach took run's bounds, it had no budget at all: the same load took it to hundreds
# of MB.
need unshare nsenter
LABEL="synack attach"
unshare --net sleep 300 &
TARGET=$!
PIDS+=("$TARGET")
"$SYNACK" attach "$TARGET" --allow-host-loopback --max-memory "${BUDGET_MB}M" --stats \
  --ready-fd 3 3>"$WORK/ready" >/dev/null 2>"$WORK/stats" &
ATTACH_PID=$!
PIDS+=("$ATTACH_PID")
for _ in $(seq 100); do
  [ "$(cat "$WORK/ready" 2>/dev/null)" = 1 ] && break
  sleep 0.1
done
[ "$(cat "$WORK/ready" 2>/dev/null)" = 1 ] || fail "synack attach: no \"1\" on --ready-fd"
# The client runs in the target's namespace; when it is done, the target exits and synack
# attach with it (status 0, counters on standard error).
(nsenter -t "$TARGET" -n python3 "$WORK/client.py" "$ADDR" "$HOST_PORT" "$CONNECTIONS" \
  >"$WORK/client.out" 2>"$WORK/client.err"; kill "$TARGET") &
PIDS+=($!)
sample_peak "$ATTACH_PID"
wait "$ATTACH_PID" || { cat "$WORK/client.out" "$WORK/stats" >&2; fail "synack attach exited with $?"; }
check
