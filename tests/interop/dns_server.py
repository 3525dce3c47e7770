# SPDX-License-Identifier: MIT
"""A tiny DNS resolver for the interop tests: answers A for NAME with ADDR (both from argv),
NXDOMAIN for anything else, over UDP on BIND:PORT. Prints "PORT n" once bound.

  dns_server.py BIND PORT NAME ADDR
"""
import socket
import struct
import sys

bind, port, name, addr = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
wire_name = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((bind, port))
print(f"PORT {s.getsockname()[1]}", flush=True)
while True:
    query, peer = s.recvfrom(4096)
    try:
        ident = struct.unpack("!H", query[:2])[0]
        end = query.index(b"\x00", 12) + 1
        qname, qtype = query[12:end], struct.unpack("!H", query[end:end + 2])[0]
    except (ValueError, struct.error):
        continue
    question = query[12:end + 4]
    answers, rcode = b"", 0
    if qname.lower() != wire_name:
        rcode = 3
    elif qtype == 1:
        answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(addr)
    header = struct.pack("!HHHHHH", ident, 0x8180 | rcode, 1, 1 if answers else 0, 0, 0)
    s.sendto(header + question + answers, peer)
    print(f"QUERY {qname!r} type {qtype} from {peer[0]} rcode {rcode}", flush=True)
