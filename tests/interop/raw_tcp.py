# SPDX-License-Identifier: MIT
"""Raw IPv4/TCP packets for the attack tests (tests/interop/syn_flood.sh, blind_inject.sh):
built with correct checksums, written to a TUN's kernel side with an AF_PACKET socket (as an
attacker on the link would, spoofing any source), and synack's packets read back from it.
"""
import socket
import struct

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def linux_syn_options(tsval):
    """MSS 1460, SACK-permitted, timestamps, NOP, window scale 7: what Linux puts in a SYN."""
    return (struct.pack("!BBH", 2, 4, 1460) + bytes([4, 2]) +
            struct.pack("!BBII", 8, 10, tsval, 0) + bytes([1, 3, 3, 7]))


def tcp_packet(src, dst, sport, dport, seq, ack, flags, window=64240, options=b"", payload=b""):
    """An IPv4 packet (src, dst: 4-byte packed addresses)."""
    off = (20 + len(options)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      off << 4, flags, window, 0, 0) + options + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    c = csum(pseudo + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp


def writer():
    return socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM)


def send(sock, ifname, packet):
    sock.sendto(packet, (ifname, 0x0800))


def capture(ifname):
    """Every packet on `ifname`, non-blocking; recv gives (bytes, address)."""
    cap = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0003))
    cap.bind((ifname, 0))
    cap.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    cap.setblocking(False)
    return cap


def parse(data):
    """(src, dst, sport, dport, seq, ack, flags, window, payload length) of an IPv4 TCP packet,
    or None."""
    if len(data) < 40 or data[0] >> 4 != 4 or data[9] != 6:
        return None
    hl = (data[0] & 15) * 4
    total = struct.unpack("!H", data[2:4])[0]
    sport, dport, seq, ack, off, flags, window = struct.unpack("!HHIIBBH", data[hl:hl + 16])
    return (data[12:16], data[16:20], sport, dport, seq, ack, flags, window,
            total - hl - (off >> 4) * 4)
