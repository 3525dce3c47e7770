#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Refusals and exit statuses of synack run. With --allow-host-loopback, a connect to a closed
# port on the host's loopback (via the gateway, IPv4 and IPv6) fails inside with ECONNREFUSED,
# quickly. Without the flag, the host's loopback is unreachable: a connect to a listening host
# server is refused too (ECONNREFUSED; IPv4 and IPv6) and a datagram does not arrive. synack
# run's exit status is CMD's: `sh -c 'exit 42'` gives 42, a CMD killed by SIGKILL/SIGTERM gives
# 128+N, a command that does not exist 127, a setup failure 125. CMD gets synack run's stdin,
# cwd and environment, and synack0 with the documented addresses and default routes.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup run_refused --no-netns
need python3
HERE=$(dirname "$(readlink -f "$0")")

host_py sink "$HERE/host_server.py" sink
CLOSED=$(free_port)

# connect_inside [RUN OPTIONS...] -- PORT WANT: python3 inside connects to the gateway's PORT;
# WANT is "refused" or "connected".
cat >"$WORK/connect.py" <<'PY'
import errno, socket, sys, time
addr, port, want = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
s.settimeout(10)
t0 = time.monotonic()
try:
    s.connect((addr, port))
    outcome = "connected"
    s.sendall(b"hello")
    s.shutdown(socket.SHUT_WR)
    reply = s.recv(200)
    assert reply.startswith(b"length=5 "), reply
except socket.timeout:
    sys.exit(f"connect {addr}:{port}: timed out after {time.monotonic() - t0:.1f} s, want {want}")
except OSError as e:
    if e.errno != errno.ECONNREFUSED:
        sys.exit(f"connect {addr}:{port}: {e}, want {want}")
    outcome = "refused"
if outcome != want:
    sys.exit(f"connect {addr}:{port}: {outcome}, want {want}")
print(f"connect {addr}:{port}: {'ECONNREFUSED' if outcome == 'refused' else 'connected'}"
      f" after {time.monotonic() - t0:.3f} s")
PY
inside_connect() {
  local port=$1 want=$2 stats=$3
  shift 3
  synack_run --stats "$@" -- python3 "$WORK/connect.py" "${GW:-$ADDR}" "$port" "$want" 2>"$WORK/$stats" ||
    { cat "$WORK/$stats" >&2; fail "synack run $* -- connect to the gateway's port $port: want $want"; }
}
inside_connect "$HOST_PORT" connected allowed.stats --allow-host-loopback
inside_connect "$CLOSED" refused closed.stats --allow-host-loopback
GW=$ADDR6 inside_connect "$CLOSED" refused closed6.stats --allow-host-loopback  # the host's ::1
n=$(awk '$1 == "relay_tcp_refused" { print $2 }' "$WORK/closed.stats")
[ "${n:-0}" -ge 1 ] || fail "--stats: relay_tcp_refused=$n after a refused host connect, want >= 1"
inside_connect "$HOST_PORT" refused denied.stats
GW=$ADDR6 inside_connect "$HOST_PORT" refused denied6.stats
n=$(awk '$1 == "relay_tcp_loopback_denied" { print $2 }' "$WORK/denied6.stats")
[ "${n:-0}" -ge 1 ] || fail "--stats: relay_tcp_loopback_denied=$n for IPv6 without --allow-host-loopback, want >= 1"
n=$(awk '$1 == "relay_tcp_loopback_denied" { print $2 }' "$WORK/denied.stats")
[ "${n:-0}" -ge 1 ] || fail "--stats: relay_tcp_loopback_denied=$n without --allow-host-loopback, want >= 1"
n=$(awk '$1 == "relay_tcp_connects" { print $2 }' "$WORK/denied.stats")
[ "${n:-0}" = 0 ] || fail "--stats: relay_tcp_connects=$n without --allow-host-loopback, want 0"
echo "without --allow-host-loopback: relay_tcp_loopback_denied counted, no host connect"

# UDP to the gateway without the flag must not reach the host's loopback either.
python3 - >"$WORK/udp.port" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
s.settimeout(20)
try:
    data, peer = s.recvfrom(100)
    print("GOT", data, peer, flush=True)
except socket.timeout:
    pass
PY
UDP_PID=$!
PIDS+=("$UDP_PID")
for _ in $(seq 50); do [ -s "$WORK/udp.port" ] && break; sleep 0.1; done
udp_port=$(head -1 "$WORK/udp.port")
synack_run -- python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    s.sendto(b"should not arrive", (sys.argv[1], int(sys.argv[2])))
    time.sleep(0.1)' "$ADDR" "$udp_port" || fail "synack run -- python3 UDP sender"
sleep 0.5
if grep -q GOT "$WORK/udp.port"; then fail "UDP to the gateway reached the host's 127.0.0.1:$udp_port without --allow-host-loopback"; fi
echo "without --allow-host-loopback: UDP to the gateway did not reach the host's loopback"

# --- exit status ------------------------------------------------------------------------------
expect_status() {
  local want=$1 status
  shift
  synack_run "$@" 2>"$WORK/status.err"
  status=$?
  [ "$status" = "$want" ] || { cat "$WORK/status.err" >&2; fail "synack run $*: exit status $status, want $want"; }
  echo "synack run $*: exit status $status"
}
expect_status 0 -- true
expect_status 42 -- sh -c 'exit 42'
expect_status 137 -- sh -c 'kill -KILL $$'
expect_status 143 -- sh -c 'kill -TERM $$'
expect_status 127 -- /nonexistent/synack-no-such-command
expect_status 127 -- synack-no-such-command-$$
expect_status 125 --dns not-an-address -- true

# --- what else CMD gets from its caller, and its network ------------------------------------
out=$(cd "$WORK" && printf 'line1\nline2\n' | SYNACK_TEST_VAR=kept synack_run -- sh -c '
    wc -l | tr -d " "; pwd; echo "$SYNACK_TEST_VAR"
    ip -4 -o addr show dev synack0 | awk "{ print \$4 }"; ip -6 -o addr show dev synack0 scope global | awk "{ print \$4 }"
    ip -4 route show default | cut -d" " -f1-5; ip -6 route show default | cut -d" " -f1-5' 2>"$WORK/pass.err")
want="2
$WORK
kept
$PEER/24
$PEER6/64
default via $ADDR dev synack0
default via $ADDR6 dev synack0"
[ "$out" = "$want" ] || { cat "$WORK/pass.err" >&2; fail "CMD's stdin/cwd/environment/network: got
$out
want
$want"; }
echo "CMD reads synack run's stdin, keeps its cwd and environment; synack0 has $PEER/24 and $PEER6/64, default routes via $ADDR and $ADDR6"
echo "PASS"
