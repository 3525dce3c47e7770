#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bad input from the kernel's side: a python3 packet socket on the TUN in the namespace hands
# synack hand-made IPv4 and IPv6 packets — bad checksums, truncated headers, bad lengths and
# versions, fragments, unknown protocols, martian source and foreign destination addresses,
# malformed TCP options. Each must be dropped and counted under its reason (`synack stats`
# before and after), and synack serve must go on serving. A SYN carrying options synack does
# not know must be accepted, the unknown options ignored (RFC 9293 §3.1, MUST-68).
#
# A packet socket (AF_PACKET) rather than a raw IP socket: with IP_HDRINCL the kernel still
# fills in a zero source address and the IPv4 header checksum, which is what some of these
# packets must get wrong. Injected IPv4 packets carry IP ID 0x5bad and IPv6 ones flow label
# 0x5bad, so the capture check can leave them (and the ICMP errors quoting them) aside.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup bad_input
need python3 curl tshark

start_serve --http 80 --pcap "$WORK/serve.pcap"

stats_json() {
  timeout 10 "$SYNACK" stats --pid "$SERVE_PID" --json >"$1" || fail "synack stats --json"
}
stats_json "$WORK/before.json"

in_ns python3 - "$ADDR" "$PEER" "$ADDR6" "$PEER6" >"$WORK/sent.json" <<'PY' || fail "injecting packets"
import ipaddress, json, socket, struct, sys

ADDR, PEER, ADDR6, PEER6 = sys.argv[1:5]
TAG = 0x5BAD
sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM)
expected = {}  # counter -> how many packets must move it


def send(packet, v6=False, **counters):
    sock.sendto(packet, ("synack0", 0x86DD if v6 else 0x0800))
    for name, n in counters.items():
        expected[name] = expected.get(name, 0) + n


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def addr(a):
    return ipaddress.ip_address(a).packed


def tcp(src, dst, sport=40000, dport=80, flags=0x02, options=b"", payload=b"", doff=None,
        good_checksum=True, seq=1000):
    options += b"\0" * (-len(options) % 4)
    hdr_len = 20 + len(options)
    offset = (doff if doff is not None else hdr_len // 4) << 4
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, offset, flags, 65535, 0, 0) + options
    seg = h + payload
    pseudo = (addr(src) + addr(dst) + struct.pack("!BBH", 0, 6, len(seg)) if ":" not in src
              else addr(src) + addr(dst) + struct.pack("!IxxxB", len(seg), 6))
    c = csum(pseudo + seg)
    if not good_checksum:
        c ^= 0x00FF
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def ip4(src, dst, payload, proto=6, version=4, ihl=5, total=None, frag=0, good_checksum=True):
    h = struct.pack("!BBHHHBBH4s4s", version << 4 | ihl, 0,
                    total if total is not None else 20 + len(payload), TAG, frag, 64, proto, 0,
                    addr(src), addr(dst))
    c = csum(h)
    if not good_checksum:
        c ^= 0x0F0F
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def ip6(src, dst, payload, next_header=6, plen=None):
    return struct.pack("!IHBB16s16s", 6 << 28 | TAG, plen if plen is not None else len(payload),
                       next_header, 64, addr(src), addr(dst)) + payload


SYN = dict(flags=0x02)
# Checksums.
send(ip4(PEER, ADDR, tcp(PEER, ADDR, good_checksum=False)), drop_parse_tcp_checksum=1)
send(ip6(PEER6, ADDR6, tcp(PEER6, ADDR6, good_checksum=False)), True, drop_parse_tcp_checksum=1)
send(ip4(PEER, ADDR, tcp(PEER, ADDR), good_checksum=False), drop_parse_ipv4_checksum=1)
# Truncated or inconsistent headers.
send(ip4(PEER, ADDR, tcp(PEER, ADDR))[:12], drop_parse_truncated=1)  # not even an IPv4 header
send(ip6(PEER6, ADDR6, b"")[:30], True, drop_parse_truncated=1)       # nor an IPv6 one
send(ip4(PEER, ADDR, tcp(PEER, ADDR)[:10]), drop_parse_tcp_header=1)  # 10 bytes of TCP
send(ip6(PEER6, ADDR6, tcp(PEER6, ADDR6)[:12]), True, drop_parse_tcp_header=1)
send(ip4(PEER, ADDR, tcp(PEER, ADDR, doff=3)), drop_parse_tcp_header=1)   # data offset < 5
send(ip4(PEER, ADDR, tcp(PEER, ADDR, doff=15)), drop_parse_tcp_header=1)  # offset past the end
send(ip4(PEER, ADDR, tcp(PEER, ADDR), version=7), drop_parse_ip_version=1)
send(ip4(PEER, ADDR, tcp(PEER, ADDR), ihl=4), drop_parse_ipv4_header_length=1)
send(ip4(PEER, ADDR, tcp(PEER, ADDR), total=400), drop_parse_ip_total_length=1)
send(ip6(PEER6, ADDR6, tcp(PEER6, ADDR6), plen=400), True, drop_parse_ip_total_length=1)
send(ip4(PEER, ADDR, tcp(PEER, ADDR), frag=0x2000), drop_parse_ipv4_fragment=1)  # more fragments
send(ip4(PEER, ADDR, tcp(PEER, ADDR), frag=0x0010), drop_parse_ipv4_fragment=1)  # offset 128
# An IPv6 hop-by-hop options header (PadN only) in front of TCP.
send(ip6(PEER6, ADDR6, bytes([6, 0, 1, 4, 0, 0, 0, 0]) + tcp(PEER6, ADDR6), next_header=0), True,
     drop_parse_ipv6_extension=1)
# Malformed TCP options: MSS with length 0; a length running past the header.
send(ip4(PEER, ADDR, tcp(PEER, ADDR, options=bytes([2, 0, 5, 0xB4]))), drop_parse_tcp_option=1)
send(ip4(PEER, ADDR, tcp(PEER, ADDR, options=bytes([8, 30, 0, 0]))), drop_parse_tcp_option=1)
# Protocols synack does not serve: answered with ICMP protocol unreachable / parameter problem.
send(ip4(PEER, ADDR, b"hello", proto=253), drop_unknown_protocol=1, icmp_unreachable_sent=1)
# (Not 253 over IPv6: 253 and 254 are experimental extension header types, RFC 4727.)
send(ip6(PEER6, ADDR6, b"hello", next_header=143), True, drop_unknown_protocol=1,
     icmp_unreachable_sent=1)
# Martian sources (RFC 1122 §3.2.1.3, RFC 9293 MUST-63) and addresses that are not synack's.
for src in ("0.0.0.0", "127.0.0.1", ADDR, "224.0.0.1", "255.255.255.255"):
    send(ip4(src, ADDR, tcp(src, ADDR)), drop_martian_source=1)
for src in ("::", "::1", ADDR6, "ff02::1"):
    send(ip6(src, ADDR6, tcp(src, ADDR6)), True, drop_martian_source=1)
for dst in ("224.0.0.1", "198.18.0.77"):
    send(ip4(PEER, dst, tcp(PEER, dst)), drop_not_our_address=1)
send(ip6(PEER6, "fd53:796e:6163::77", tcp(PEER6, "fd53:796e:6163::77")), True, drop_not_our_address=1)
send(ip4(PEER, ADDR, tcp(PEER, ADDR)), drop_malformed=0)  # a control: a valid SYN (port 40000)
expected["drop_malformed"] = sum(n for k, n in expected.items() if k.startswith("drop_parse_"))
# Unknown options on a SYN: kinds 253 (experimental) and 99, then MSS, then 200 with length 2.
# synack must answer SYN,ACK (the kernel, with no socket for it, then resets).
opts = bytes([253, 6, 0xAB, 0xCD, 1, 2, 99, 4, 0, 0, 2, 4, 0x05, 0xB4, 200, 2])
send(ip4(PEER, ADDR, tcp(PEER, ADDR, sport=40001, options=opts)), tcp_passive_opens=1)
send(ip6(PEER6, ADDR6, tcp(PEER6, ADDR6, sport=40001, options=opts)), True, tcp_passive_opens=1)
# The control SYN above is a passive open too.
expected["tcp_passive_opens"] += 1
print(json.dumps(expected))
PY
# The last packets are in once every counter has moved as much as sent (the kernel's RSTs
# answering synack's SYN,ACKs too): asked again every 0.2 s, for up to 20 s.
cat >"$WORK/check_counters.py" <<'PY'
import json, sys
def load(path):
    return {e["name"]: e["value"] for e in map(json.loads, open(path)) if e.get("type") == "counter"}
before, after = load(sys.argv[1]), load(sys.argv[2])
expected = json.load(open(sys.argv[3]))
bad = []
for name, n in sorted(expected.items()):
    delta = after[name] - before[name]
    print(f"  {name:32} +{delta:<4} (sent {n})")
    if delta < n:
        bad.append(name)
others = {k: after[k] - before[k] for k in after if after[k] != before[k] and k not in expected}
print("  other counters that moved:", " ".join(f"{k} +{v}" for k, v in sorted(others.items())))
assert not bad, f"counters that did not move as much as expected: {bad}"
PY
counted=no
for _ in $(seq 100); do
  stats_json "$WORK/after.json"
  python3 "$WORK/check_counters.py" "$WORK/before.json" "$WORK/after.json" "$WORK/sent.json" \
    >"$WORK/counters.out" 2>&1 && { counted=yes; break; }
  sleep 0.2
done
cat "$WORK/counters.out"
[ "$counted" = yes ] || fail "drop counters"
echo "every bad packet dropped and counted under its reason"

# Still serving.
got=$(in_ns curl -sS -f --max-time 30 "http://$ADDR/bytes/1000000" | sha256sum | cut -d' ' -f1)
[ "$got" = "$(pattern_sha256 1000000)" ] || fail "GET after the bad input"
got=$(in_ns curl -sS -f -g --max-time 30 "http://[$ADDR6]/bytes/1000000" | sha256sum | cut -d' ' -f1)
[ "$got" = "$(pattern_sha256 1000000)" ] || fail "GET over IPv6 after the bad input"
echo "synack serve still serves curl (IPv4, IPv6)"
stop_serve

# Nothing answered a martian (no packet from synack to those addresses), and the SYNs with
# unknown options got their SYN,ACK.
# (#1: the outer header; the injected packets from synack's own address carry the tag there.)
n=$(tshark -r "$WORK/serve.pcap" -n -Y "ip.src#1 == $ADDR && ip.id#1 != 0x5bad && (ip.dst#1 == 0.0.0.0 ||
    ip.dst#1 == 127.0.0.1 || ip.dst#1 == $ADDR || ip.dst#1 == 224.0.0.1 || ip.dst#1 == 255.255.255.255) ||
    ipv6.src#1 == $ADDR6 && ipv6.flow#1 != 0x5bad && (ipv6.dst#1 == :: || ipv6.dst#1 == ::1 ||
    ipv6.dst#1 == $ADDR6 || ipv6.dst#1 == ff02::1)" 2>/dev/null | wc -l)
[ "$n" = 0 ] || fail "capture: synack answered a martian source ($n packets)"
n=$(tshark -r "$WORK/serve.pcap" -n -Y "tcp.srcport == 80 && tcp.dstport == 40001 && tcp.flags.syn == 1 && tcp.flags.ack == 1" \
    2>/dev/null | wc -l)
[ "$n" -ge 2 ] || fail "capture: $n SYN,ACKs to the SYNs with unknown options, want 2 (IPv4, IPv6)"
echo "SYNs with unknown options answered with SYN,ACK (IPv4 and IPv6); no answer to any martian"

# The capture check leaves aside what we injected on purpose (and ICMP errors quoting it; the
# packets too short to carry the tag are leftovers tshark cannot place: 12 and 30 bytes).
check_capture "$WORK/serve.pcap" "!(ip.id == 0x5bad || ipv6.flow == 0x5bad) && frame.len > 30"
echo "PASS"
