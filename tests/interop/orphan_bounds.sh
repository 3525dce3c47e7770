#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# docs/security.md §6 against the kernel: two kernel clients of synack serve's HTTP port hold on
# to connections synack serve has closed (orphans, which nothing in RFC 9293 ends).
# - "fin2" reads its response to the end and never closes: the kernel ACKs synack's FIN and sits
#   in CLOSE-WAIT, synack's orphan in FIN-WAIT-2. Wanted: deleted after Linux's tcp_fin_timeout,
#   60 s ("timeout=FIN-WAIT-2 / delete TCB").
# - "zero" asks for 200,000 bytes with a 4 KiB receive buffer and never reads: synack serve
#   writes the response and closes, and its orphan waits in FIN-WAIT-1 behind a zero window that
#   the kernel answers at every probe. Wanted: given up after 8 zero-window answers (about 102 s
#   from the 200 ms RTO floor; Linux's tcp_orphan_retries), not kept for ever.
# Both counted as tcp_orphan_timeouts; the kernel's sockets are still there, as their
# applications left them.
source "$(dirname "$0")/lib.bash" "$1"
interop_setup orphan_bounds
need python3 ss

start_serve --http 80 --stats --trace "$WORK/serve.jsonl"

cat >"$WORK/hold.py" <<'PY'
import socket, sys, time
addr, mode, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket()
if mode == "zero":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.settimeout(10)
s.connect((addr, 80))
n = 1000 if mode == "fin2" else 200000
s.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % n)
if mode == "fin2":
    got = 0
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += len(chunk)
    print(f"fin2: {got} bytes and EOF; holding the socket open", flush=True)
else:
    print("zero: request sent; never reading", flush=True)
time.sleep(hold)  # the socket stays open (CLOSE-WAIT / a full receive buffer) until we exit
PY

# Bounded: each client holds its socket at most 220 s and is killed with the namespace.
timeout 230 ip netns exec "$NS" python3 "$WORK/hold.py" "$ADDR" fin2 220 >"$WORK/fin2.out" 2>&1 &
PIDS+=("$!")
timeout 230 ip netns exec "$NS" python3 "$WORK/hold.py" "$ADDR" zero 220 >"$WORK/zero.out" 2>&1 &
PIDS+=("$!")

# Polls synack's trace (at most 200 s: FIN-WAIT-2 ends at ~60 s, the zero window at ~102 s
# with the 200 ms RTO floor, later if a slow moment on a loaded machine raised the RTO)
# for the trace times (s) of: the first connection's arrival, fin2's FIN-WAIT-2 entry, its
# deletion, the zero-window orphan's end. Prints the four ("-" for one never seen).
python3 - "$WORK/serve.jsonl" >"$WORK/times" <<'PY'
import json, sys, time
wanted = {("LISTEN", "SYN-RECEIVED", "rcv SYN / snd SYN,ACK"): None,
          ("FIN-WAIT-1", "FIN-WAIT-2", "rcv ACK of FIN"): None,
          ("FIN-WAIT-2", "CLOSED", "timeout=FIN-WAIT-2 / delete TCB"): None,
          ("FIN-WAIT-1", "CLOSED", "timeout=R2 / delete TCB"): None}
deadline = time.monotonic() + 200
while time.monotonic() < deadline:
    with open(sys.argv[1]) as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue  # a line still being written
            key = (e.get("from"), e.get("to"), e.get("cause"))
            if e.get("type") == "transition" and key in wanted and wanted[key] is None:
                wanted[key] = e["time_us"] / 1e6
    found = list(wanted.values())
    if found[2] is not None and found[3] is not None:
        break
    time.sleep(0.5)
print(" ".join("-" if t is None else f"{t:.3f}" for t in wanted.values()))
PY
read -r start fin2_in fin2_out zero_out <"$WORK/times"
cat "$WORK/fin2.out" "$WORK/zero.out"
echo "kernel sockets still held by their applications:"
in_ns ss -Htan state close-wait
in_ns ss -Htan state established
[ "$fin2_in" != - ] || fail "synack's connection to fin2 never reached FIN-WAIT-2"
[ "$fin2_out" != - ] || fail "synack's orphan in FIN-WAIT-2 was not deleted within 200 s"
[ "$zero_out" != - ] || fail "synack's orphan behind a zero window was not given up within 200 s"
held=$(python3 -c "print(f'{$fin2_out - $fin2_in:.1f}')")
zero_after=$(python3 -c "print(f'{$zero_out - $start:.1f}')")
echo "synack: FIN-WAIT-2 for ${held} s, then deleted; the zero-window orphan given up ${zero_after} s after the clients came"
python3 -c "import sys; sys.exit(0 if $zero_out - $start >= 100 else 1)" ||
  fail "the zero-window orphan was given up after ${zero_after} s, before 100 s (RFC 9293 §3.8.3)"
python3 -c "import sys; sys.exit(0 if 59.5 <= $fin2_out - $fin2_in <= 61.5 else 1)" ||
  fail "FIN-WAIT-2 lasted ${held} s, not tcp_fin_timeout's 60 s"
[ -n "$(in_ns ss -Htan state close-wait)" ] ||
  fail "the kernel's fin2 socket left CLOSE-WAIT: the test did not hold what synack closed"
stop_serve
stat() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/serve.err"; }
orphans=$(stat tcp_orphan_timeouts)
probes=$(stat tcp_window_probes)
echo "serve: tcp_orphan_timeouts ${orphans:-0}, tcp_window_probes ${probes:-0}"
[ "${orphans:-0}" = 2 ] || fail "tcp_orphan_timeouts=${orphans:-0}, want 2"
[ "${probes:-0}" -ge 8 ] || fail "only ${probes:-0} zero-window probes before giving up"
echo PASS
