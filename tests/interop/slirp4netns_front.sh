#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# synack's slirp4netns front, driven with the command lines podman 4 and rootlesskit 1.1 use
# (issue 16 §2), without the tools themselves (rootless_tools.sh runs those):
#  - a copy named slirp4netns: `--help` names every flag podman and rootlesskit probe for,
#    `--version` starts with "slirp4netns version";
#  - podman's: --disable-host-loopback --mtu=65520 --enable-sandbox --enable-seccomp
#    --enable-ipv6 -c -r 3 -e 4 --netns-type=path PATH tap0 (here with --api-socket as
#    port_handler=slirp4netns adds): tap0 is 10.0.2.100/24 and fd00::100/64 with default routes
#    via 10.0.2.2, ready fd "1"; a DNS query to 10.0.2.3 gets the answer of the resolver named by
#    the host's /etc/resolv.conf (a mount namespace's, naming this test's resolver); the host's
#    loopback through 10.0.2.2 is refused; add_hostfwd as podman sends it publishes a server
#    inside, TCP and UDP (a datagram from a host client reaches a UDP echo inside and comes
#    back; after remove_hostfwd the host port is closed and the datagram refused); the
#    default memory budget (256M, --max-memory) is in force; the exit fd closing ends it with
#    status 0;
#  - rootlesskit's: the caller made tap0 as a TAP and brought it up; --mtu 65520 -r 3
#    --api-socket SOCK PATH tap0 (no --configure): synack replaces the TAP by a TUN, the caller
#    configures it as rootlesskit's child does, the host's loopback through 10.0.2.2 is
#    reachable (slirp4netns's default), add_hostfwd with rootlesskit's guest_addr works; SIGTERM
#    kills it.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup slirp4netns_front
need python3 curl unshare ss
HERE=$(dirname "$(readlink -f "$0")")
wait_for() {
  local i
  for i in $(seq 100); do eval "$1" && return 0; sleep 0.1; done
  fail "$2"
}
wait_exit() {
  local i
  for i in $(seq 100); do
    if ! kill -0 "$1" 2>/dev/null; then wait "$1"; return $?; fi
    sleep 0.1
  done
  fail "process $1 still running after 10 s"
}
mkdir -p "$WORK/bin"
ln -s "$SYNACK" "$WORK/bin/slirp4netns"
S4="$WORK/bin/slirp4netns"

help=$("$S4" --help) || fail "slirp4netns --help: non-zero status"
for flag in --configure --exit-fd --ready-fd --mtu --cidr --disable-host-loopback --netns-type \
            --userns-path --api-socket --enable-ipv6 --disable-dns --outbound-addr --enable-sandbox \
            --enable-seccomp; do
  grep -q -- "$flag" <<<"$help" || fail "slirp4netns --help does not name $flag"
done
"$S4" --version | head -1 | grep -q "^slirp4netns version" || fail "slirp4netns --version: $("$S4" --version)"
echo "argv[0] slirp4netns: --help names every flag podman and rootlesskit probe; --version as slirp4netns's"

host_py http "$HERE/host_server.py" http
HTTP_PORT=$HOST_PORT
# The slirp4netns front has no --dns: 10.0.2.3 goes to the first nameserver of the host's
# /etc/resolv.conf, port 53. This test's resolver takes 127.0.0.1:53 when it is free (the DNS
# part is skipped, and said so, when not) and the front runs in a mount namespace whose
# /etc/resolv.conf names it.
DNS53=0
if ! ss -Hlun 'sport = :53' | grep -q .; then
  host_py dns53 "$HERE/dns_server.py" 127.0.0.1 53 synack-front.test 198.18.0.9
  DNS53=1
fi
echo "nameserver 127.0.0.1" >"$WORK/resolv.conf"

# --- podman's command line ------------------------------------------------------------------
mkfifo "$WORK/exitfifo"
sleep 600 >"$WORK/exitfifo" &
WRITER=$!
PIDS+=("$WRITER")
unshare -m sh -c "mount --make-rprivate / && mount --bind '$WORK/resolv.conf' /etc/resolv.conf &&
  exec '$S4' --disable-host-loopback --mtu=65520 --enable-sandbox --enable-seccomp --enable-ipv6 \
    -c -r 3 -e 4 --netns-type=path --api-socket '$WORK/api.sock' /run/netns/$NS tap0" \
  3>"$WORK/ready" 4<"$WORK/exitfifo" >"$WORK/p.out" 2>"$WORK/p.err" &
FRONT=$!
PIDS+=("$FRONT")
wait_for '[ "$(cat "$WORK/ready" 2>/dev/null)" = 1 ]' "podman-style slirp4netns: no \"1\" on the ready fd ($(cat "$WORK/p.err" 2>/dev/null))"
ip -n "$NS" -4 -br addr show tap0 | grep -q "10.0.2.100/24" || fail "tap0: $(ip -n "$NS" -br addr show tap0)"
ip -n "$NS" -6 -br addr show tap0 | grep -q "fd00::100/64" || fail "tap0 has no fd00::100/64"
ip -n "$NS" route show default | grep -q "via 10.0.2.2 dev tap0" || fail "no default route via 10.0.2.2"
[ "$(ip -n "$NS" -j link show tap0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["mtu"])')" = 65520 ] ||
  fail "tap0's MTU is not 65520"
echo "podman's command line: tap0 10.0.2.100/24, fd00::100/64, default via 10.0.2.2, MTU 65520, ready fd"
# podman names no memory bound; synack's default one holds (no bound at all before 2026-12-07).
budget=$("$SYNACK" stats --pid "$FRONT" | awk '$1 == "memory_budget_bytes" { print $2 }')
[ "$budget" = $((256 << 20)) ] || fail "podman's command line: memory_budget_bytes '$budget', want 256M (the default)"
echo "podman's command line: the default memory budget, 256M"
if [ "$DNS53" = 1 ]; then
  ans=$(in_ns python3 - <<'PY'
import socket, struct
q = struct.pack("!HHHHHH", 0x5157, 0x0100, 1, 0, 0, 0) + b"\x0csynack-front\x04test\x00" + struct.pack("!HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(10)
s.sendto(q, ("10.0.2.3", 53))
r = s.recv(512)
print(struct.unpack("!H", r[:2])[0] == 0x5157 and socket.inet_ntoa(r[-4:]))
PY
)
  [ "$ans" = 198.18.0.9 ] || fail "DNS to 10.0.2.3: '$ans', want 198.18.0.9"
  echo "DNS to 10.0.2.3:53: answered by the resolver of the host's /etc/resolv.conf (198.18.0.9)"
else
  echo "DNS part SKIPPED: port 53 is in use on this host"
fi
code=$(in_ns curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://10.0.2.2:$HTTP_PORT/" || true)
[ "$code" = 000 ] || fail "--disable-host-loopback: the host's 127.0.0.1:$HTTP_PORT answered $code through 10.0.2.2"
echo "--disable-host-loopback: 10.0.2.2:$HTTP_PORT refused"
# Started with `ip netns exec` itself, not in_ns (a function: $! would be a subshell, and
# killing it would leave the server running until in_ns's timeout): ip netns exec execs the
# server, so $! is the server and the cleanup kills it.
ip netns exec "$NS" python3 -u "$HERE/host_server.py" http 0.0.0.0 8080 >"$WORK/inside.out" 2>&1 &
PIDS+=("$!")
ip netns exec "$NS" python3 -u "$HERE/udp_echo.py" serve 0.0.0.0 7 >"$WORK/uecho.out" 2>&1 &
PIDS+=("$!")
wait_for 'grep -q "^PORT 8080" "$WORK/inside.out"' "server inside not up"
wait_for 'grep -q "^PORT 7" "$WORK/uecho.out"' "UDP echo inside not up"
HP=$(free_port)
ans=$(timeout "$STEP_TIMEOUT" python3 "$HERE/api_client.py" "$WORK/api.sock" \
  '{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr": "127.0.0.1", "host_port": '"$HP"', "guest_port": 8080}}')
[ "$ans" = '{"return":{"id":1}}' ] || fail "add_hostfwd (podman's form): '$ans'"
got=$(timeout "$STEP_TIMEOUT" curl -sS --max-time 20 "http://127.0.0.1:$HP/bytes/100000" | sha256sum | cut -d' ' -f1)
[ "$got" = "$(pattern_sha256 100000)" ] || fail "curl through podman's add_hostfwd: SHA-256 differs"
echo "add_hostfwd as podman sends it: 127.0.0.1:$HP -> 8080, 100000 bytes"
# podman -p HOST:CTR/udp: the same request with "proto": "udp".
HU=$(free_port udp)
api1() { timeout "$STEP_TIMEOUT" python3 "$HERE/api_client.py" "$WORK/api.sock" "$@"; }
udp_ask() { timeout "$STEP_TIMEOUT" python3 "$HERE/udp_echo.py" ask 127.0.0.1 "$@"; }
ans=$(api1 '{"execute": "add_hostfwd", "arguments": {"proto": "udp", "host_addr": "127.0.0.1", "host_port": '"$HU"', "guest_port": 7}}')
[ "$ans" = '{"return":{"id":2}}' ] || fail "add_hostfwd proto udp (podman's form): '$ans'"
ans=$(udp_ask "$HU" "through 10.0.2.100:7") || fail "a datagram through add_hostfwd udp: $ans"
[ "$ans" = "through 10.0.2.100:7" ] || fail "the UDP echo inside answered '$ans'"
ans=$(api1 '{"execute": "list_hostfwd"}')
case "$ans" in *'"guest_addr":"10.0.2.100","guest_port":7,"host_addr":"127.0.0.1","host_port":'"$HU"',"id":2,"proto":"udp"'*) ;;
  *) fail "list_hostfwd does not list the UDP forward: '$ans'" ;; esac
ans=$(api1 '{"execute": "remove_hostfwd", "arguments": {"id": 2}}')
[ "$ans" = '{"return":{}}' ] || fail "remove_hostfwd (UDP): '$ans'"
ans=$(udp_ask "$HU" "after remove") && fail "a datagram to 127.0.0.1:$HU was answered after remove_hostfwd"
[ "$ans" = refused ] || fail "after remove_hostfwd (UDP): '$ans', want refused"
echo "add_hostfwd proto udp: 127.0.0.1:$HU -> 7, a datagram echoed from inside; list_hostfwd lists it; after remove_hostfwd refused"
kill "$WRITER"
wait_exit "$FRONT"; status=$?
[ "$status" = 0 ] || { cat "$WORK/p.err" >&2; fail "exit fd closed: status $status, want 0"; }
echo "exit fd closed: status 0"

# --- rootlesskit's command line ------------------------------------------------------------------
ip -n "$NS" tuntap add name tap0 mode tap
ip -n "$NS" link set tap0 up
"$S4" --mtu 65520 -r 3 --api-socket "$WORK/api2.sock" --netns-type=path "/run/netns/$NS" tap0 \
  3>"$WORK/ready2" >"$WORK/r.out" 2>"$WORK/r.err" &
FRONT2=$!
PIDS+=("$FRONT2")
wait_for '[ "$(cat "$WORK/ready2" 2>/dev/null)" = 1 ]' "rootlesskit-style slirp4netns: not ready ($(cat "$WORK/r.err" 2>/dev/null))"
# rootlesskit's child configures the interface itself.
ip -n "$NS" link set tap0 mtu 65520 up
ip -n "$NS" addr add 10.0.2.100/24 dev tap0
ip -n "$NS" route add default via 10.0.2.2 dev tap0
got=$(timeout "$STEP_TIMEOUT" ip netns exec "$NS" curl -sS --max-time 20 "http://10.0.2.2:$HTTP_PORT/bytes/100000" | sha256sum | cut -d' ' -f1)
[ "$got" = "$(pattern_sha256 100000)" ] || { cat "$WORK/r.err" >&2; fail "rootlesskit's form: curl through 10.0.2.2: SHA-256 differs"; }
HP2=$(free_port)
ans=$(timeout "$STEP_TIMEOUT" python3 "$HERE/api_client.py" "$WORK/api2.sock" \
  '{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr": "127.0.0.1", "host_port": '"$HP2"', "guest_addr": "10.0.2.100", "guest_port": 8080}}')
[ "$ans" = '{"return":{"id":1}}' ] || fail "add_hostfwd (rootlesskit's form): '$ans'"
got=$(timeout "$STEP_TIMEOUT" curl -sS --max-time 20 "http://127.0.0.1:$HP2/bytes/100000" | sha256sum | cut -d' ' -f1)
[ "$got" = "$(pattern_sha256 100000)" ] || fail "curl through rootlesskit's add_hostfwd: SHA-256 differs"
echo "rootlesskit's command line: its TAP replaced by a TUN, configured by the caller; 10.0.2.2 reaches the host's loopback; add_hostfwd with guest_addr"
kill -TERM "$FRONT2"
wait_exit "$FRONT2"; status=$?
[ "$status" = 143 ] || fail "SIGTERM: status $status, want 143"
echo "SIGTERM: killed by it, as slirp4netns"
echo "PASS"
