#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# DNS and ICMP to synack run's gateway. A small python3 resolver on the host's 127.0.0.1 answers
# A and AAAA for interop.synack.test (203.0.113.7 / 2001:db8::7; documentation addresses, never
# contacted) and NXDOMAIN otherwise. With `synack run --dns 127.0.0.1:PORT`: CMD's
# /etc/resolv.conf names 198.18.0.1; a raw DNS query to 198.18.0.1:53 gets the resolver's
# answer (same ID); getaddrinfo and getent hosts resolve the name; an unknown name fails
# (NXDOMAIN passed through). ping -c 2 198.18.0.1 is answered inside. And other UDP: with
# --allow-host-loopback, datagrams up to 30000 bytes to the gateway reach a host UDP echo server
# on 127.0.0.1 and come back.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup run_dns --no-netns
need python3 ping getent

cat >"$WORK/resolver.py" <<'PY'
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(f"PORT {s.getsockname()[1]}", flush=True)
NAME = b"\x07interop\x06synack\x04test\x00"
while True:
    query, peer = s.recvfrom(4096)
    ident, flags, qd = struct.unpack("!HHH", query[:6])
    end = query.index(b"\x00", 12) + 1
    qname, (qtype, qclass) = query[12:end], struct.unpack("!HH", query[end:end + 4])
    question = query[12:end + 4]
    answers = b""
    rcode = 0
    if qname.lower() != NAME:
        rcode = 3  # NXDOMAIN
    elif qtype == 1:
        answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_pton(socket.AF_INET, "203.0.113.7")
    elif qtype == 28:
        answers = b"\xc0\x0c" + struct.pack("!HHIH", 28, 1, 60, 16) + socket.inet_pton(socket.AF_INET6, "2001:db8::7")
    header = struct.pack("!HHHHHH", ident, 0x8180 | rcode, 1, 1 if answers else 0, 0, 0)
    s.sendto(header + question + answers, peer)
    print(f"QUERY {qname!r} type {qtype} from {peer[0]} rcode {rcode}", flush=True)
PY
host_py resolver "$WORK/resolver.py"

synack_run --dns "127.0.0.1:$HOST_PORT" --stats -- sh -c '
    set -e
    grep -qx "nameserver $1" /etc/resolv.conf || { echo "resolv.conf: $(cat /etc/resolv.conf)" >&2; exit 3; }
    echo "CMD /etc/resolv.conf: $(cat /etc/resolv.conf)"
    python3 - "$1" <<"PY"
import os, socket, struct, sys
gw = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
ident = int.from_bytes(os.urandom(2), "big")
q = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + b"\x07interop\x06synack\x04test\x00" + struct.pack("!HH", 1, 1)
s.sendto(q, (gw, 53))
reply, peer = s.recvfrom(4096)
assert peer == (gw, 53), f"answer from {peer}, want {gw}:53"
rid, flags, qd, an = struct.unpack("!HHHH", reply[:8])
assert rid == ident and flags & 0x8000 and flags & 0xF == 0 and an == 1, (rid, ident, hex(flags), an)
assert reply[-4:] == socket.inet_aton("203.0.113.7"), reply
print(f"raw query to {gw}:53: ID {ident:#06x}, A interop.synack.test = 203.0.113.7")
addrs = {ai[4][0] for ai in socket.getaddrinfo("interop.synack.test", 80, socket.AF_INET, socket.SOCK_STREAM)}
assert addrs == {"203.0.113.7"}, addrs
print("getaddrinfo(interop.synack.test, AF_INET): 203.0.113.7")
try:
    socket.getaddrinfo("nowhere.synack.test", 80, socket.AF_INET)
    sys.exit("nowhere.synack.test resolved")
except socket.gaierror as e:
    assert e.errno == socket.EAI_NONAME, e
    print("getaddrinfo(nowhere.synack.test): EAI_NONAME (NXDOMAIN)")
PY
    out=$(getent hosts interop.synack.test)
    echo "getent hosts interop.synack.test: $out"
    echo "$out" | grep -Eq "^(203\.0\.113\.7|2001:db8::7) " || exit 4
    ping -c 2 -W 5 "$1"
' sh "$ADDR" 2>"$WORK/run.err" | tee "$WORK/run.out"
status=${PIPESTATUS[0]}
[ "$status" = 0 ] || { cat "$WORK/run.err" >&2; fail "DNS and ping inside synack run --dns 127.0.0.1:$HOST_PORT (exit status $status)"; }
grep -q " 0% packet loss" "$WORK/run.out" || fail "ping -c 2 $ADDR: replies missing"
n=$(grep -c "^QUERY b'\\\\x07interop" "$WORK/resolver.out")
[ "$n" -ge 3 ] || { cat "$WORK/resolver.out" >&2; fail "the host resolver saw $n queries for interop.synack.test, want >= 3"; }
grep -q "^QUERY b'\\\\x07nowhere" "$WORK/resolver.out" || fail "the host resolver saw no query for nowhere.synack.test"
flows=$(awk '$1 == "relay_udp_to_host" { print $2 }' "$WORK/run.err")
echo "host resolver: $(grep -c ^QUERY "$WORK/resolver.out") queries, from $(awk '/^QUERY/ { print $(NF - 2) }' "$WORK/resolver.out" | sort -u | tr '\n' ' ');" \
     "--stats relay_udp_to_host=$flows"

# Other UDP: with --allow-host-loopback, datagrams to the gateway reach a UDP echo server on the
# host's 127.0.0.1 and its answers come back from the gateway's address and port.
cat >"$WORK/udp_echo.py" <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(f"PORT {s.getsockname()[1]}", flush=True)
while True:
    data, peer = s.recvfrom(65535)
    s.sendto(data, peer)
PY
host_py udp_echo "$WORK/udp_echo.py"
synack_run --allow-host-loopback -- python3 -c '
import os, socket, sys
gw = (sys.argv[1], int(sys.argv[2]))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
sizes = [1, 100, 1400, 1472, 8000, 30000]
for n in sizes * 5:
    data = os.urandom(n)
    s.sendto(data, gw)
    got, peer = s.recvfrom(65535)
    assert peer == gw and got == data, (n, peer, len(got))
print(f"UDP echo via {gw[0]}:{gw[1]}: {len(sizes) * 5} datagrams of {sizes} bytes, all back exactly")
' "$ADDR" "$HOST_PORT" 2>"$WORK/udp.err" || { cat "$WORK/udp.err" >&2; fail "UDP to the gateway with --allow-host-loopback"; }
echo "PASS"
