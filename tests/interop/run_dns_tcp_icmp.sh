#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What users of slirp4netns and pasta miss, inside synack run:
# - DNS over TCP to the gateway (RFC 7766): a python3 resolver on the host's 127.0.0.1 answers
#   over TCP only; a length-prefixed query to 198.18.0.1:53 over TCP gets its answer, same ID
#   (relay_tcp_dns counts it). With --cidr 198.18.0.0/24 (slirp4netns's layout: gateway .2,
#   DNS .3, CMD .100), CMD has 198.18.0.100, resolv.conf names 198.18.0.3, and DNS over UDP
#   and TCP to .3 reaches the host's resolver; anything else to .3 does not go anywhere.
# - ICMP port unreachable: with --allow-host-loopback, a UDP datagram to a closed port on the
#   host's loopback (through the gateway, IPv4 and IPv6) makes the next recv on CMD's connected
#   socket fail with ECONNREFUSED, within a second (relay_udp_refused, icmp_unreachable_sent).
# - A message on stderr, once, the first time a connection to the host's loopback is refused
#   for want of --allow-host-loopback, naming the flag; none when the flag is given.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup run_dns_tcp_icmp --no-netns
need python3

cat >"$WORK/resolver.py" <<'PY'
import socket, struct, threading
NAME = b"\x07interop\x06synack\x04test\x00"
def answer(query):
    ident = struct.unpack("!H", query[:2])[0]
    end = query.index(b"\x00", 12) + 1
    question = query[12:end + 4]
    ok = query[12:end].lower() == NAME
    rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("198.18.7.7") if ok else b""
    return struct.pack("!HHHHHH", ident, 0x8180 | (0 if ok else 3), 1, 1 if ok else 0, 0, 0) + question + rr
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("127.0.0.1", 0)); t.listen(8)
port = t.getsockname()[1]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", port))
print(f"PORT {port}", flush=True)
def udp():
    while True:
        q, peer = u.recvfrom(4096)
        u.sendto(answer(q), peer)
        print("UDP QUERY", flush=True)
threading.Thread(target=udp, daemon=True).start()
while True:
    c, _ = t.accept()
    n = struct.unpack("!H", c.recv(2, socket.MSG_WAITALL))[0]
    q = c.recv(n, socket.MSG_WAITALL)
    a = answer(q)
    c.sendall(struct.pack("!H", len(a)) + a)
    c.close()
    print("TCP QUERY", flush=True)
PY
host_py resolver "$WORK/resolver.py"

cat >"$WORK/query.py" <<'PY'
import os, socket, struct, sys
server, transports = sys.argv[1], sys.argv[2].split(",")
for transport in transports:
    ident = int.from_bytes(os.urandom(2), "big")
    q = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + b"\x07interop\x06synack\x04test\x00" + struct.pack("!HH", 1, 1)
    if transport == "tcp":
        s = socket.create_connection((server, 53), timeout=5)
        s.sendall(struct.pack("!H", len(q)) + q)
        n = struct.unpack("!H", s.recv(2, socket.MSG_WAITALL))[0]
        reply = s.recv(n, socket.MSG_WAITALL)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        s.sendto(q, (server, 53))
        reply, _ = s.recvfrom(4096)
    rid, flags, qd, an = struct.unpack("!HHHH", reply[:8])
    assert rid == ident and an == 1 and reply[-4:] == socket.inet_aton("198.18.7.7"), (transport, reply)
    print(f"DNS over {transport.upper()} to {server}:53: ID {ident:#06x}, interop.synack.test = 198.18.7.7")
PY
synack_run --dns "127.0.0.1:$HOST_PORT" --stats -- python3 "$WORK/query.py" "$ADDR" tcp,udp \
  2>"$WORK/dns.err" || { cat "$WORK/dns.err" >&2; fail "DNS over TCP to the gateway"; }
n=$(awk '$1 == "relay_tcp_dns" { print $2 }' "$WORK/dns.err")
[ "${n:-0}" = 1 ] || { cat "$WORK/dns.err" >&2; fail "relay_tcp_dns=$n, want 1"; }
grep -q "^TCP QUERY" "$WORK/resolver.out" || fail "the host resolver saw no TCP query"
echo "relay_tcp_dns=$n"

# --cidr: slirp4netns's layout, in 198.18.0.0/24.
synack_run --cidr 198.18.0.0/24 --dns "127.0.0.1:$HOST_PORT" -- sh -c '
    set -e
    ip -4 addr show synack0 | grep -q "inet 198.18.0.100/24" || { ip addr >&2; exit 3; }
    ip route | grep -q "default via 198.18.0.2" || { ip route >&2; exit 4; }
    grep -qx "nameserver 198.18.0.3" /etc/resolv.conf || { cat /etc/resolv.conf >&2; exit 5; }
    echo "--cidr 198.18.0.0/24: CMD is 198.18.0.100/24, default via 198.18.0.2, nameserver 198.18.0.3"
    python3 "$1" 198.18.0.3 udp,tcp
    python3 -c "
import socket
s = socket.socket(); s.settimeout(5)
try:
    s.connect((\"198.18.0.3\", 80)); raise SystemExit(\"198.18.0.3:80 connected\")
except ConnectionRefusedError:
    print(\"198.18.0.3:80 (not DNS): refused\")"
' sh "$WORK/query.py" 2>"$WORK/cidr.err" || { cat "$WORK/cidr.err" >&2; fail "--cidr 198.18.0.0/24"; }
"$SYNACK" run --cidr 198.18.0.5/24 -- true 2>"$WORK/badcidr.err" && fail "--cidr 198.18.0.5/24 accepted"
grep -q "did you mean 198.18.0.0/24" "$WORK/badcidr.err" || { cat "$WORK/badcidr.err" >&2; fail "--cidr with host bits: no hint"; }
cat "$WORK/badcidr.err"

# ICMP port unreachable for a refused datagram, IPv4 and IPv6.
CLOSED=$(free_port udp)
cat >"$WORK/udp_closed.py" <<'PY'
import socket, sys, time
port = int(sys.argv[3])
for gw in sys.argv[1:3]:
    s = socket.socket(socket.AF_INET6 if ":" in gw else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.connect((gw, port))
    t0 = time.monotonic()
    s.send(b"anyone there?")
    try:
        s.recv(100)
        sys.exit(f"{gw}:{port}: an answer from a closed port")
    except ConnectionRefusedError:
        print(f"UDP to {gw}:{port} (closed on the host): ECONNREFUSED after {time.monotonic() - t0:.3f} s")
    except socket.timeout:
        sys.exit(f"UDP to {gw}:{port} (closed on the host): silence for 5 s, want ECONNREFUSED")
PY
synack_run --allow-host-loopback --stats -- python3 "$WORK/udp_closed.py" "$ADDR" "$ADDR6" "$CLOSED" \
  2>"$WORK/icmp.err" || { cat "$WORK/icmp.err" >&2; fail "ICMP port unreachable for a refused datagram"; }
n=$(awk '$1 == "relay_udp_refused" { print $2 }' "$WORK/icmp.err")
m=$(awk '$1 == "icmp_unreachable_sent" { print $2 }' "$WORK/icmp.err")
[ "${n:-0}" -ge 2 ] && [ "${m:-0}" -ge 2 ] || { cat "$WORK/icmp.err" >&2; fail "relay_udp_refused=$n icmp_unreachable_sent=$m, want >= 2"; }
echo "relay_udp_refused=$n icmp_unreachable_sent=$m"
if grep -q "allow-host-loopback" "$WORK/icmp.err"; then fail "a loopback message although --allow-host-loopback was given"; fi

# The loopback message: once, naming the flag, for two refused connections and a datagram.
synack_run -- python3 -c '
import socket, sys
for _ in range(2):
    s = socket.socket(); s.settimeout(5)
    try:
        s.connect((sys.argv[1], int(sys.argv[2]))); sys.exit("connected to the host loopback")
    except ConnectionRefusedError:
        pass
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b"x", (sys.argv[1], int(sys.argv[2])))
print("two connections to the gateway refused")
' "$ADDR" "$HOST_PORT" 2>"$WORK/lo.err" || { cat "$WORK/lo.err" >&2; fail "connections to the gateway without --allow-host-loopback"; }
[ "$(grep -c -- "--allow-host-loopback" "$WORK/lo.err")" = 1 ] ||
  { cat "$WORK/lo.err" >&2; fail "want exactly one message naming --allow-host-loopback"; }
cat "$WORK/lo.err"
echo "PASS"
