#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""UDP echo for the interop tests of UDP port forwards (attach.sh, slirp4netns_front.sh).

  udp_echo.py serve ADDR PORT      echoes every datagram to its sender; prints "PORT n" first
  udp_echo.py ask HOST PORT TEXT   sends TEXT from a connected socket and prints the answer;
                                   exit 1 with "refused" (ICMP port unreachable came back) or
                                   "timeout" (nothing within 5 s)
"""
import socket
import sys


def serve(addr, port):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((addr, port))
    print(f"PORT {s.getsockname()[1]}", flush=True)
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(data, peer)


def ask(host, port, text):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.connect((host, port))
    try:
        s.send(text.encode())
        print(s.recv(65535).decode())
        return 0
    except ConnectionRefusedError:
        print("refused")
    except socket.timeout:
        print("timeout")
    return 1


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(ask(sys.argv[2], int(sys.argv[3]), sys.argv[4]))
