#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The host-loopback guard of synack run has no way around it (issue 11). Without
# --allow-host-loopback, CMD is root in its namespace and writes raw packets to synack0 (an
# AF_PACKET socket, as an attacker would): TCP SYNs and UDP datagrams to every form of the
# host's loopback — 127.0.0.1 and 127.1.2.3, ::1, ::ffff:127.0.0.1, ::ffff:0.0.0.0, 0.0.0.0,
# ::, ::127.0.0.1, ::ffff:0:127.0.0.1, 64:ff9b::127.0.0.1, 2002:7f00:1:: — aimed at a host
# TCP server and a host UDP server on 127.0.0.1 (and ::1), and at a closed port. Wanted: no
# connection and no datagram reaches the host servers, and the namespace sees exactly the
# same answer (here: none) for the open and the closed port, so that nothing reveals which
# host loopback ports are open. The gateway, asked the normal way, still refuses (RST), and
# the relay's counters say what happened.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup run_loopback_forms --no-netns
need python3
HERE=$(dirname "$(readlink -f "$0")")

host_py sink "$HERE/host_server.py" sink
OPEN=$HOST_PORT
CLOSED=$(free_port)

# A UDP server on the host's 127.0.0.1 and ::1: prints every datagram it gets.
python3 -u - >"$WORK/udp.out" <<'PY' &
import select, socket
s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s4.bind(("127.0.0.1", 0))
port = s4.getsockname()[1]
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s6.bind(("::1", port))
print("PORT", port, flush=True)
while True:
    r, _, _ = select.select([s4, s6], [], [], 60)
    if not r:
        break
    for s in r:
        data, peer = s.recvfrom(2000)
        print("GOT", data, peer, flush=True)
PY
UDP_PID=$!
PIDS+=("$UDP_PID")
for _ in $(seq 50); do grep -q PORT "$WORK/udp.out" 2>/dev/null && break; sleep 0.1; done
UDP_PORT=$(awk '$1 == "PORT" { print $2; exit }' "$WORK/udp.out")
[ -n "$UDP_PORT" ] || fail "host UDP server printed no port"

cat >"$WORK/raw.py" <<'PY'
# Writes raw SYNs and datagrams to synack0 and records every packet synack sends back.
import ipaddress, socket, struct, sys, time
open_port, closed_port, udp_port = (int(x) for x in sys.argv[1:4])
GUEST4, GUEST6 = "198.18.0.2", "fd53:796e:6163::2"
TARGETS = ["127.0.0.1", "127.1.2.3", "0.0.0.0", "::1", "::", "::ffff:127.0.0.1",
           "::ffff:0.0.0.0", "::127.0.0.1", "::ffff:0:127.0.0.1", "64:ff9b::127.0.0.1",
           "2002:7f00:1::", "2002:7f00:1::1"]

def csum(data):
    if len(data) % 2: data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

def packet(dst, proto, sport, dport, payload=b""):
    d = ipaddress.ip_address(dst)
    src = ipaddress.ip_address(GUEST4 if d.version == 4 else GUEST6)
    if proto == 6:
        body = struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, 0x02, 64240, 0, 0)
    else:
        body = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    if d.version == 4:
        pseudo = src.packed + d.packed + struct.pack("!BBH", 0, proto, len(body))
    else:
        pseudo = src.packed + d.packed + struct.pack("!IxxxB", len(body), proto)
    c = csum(pseudo + body)
    off = 16 if proto == 6 else 6
    body = body[:off] + struct.pack("!H", c) + body[off + 2:]
    if d.version == 4:
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 1, 0, 64, proto, 0,
                          src.packed, d.packed)
        hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
        return hdr + body, 0x0800
    hdr = struct.pack("!IHBB16s16s", 6 << 28, len(body), proto, 64, src.packed, d.packed)
    return hdr + body, 0x86DD

out = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM)
cap = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0003))
cap.bind(("synack0", 0))
cap.setblocking(False)
sport = 40000
sent = {}
for dst in TARGETS:
    for dport in (open_port, closed_port):
        sport += 1
        pkt, ethertype = packet(dst, 6, sport, dport)
        out.sendto(pkt, ("synack0", ethertype))
        sent[sport] = (dst, dport)
    sport += 1
    pkt, ethertype = packet(dst, 17, sport, udp_port, b"leak " + dst.encode())
    out.sendto(pkt, ("synack0", ethertype))
# Replies: anything synack sends to the guest that answers one of our source ports.
answers = {}
deadline = time.monotonic() + 3
while time.monotonic() < deadline:
    try:
        data, addr = cap.recvfrom(70000)
    except BlockingIOError:
        time.sleep(0.02)
        continue
    if addr[2] == socket.PACKET_OUTGOING:  # our own writes
        continue
    v = data[0] >> 4
    proto, hl = (data[9], (data[0] & 15) * 4) if v == 4 else (data[6], 40)
    if proto in (6, 17) and len(data) >= hl + 4:
        dport = struct.unpack("!H", data[hl + 2:hl + 4])[0]
        answers.setdefault(dport, []).append(data[hl + 13] if proto == 6 else "udp")
    elif proto in (1, 58):
        answers.setdefault("icmp", []).append(data[hl])
bad = 0
for sp, (dst, dport) in sorted(sent.items()):
    got = answers.get(sp, [])
    kind = "open" if dport == open_port else "closed"
    print(f"SYN to [{dst}]:{dport} ({kind}): answers {got}")
for dst in TARGETS:
    a = answers.get([p for p, v in sent.items() if v == (dst, open_port)][0], [])
    b = answers.get([p for p, v in sent.items() if v == (dst, closed_port)][0], [])
    if a != b:
        print(f"LEAK: {dst}: open port answered {a}, closed port {b}")
        bad += 1
print("icmp answers:", answers.get("icmp", []))
print("RESULT", "leak" if bad else "same")
PY

synack_run --stats -- python3 "$WORK/raw.py" "$OPEN" "$CLOSED" "$UDP_PORT" \
  >"$WORK/raw.out" 2>"$WORK/raw.stats" || { cat "$WORK/raw.out" "$WORK/raw.stats" >&2; fail "synack run -- raw.py"; }
cat "$WORK/raw.out"
grep -q "^RESULT same" "$WORK/raw.out" || fail "an open and a closed host loopback port were told apart"
sleep 0.5
if grep -q "^GOT" "$WORK/udp.out"; then
  cat "$WORK/udp.out" >&2
  fail "a datagram from the namespace reached a UDP socket on the host's loopback"
fi
if grep -q "^sink" "$WORK/sink.out"; then
  cat "$WORK/sink.out" >&2
  fail "a connection from the namespace reached the TCP server on the host's loopback"
fi
n=$(awk '$1 == "relay_tcp_connects" { print $2 }' "$WORK/raw.stats")
[ "${n:-0}" = 0 ] || fail "relay_tcp_connects=$n: the relay connected on the host"
n=$(awk '$1 == "relay_udp_to_host" { print $2 }' "$WORK/raw.stats")
[ "${n:-0}" = 0 ] || fail "relay_udp_to_host=$n: a datagram was relayed to the host"
n=$(awk '$1 == "drop_not_our_address" { print $2 }' "$WORK/raw.stats")
[ "${n:-0}" -ge 30 ] || { cat "$WORK/raw.stats" >&2; fail "drop_not_our_address=$n, want every raw packet (36) counted"; }
echo "every loopback form refused without revealing port state; $n packets counted as drop_not_our_address"
