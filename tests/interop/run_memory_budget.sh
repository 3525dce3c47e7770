#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 11 §4 and §5: 2,000 connections from synack run's namespace to a host service that
# accepts them and never reads. Before the memory budget, this took synack to 726 MB. Now
# `synack run --max-memory 64M` must keep its resident set near the budget: the peak VmHWM
# of the synack process (from /proc/PID/status, sampled while it runs) stays under the budget
# plus a fixed allowance for the process itself, windows close instead of buffers growing
# (drop_memory_pressure), connections beyond the budget are refused with an RST and counted
# (tcp_memory_refused), and none of the connections that were accepted is reset.
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

"$SYNACK" run --allow-host-loopback --max-memory "${BUDGET_MB}M" --drain-timeout 1 --stats -- \
  python3 "$WORK/client.py" "$ADDR" "$HOST_PORT" "$CONNECTIONS" \
  >"$WORK/client.out" 2>"$WORK/run.err" &
RUN_PID=$!
PIDS+=("$RUN_PID")
# VmHWM is the peak resident set so far; the last sample before synack exits is its peak.
peak_kb=0
started=$SECONDS
while kill -0 "$RUN_PID" 2>/dev/null; do
  hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$RUN_PID/status" 2>/dev/null)
  [ -n "$hwm" ] && [ "$hwm" -gt "$peak_kb" ] && peak_kb=$hwm
  [ $((SECONDS - started)) -lt "$STEP_TIMEOUT" ] || fail "synack run still running after $STEP_TIMEOUT s"
  sleep 0.2
done
wait "$RUN_PID" || { cat "$WORK/client.out" "$WORK/run.err" >&2; fail "synack run exited with $?"; }
cat "$WORK/client.out"
stat() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/run.err"; }
echo "synack run: peak VmHWM $((peak_kb / 1024)) MB with --max-memory ${BUDGET_MB}M;" \
  "memory_peak_bytes $(stat memory_peak_bytes), drop_memory_pressure $(stat drop_memory_pressure)," \
  "tcp_memory_refused $(stat tcp_memory_refused), relay_tcp_connects $(stat relay_tcp_connects)"

read -r up refused reset error <<<"$(awk '$1 == "up" { print $2, $4, $6, $8 }' "$WORK/client.out")"
[ -n "${up:-}" ] || fail "the client printed no summary"
[ "$reset" = 0 ] && [ "$error" = 0 ] ||
  fail "$reset accepted connections were reset, $error failed: windows must close instead"
[ "$up" -ge 256 ] || fail "only $up connections up: the budget holds 256 receive buffers"
[ "$peak_kb" -gt 0 ] || fail "no VmHWM sample of synack"
allowance_mb=$((ALLOWANCE_MB + $(sanitizer_rss_allowance_mb)))
[ "$peak_kb" -le $(((BUDGET_MB + allowance_mb) * 1024)) ] ||
  fail "synack's peak resident set, $((peak_kb / 1024)) MB, is beyond the budget of $BUDGET_MB MB + $allowance_mb MB"
peak_bytes=$(stat memory_peak_bytes)
# The relay may exceed the budget by one 4 KiB chunk per connection whose host socket is full
# (src/relay/splice.cpp, kPressureChunk).
[ "${peak_bytes:-0}" -le $(((BUDGET_MB << 20) + CONNECTIONS * 4096)) ] ||
  fail "memory_peak_bytes $peak_bytes beyond the budget and the relay's chunks"
# The budget was reached: without it, these connections would have taken hundreds of MB.
[ "${peak_bytes:-0}" -ge $((BUDGET_MB * 7 / 8 << 20)) ] ||
  fail "memory_peak_bytes ${peak_bytes:-0}: the load never reached the budget"
pressure=$(stat drop_memory_pressure)
refusals=$(stat tcp_memory_refused)
[ "${pressure:-0}" -gt 0 ] || [ "${refusals:-0}" -gt 0 ] ||
  fail "neither a closed window (drop_memory_pressure) nor a refusal (tcp_memory_refused)"
[ "${refused:-0}" -le "${refusals:-0}" ] || fail "$refused refused but tcp_memory_refused=${refusals:-0}"
echo "resident set bounded by the budget; no accepted connection reset"
