#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A port forward's listener when synack has no descriptor left: `synack run -p HP:8080` under a
# descriptor limit of 64, and 120 host connections to HP that stay open (a server inside holds
# them). accept4() fails with EMFILE once the limit is reached, the connections that are left
# wait in the listener's backlog, and the listener stays readable. Before os::AcceptRest the
# relay went straight back to it and spun on a CPU for as long as they waited (2.0 s of CPU in
# 2 s). Now the listener rests 100 ms at a time: synack's CPU over those 2 s stays small,
# --stats counts relay_forward_accept_rests, and every connection synack took is carried.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup run_accept_rest --no-netns
need python3
HERE=$(dirname "$(readlink -f "$0")")
CONNECTIONS=120
HP=$(free_port)

# Inside: accepts every connection on 8080, answers "ok\n" on each, holds them 6 s, exits.
cat >"$WORK/inside.py" <<'PY'
import select, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080))
s.listen(256)
print("READY", flush=True)
held = []
end = time.monotonic() + 6
while time.monotonic() < end:
    if select.select([s], [], [], 0.1)[0]:
        c = s.accept()[0]
        c.sendall(b"ok\n")
        held.append(c)
print("HELD", len(held), flush=True)
PY
# Soft and hard limit (ulimit -n sets both): synack run raises its soft limit to the hard one.
(ulimit -n 64 && exec "$SYNACK" run --stats -p "127.0.0.1:$HP:8080" -- \
  python3 -u "$WORK/inside.py") >"$WORK/run.out" 2>"$WORK/run.err" &
RUN_PID=$!
PIDS+=("$RUN_PID")
for _ in $(seq 100); do
  grep -q "^READY" "$WORK/run.out" && break
  sleep 0.1
done
grep -q "^READY" "$WORK/run.out" || { cat "$WORK/run.err" >&2; fail "the server inside is not up"; }

# The host's clients: 120 connections at once, each reads its "ok" when it comes; they are
# held until synack run ends. Prints how many got their answer.
python3 -u - "$HP" "$CONNECTIONS" >"$WORK/clients.out" 2>&1 <<'PY' &
import select, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
conns = []
for _ in range(n):
    c = socket.create_connection(("127.0.0.1", port))
    c.setblocking(False)
    conns.append(c)
print("CONNECTED", len(conns), flush=True)
answered = set()
end = time.monotonic() + 8
while time.monotonic() < end and len(answered) < n:
    for c in select.select([c for c in conns if c not in answered], [], [], 0.2)[0]:
        try:
            if c.recv(16).startswith(b"ok"):
                answered.add(c)
        except OSError:
            answered.add(c)
print("ANSWERED", len(answered), flush=True)
time.sleep(10)
PY
PIDS+=($!)
for _ in $(seq 100); do
  grep -q "^CONNECTED" "$WORK/clients.out" && break
  sleep 0.1
done
grep -q "^CONNECTED $CONNECTIONS" "$WORK/clients.out" || fail "the host's clients: $(cat "$WORK/clients.out")"

# synack's CPU (utime + stime, in clock ticks) over 2 s while connections wait in the backlog.
ticks() { awk '{ print $14 + $15 }' "/proc/$RUN_PID/stat"; }
sleep 0.5
before=$(ticks)
sleep 2
after=$(ticks)
hz=$(getconf CLK_TCK)
cpu=$(awk -v t=$((after - before)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')
echo "synack run: $cpu s of CPU in 2 s with connections waiting and no descriptor left"
awk -v c="$cpu" 'BEGIN { exit !(c < 0.5) }' || fail "synack run used $cpu s of CPU in 2 s: the listener spins"

for _ in $(seq 150); do
  kill -0 "$RUN_PID" 2>/dev/null || break
  sleep 0.1
done
wait "$RUN_PID"
rests=$(awk '$1 == "relay_forward_accept_rests" { print $2 }' "$WORK/run.err")
forwarded=$(awk '$1 == "relay_tcp_forwarded" { print $2 }' "$WORK/run.err")
held=$(awk '$1 == "HELD" { print $2 }' "$WORK/run.out")
echo "relay_forward_accept_rests $rests, relay_tcp_forwarded $forwarded, held inside $held"
[ "${rests:-0}" -ge 1 ] || fail "relay_forward_accept_rests is ${rests:-0}: the limit was never reached"
[ "${forwarded:-0}" -ge 10 ] || fail "only ${forwarded:-0} connections forwarded"
[ "${forwarded:-0}" -lt "$CONNECTIONS" ] || fail "all $CONNECTIONS forwarded: the descriptor limit did not bite"
[ "$held" = "$forwarded" ] || fail "$forwarded forwarded but $held reached the server inside"
echo "PASS"
