#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 11 §1 and §5 against the real kernel: 100,000 spoofed SYNs (random sources in
# 198.19.0.0/16 that never answer, Linux-like options) written from the namespace onto synack
# serve's TUN with an AF_PACKET socket, paced at about 40,000 a second. While the flood runs —
# the SYN queue long full — a kernel client connects to the echo port and must complete its
# handshake through the SYN cookie path (in under 7.5 s: its SYN or one of its first two
# retransmissions, at 1 and 3 s, answered; without cookies none is, for 255 s) and get 100 KB echoed exactly; another client does the same after the flood. serve's counters must show the
# cookies (sent for nearly every SYN beyond the queue's 1,024, validated for the clients,
# none failed, no SYN-queue overflow), and its resident set must stay small.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup syn_flood
need python3
HERE=$(dirname "$(readlink -f "$0")")
SPOOFED=${SPOOFED_SYNS:-100000}

start_serve --echo 7 --stats --syn-cookies "${SYN_COOKIES:-auto}"
# A longer queue on the TUN's kernel side than the default 500: fewer SYNs lost in bursts.
ip -n "$NS" link set synack0 txqueuelen 10000 || fail "txqueuelen"

cat >"$WORK/flood.py" <<'PY'
import os, random, socket, sys, time
sys.path.insert(0, sys.argv[1])
import raw_tcp
count, target = int(sys.argv[2]), socket.inet_aton(sys.argv[3])
rnd = random.Random(2026)
out = raw_tcp.writer()
RATE, BATCH = 40000, 100
start = time.monotonic()
for i in range(count):
    src = bytes([198, 19, rnd.randrange(256), rnd.randrange(1, 255)])
    raw_tcp.send(out, "synack0", raw_tcp.tcp_packet(
        src, target, rnd.randrange(1024, 65536), 7, rnd.getrandbits(32), 0, raw_tcp.SYN,
        options=raw_tcp.linux_syn_options(rnd.getrandbits(32))))
    if (i + 1) % BATCH == 0:
        ahead = start + (i + 1) / RATE - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    if i + 1 == count // 2:
        print("HALF", flush=True)
print(f"flood: {count} spoofed SYNs in {time.monotonic() - start:.1f} s", flush=True)
PY

cat >"$WORK/client.py" <<'PY'
import os, socket, sys, time
t0 = time.monotonic()
s = socket.create_connection((sys.argv[1], 7), timeout=10)
connected = time.monotonic() - t0
data = os.urandom(100000)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = bytearray()
while chunk := s.recv(65536):
    got += chunk
if got != data:
    sys.exit(f"echo: {len(got)} bytes back, want {len(data)} identical")
print(f"connected in {connected * 1000:.0f} ms, 100000 bytes echoed exactly")
# One SYN, or one of its first two retransmissions (1 and 3 s later) should the TUN's queue
# have lost the others in the flood (a loaded machine, or an ASan build that reads the TUN more
# slowly than the flood fills it); without cookies, none of them is answered while the SYN queue
# is full (255 s).
sys.exit(0 if connected < 7.5 else f"connect took {connected:.2f} s")
PY

in_ns python3 "$WORK/flood.py" "$HERE" "$SPOOFED" "$ADDR" >"$WORK/flood.out" 2>"$WORK/flood.err" &
FLOOD_PID=$!
PIDS+=("$FLOOD_PID")
for _ in $(seq 300); do
  grep -q HALF "$WORK/flood.out" 2>/dev/null && break
  kill -0 "$FLOOD_PID" 2>/dev/null || { cat "$WORK/flood.err" >&2; fail "the flood ended early"; }
  sleep 0.1
done
grep -q HALF "$WORK/flood.out" || fail "the flood did not reach half way in 30 s"
in_ns python3 "$WORK/client.py" "$ADDR" || fail "legitimate client during the flood"
kill -0 "$FLOOD_PID" 2>/dev/null && echo "(the flood was still running after the client finished)"
wait "$FLOOD_PID" || { cat "$WORK/flood.err" >&2; fail "flood.py failed"; }
cat "$WORK/flood.out" | grep -v HALF
in_ns python3 "$WORK/client.py" "$ADDR" || fail "legitimate client after the flood"

hwm_kb=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$SERVE_PID/status")
stop_serve
stat() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/serve.err"; }
sent=$(stat tcp_syncookies_sent)
validated=$(stat tcp_syncookies_validated)
failed=$(stat tcp_syncookies_failed)
overflow=$(stat tcp_syn_queue_overflow)
echo "serve: tcp_syncookies_sent ${sent:-0}, validated ${validated:-0}, failed ${failed:-0}," \
  "tcp_syn_queue_overflow ${overflow:-0}, tcp_segments_in $(stat tcp_segments_in), peak VmHWM $((hwm_kb / 1024)) MB"
# Nearly every SYN beyond the 1,024 the queue holds got a cookie (some may be lost on the
# TUN's queue on a loaded machine).
[ "${sent:-0}" -ge $((SPOOFED * 3 / 4 - 1024)) ] || fail "too few cookies: ${sent:-0}"
[ "${validated:-0}" -ge 1 ] || fail "no cookie validated: the clients did not use the cookie path"
[ "${failed:-0}" = 0 ] || fail "tcp_syncookies_failed=$failed"
[ "${overflow:-0}" = 0 ] || fail "tcp_syn_queue_overflow=$overflow: SYNs dropped despite cookies"
# The flood adds no state beyond the SYN queue: 1,024 half-open connections are ~1 MB.
bound_mb=$((64 + $(sanitizer_rss_allowance_mb)))
[ "$hwm_kb" -le $((bound_mb * 1024)) ] || fail "serve's peak resident set $((hwm_kb / 1024)) MB > $bound_mb MB"
echo "PASS"
