#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# docs/security.md §6 against the kernel: two kernel clients of synack serve's HTTP port hold on
# to connections synack serve has closed (orphans, which nothing in RFC 9293 ends).
# - "fin2" reads its response to the end and never closes: the kernel ACKs synack's FIN and sits
#   in CLOSE-WAIT, synack's orphan in FIN-WAIT-2. Wanted: deleted after tcp_fin_timeout
#   ("timeout=FIN-WAIT-2 / delete TCB"), here `--fin-timeout 10` (Linux's default and
#   synack's, 60 s, is checked in virtual time: tests/tcp/orphan_test.cpp).
# - "zero" asks for 200,000 bytes with a 4 KiB receive buffer and never reads: synack serve
#   writes the response and closes, and its orphan waits in FIN-WAIT-1 behind a zero window that
#   the kernel answers at every probe. Wanted: given up after N zero-window answers (Linux's
#   tcp_orphan_retries), not kept for ever; here `--orphan-retries 5`, about 12.6 s from the
#   200 ms RTO floor (the default 8 takes 102 s).
# Both counted as tcp_orphan_timeouts; the kernel's sockets are still there, as their
# applications left them. The shorter bounds keep the test at ~15 s instead of ~104 s.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup orphan_bounds
need python3 ss

start_serve --http 80 --stats --trace "$WORK/serve.jsonl" --fin-timeout 10 --orphan-retries 5

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

# Bounded: each client holds its socket at most 150 s and is killed with the namespace.
timeout 160 ip netns exec "$NS" python3 "$WORK/hold.py" "$ADDR" fin2 150 >"$WORK/fin2.out" 2>&1 &
PIDS+=("$!")
timeout 160 ip netns exec "$NS" python3 "$WORK/hold.py" "$ADDR" zero 150 >"$WORK/zero.out" 2>&1 &
PIDS+=("$!")

# Polls synack's trace (at most 130 s: FIN-WAIT-2 ends at ~10 s, the zero window at ~12.6 s
# with the 200 ms RTO floor, later if a slow moment on a loaded machine raised the RTO: 130 s
# allows an RTO of 2 s)
# for the trace times (s) of: the first connection's arrival, fin2's FIN-WAIT-2 entry, its
# deletion, the zero-window orphan's end. Prints the four ("-" for one never seen).
python3 - "$WORK/serve.jsonl" >"$WORK/times" <<'PY'
import json, sys, time
wanted = {("LISTEN", "SYN-RECEIVED", "rcv SYN / snd SYN,ACK"): None,
          ("FIN-WAIT-1", "FIN-WAIT-2", "rcv ACK of FIN"): None,
          ("FIN-WAIT-2", "CLOSED", "timeout=FIN-WAIT-2 / delete TCB"): None,
          ("FIN-WAIT-1", "CLOSED", "timeout=R2 / delete TCB"): None}
deadline = time.monotonic() + 130
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
[ "$fin2_out" != - ] || fail "synack's orphan in FIN-WAIT-2 was not deleted within 130 s"
[ "$zero_out" != - ] || fail "synack's orphan behind a zero window was not given up within 130 s"
held=$(python3 -c "print(f'{$fin2_out - $fin2_in:.1f}')")
zero_after=$(python3 -c "print(f'{$zero_out - $start:.1f}')")
echo "synack: FIN-WAIT-2 for ${held} s, then deleted; the zero-window orphan given up ${zero_after} s after the clients came"
# 5 answered probes at RTO >= 200 ms, doubling: at least 0.2 x (1 + 2 + ... + 32) = 12.6 s.
# And not the default's 102 s: at most 60 s (an RTO of ~950 ms).
python3 -c "import sys; sys.exit(0 if 12.4 <= $zero_out - $start <= 60 else 1)" ||
  fail "the zero-window orphan was given up after ${zero_after} s, not within 12.4-60 s (RFC 9293 §3.8.3; --orphan-retries 5)"
python3 -c "import sys; sys.exit(0 if 9.5 <= $fin2_out - $fin2_in <= 11.5 else 1)" ||
  fail "FIN-WAIT-2 lasted ${held} s, not --fin-timeout's 10 s"
[ -n "$(in_ns ss -Htan state close-wait)" ] ||
  fail "the kernel's fin2 socket left CLOSE-WAIT: the test did not hold what synack closed"
stop_serve
stat() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/serve.err"; }
orphans=$(stat tcp_orphan_timeouts)
probes=$(stat tcp_window_probes)
echo "serve: tcp_orphan_timeouts ${orphans:-0}, tcp_window_probes ${probes:-0}"
[ "${orphans:-0}" = 2 ] || fail "tcp_orphan_timeouts=${orphans:-0}, want 2"
[ "${probes:-0}" -ge 5 ] || fail "only ${probes:-0} zero-window probes before giving up"
echo PASS
