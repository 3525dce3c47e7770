#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 11 §2 and §5 against the real kernel: a kernel client holds a connection to synack
# serve's echo port and keeps echoing data, while an attacker on the link (an AF_PACKET socket
# on the TUN, spoofing the client's 4-tuple) injects 10,000 segments over about 5 s with
# sequence numbers inside the receive window: RSTs not at RCV.NXT (RFC 5961 §3.2), SYNs
# (§4.2), and data whose ACK field is a blind guess, ahead of SND.NXT or older than
# SND.UNA - MAX.SND.WND (§5.2). Wanted: the connection is never reset, no injected byte
# reaches the echo (every round comes back exactly), and synack's replies to the injections
# stay within the rate limit: one per 500 ms for the connection (RFC 5961 §7, Linux's
# tcp_invalid_ratelimit), the rest counted as tcp_invalid_acks_suppressed.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup blind_inject
need python3
HERE=$(dirname "$(readlink -f "$0")")
INJECTIONS=${INJECTIONS:-10000}

start_serve --echo 7 --stats

cat >"$WORK/inject.py" <<'PY'
import os, random, socket, struct, sys, time
sys.path.insert(0, sys.argv[1])
import raw_tcp
addr, total = sys.argv[2], int(sys.argv[3])
cap = raw_tcp.capture("synack0")
s = socket.create_connection((addr, 7), timeout=5)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
me, port = s.getsockname()
rounds = 0

def echo_round():
    global rounds
    data = os.urandom(1000)
    s.sendall(data)
    got = bytearray()
    while len(got) < len(data):
        chunk = s.recv(len(data) - len(got))
        if not chunk:
            sys.exit(f"round {rounds}: the connection ended (reset or closed)")
        got += chunk
    if got != data:
        sys.exit(f"round {rounds}: echo differs: injected bytes reached the stream")
    rounds += 1

echo_round()
time.sleep(0.1)  # every segment of the round is on the capture by now
# synack's latest segment to the client: its SND.NXT and RCV.NXT (all data echoed, so the
# client's stream is fully received: RCV.NXT is exact).
snd_nxt = rcv_nxt = None
while True:
    try:
        data, _ = cap.recvfrom(70000)
    except BlockingIOError:
        break
    p = raw_tcp.parse(data)
    if p and p[2] == 7 and p[3] == port:
        snd_nxt, rcv_nxt = (p[4] + p[8]) & 0xFFFFFFFF, p[5]
if snd_nxt is None:
    sys.exit("no segment of synack's seen on synack0")
src, dst = socket.inet_aton(me), socket.inet_aton(addr)
out = raw_tcp.writer()
rnd = random.Random(11)
kinds = {"rst": 0, "syn": 0, "data": 0}
start = time.monotonic()
RATE = 2000  # injections per second: 10,000 over 5 s
for i in range(total):
    k = i % 3
    off = rnd.randrange(0, 8000)
    if k == 0:  # in the window, never exactly RCV.NXT
        pkt = raw_tcp.tcp_packet(src, dst, port, 7, rcv_nxt + 1 + off, snd_nxt, raw_tcp.RST | raw_tcp.ACK)
        kinds["rst"] += 1
    elif k == 1:
        pkt = raw_tcp.tcp_packet(src, dst, port, 7, rcv_nxt + off, 0, raw_tcp.SYN)
        kinds["syn"] += 1
    else:
        guess = snd_nxt + (1 << 20) + off if i % 2 else snd_nxt - (1 << 30) - off
        pkt = raw_tcp.tcp_packet(src, dst, port, 7, rcv_nxt + off, guess,
                                 raw_tcp.ACK | raw_tcp.PSH, payload=b"INJECTED" * 8)
        kinds["data"] += 1
    raw_tcp.send(out, "synack0", pkt)
    if (i + 1) % 500 == 0:
        # Legitimate traffic between bursts; the stream must stay exact. RCV.NXT moves by
        # the round's 1,000 bytes and SND.NXT by the echo's.
        echo_round()
        rcv_nxt = (rcv_nxt + 1000) & 0xFFFFFFFF
        snd_nxt = (snd_nxt + 1000) & 0xFFFFFFFF
        ahead = start + (i + 1) / RATE - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
elapsed = time.monotonic() - start
echo_round()
s.shutdown(socket.SHUT_WR)
if s.recv(1) != b"":
    sys.exit("unexpected bytes after the last round")
s.close()
print(f"injected {total} ({kinds}) in {elapsed:.2f} s; {rounds} echo rounds exact; no reset")
print(f"ELAPSED {elapsed:.3f}")
PY

in_ns python3 "$WORK/inject.py" "$HERE" "$ADDR" "$INJECTIONS" >"$WORK/inject.out" 2>"$WORK/inject.err" ||
  { cat "$WORK/inject.out" "$WORK/inject.err" >&2; fail "inject.py"; }
cat "$WORK/inject.out" | grep -v ELAPSED
elapsed=$(awk '$1 == "ELAPSED" { print $2 }' "$WORK/inject.out")
stop_serve
stat() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/serve.err"; }
challenges=$(stat tcp_challenge_acks)
suppressed=$(stat tcp_invalid_acks_suppressed)
echo "serve: tcp_challenge_acks ${challenges:-0}, tcp_invalid_acks_suppressed ${suppressed:-0}," \
  "drop_rst_in_window $(stat drop_rst_in_window), drop_syn_synchronized $(stat drop_syn_synchronized)," \
  "drop_ack_future $(stat drop_ack_future), drop_ack_too_old $(stat drop_ack_too_old)," \
  "tcp_resets_received $(stat tcp_resets_received)"
[ "$(stat tcp_resets_received)" = "" ] || fail "an injected RST reset a connection"
# One reply per 500 ms over the injection time (plus the one at its start and one at the end
# of a partial interval).
limit=$(python3 -c "import math; print(math.floor($elapsed / 0.5) + 2)")
# Every injection that reached the connection took one of these paths, each of which replies
# only within the limit (a few may be lost on the TUN's queue in a burst, and never arrive).
reached=0
for k in drop_rst_in_window drop_syn_synchronized drop_ack_future drop_ack_too_old \
  drop_sequence_unacceptable; do
  reached=$((reached + $(stat $k | grep . || echo 0)))
done
[ "$reached" -ge $((INJECTIONS * 9 / 10)) ] || fail "only $reached of $INJECTIONS injections reached the connection"
replies=$((reached - ${suppressed:-0}))
[ "$replies" -le "$limit" ] ||
  fail "$replies replies to $reached injections in $elapsed s: more than the limit of $limit"
[ "${challenges:-0}" -le "$limit" ] || fail "tcp_challenge_acks=$challenges beyond $limit"
[ "${challenges:-0}" -ge 1 ] || fail "no challenge ACK at all"
echo "replies to $reached injections that arrived: $replies (limit $limit for $elapsed s); PASS"
