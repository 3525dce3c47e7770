#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The kernel pings synack's addresses (ICMP echo, ICMPv6 echo), and synack answers a protocol
# it does not serve with ICMP protocol unreachable. Here synack creates the namespace itself and
# must remove it on exit.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup ping --no-netns
need ping python3

start_serve --http 80
ip netns list | grep -qw "$NS" || fail "synack did not create namespace $NS"

in_ns ping -c 3 -i 0.2 -W 2 "$ADDR" || fail "ping $ADDR"
in_ns ping -6 -c 3 -i 0.2 -W 2 "$ADDR6" || fail "ping -6 $ADDR6"
# A large echo: 60000 bytes of data in one packet (the TUN's MTU is 65520).
in_ns ping -c 1 -s 60000 -W 2 "$ADDR" || fail "ping -s 60000 $ADDR"

# UDP is not served: the kernel's connected UDP socket must see the ICMP error synack sends
# back — protocol unreachable, which Linux reports as ENOPROTOOPT, and for IPv6 a parameter
# problem (unrecognized next header), reported as EPROTO.
in_ns python3 - "$ADDR" "$ADDR6" <<'PY' || fail "no ICMP error for UDP"
import errno, socket, sys
for family, address, expected in ((socket.AF_INET, sys.argv[1], errno.ENOPROTOOPT),
                                  (socket.AF_INET6, sys.argv[2], errno.EPROTO)):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect((address, 9999))
    s.send(b"hello")
    try:
        s.recv(100)
        sys.exit("got a reply?")
    except socket.timeout:
        sys.exit(f"{address}: timed out, no ICMP error came back")
    except OSError as e:
        if e.errno != expected:
            raise
        print(f"UDP to {address}: {errno.errorcode[e.errno]}, as expected")
PY

stop_serve
ip netns list | grep -qw "$NS" && fail "namespace $NS left behind"
echo "PASS"
