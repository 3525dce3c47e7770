#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# netcat against synack's echo (RFC 862) and discard (RFC 863) servers, IPv4 and IPv6.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup echo
need nc cmp head

start_serve --echo 7 --discard 9

head -c 3000000 /dev/urandom >"$WORK/in"
in_ns nc -N "$ADDR" 7 <"$WORK/in" >"$WORK/out" || fail "nc to echo"
cmp "$WORK/in" "$WORK/out" || fail "echo (IPv4) returned different bytes"
echo "echo IPv4: $(stat -c %s "$WORK/out") bytes back, identical"

in_ns nc -N "$ADDR6" 7 <"$WORK/in" >"$WORK/out6" || fail "nc -6 to echo"
cmp "$WORK/in" "$WORK/out6" || fail "echo (IPv6) returned different bytes"
echo "echo IPv6: identical"

printf 'one line\n' | in_ns nc -N "$ADDR" 7 | grep -qx 'one line' || fail "short echo"

head -c 50000000 /dev/zero | in_ns nc -N "$ADDR" 9 || fail "nc to discard"
echo "discard: 50 MB sent"

stop_serve
echo "PASS"
