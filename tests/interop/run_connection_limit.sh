#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `synack run --max-connections 20`: CMD opens 40 connections to a host service that accepts
# them and holds them. 20 are relayed; the other 20 are refused at once (ECONNREFUSED: the
# stack answers their SYN with an RST before the relay opens a host connection for them,
# tcp_connection_limit), and the host service sees exactly the 20. Before the limit, the
# number of relayed connections was bounded only by synack's descriptors.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup run_connection_limit --no-netns
need python3
LIMIT=20
CONNECTIONS=40

cat >"$WORK/hold.py" <<'PY'
import select, socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(128)
print("PORT", s.getsockname()[1], flush=True)
held = []
while select.select([s], [], [], 15)[0]:
    held.append(s.accept()[0])
    print("ACCEPTED", len(held), flush=True)
PY
host_py hold "$WORK/hold.py"

cat >"$WORK/client.py" <<'PY'
import errno, socket, sys, time
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
up, refused, other, held = 0, 0, 0, []
for _ in range(n):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect((addr, port))
        up += 1
        held.append(s)
    except ConnectionRefusedError:
        refused += 1
    except OSError as e:
        other += 1
print(f"up {up} refused {refused} other {other}", flush=True)
PY
timeout "$STEP_TIMEOUT" "$SYNACK" run --allow-host-loopback --max-connections "$LIMIT" \
  --drain-timeout 0 --stats -- python3 "$WORK/client.py" "$ADDR" "$HOST_PORT" "$CONNECTIONS" \
  >"$WORK/client.out" 2>"$WORK/run.err" || { cat "$WORK/run.err" >&2; fail "synack run failed"; }
cat "$WORK/client.out"
read -r up refused other <<<"$(awk '$1 == "up" { print $2, $4, $6 }' "$WORK/client.out")"
stat() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/run.err"; }
accepted=$(awk '$1 == "ACCEPTED" { n = $2 } END { print n + 0 }' "$WORK/hold.out")
echo "tcp_connection_limit $(stat tcp_connection_limit), relay_tcp_connects $(stat relay_tcp_connects), the host service accepted $accepted"
[ "$up" = "$LIMIT" ] || fail "$up connections up, want $LIMIT (--max-connections)"
[ "$refused" = $((CONNECTIONS - LIMIT)) ] || fail "$refused refused, want $((CONNECTIONS - LIMIT)) (other errors: $other)"
[ "$(stat tcp_connection_limit)" = $((CONNECTIONS - LIMIT)) ] || fail "tcp_connection_limit $(stat tcp_connection_limit)"
[ "$(stat relay_tcp_connects)" = "$LIMIT" ] || fail "relay_tcp_connects $(stat relay_tcp_connects): host connections for refused SYNs"
[ "$accepted" = "$LIMIT" ] || fail "the host service accepted $accepted connections, want $LIMIT"
echo "PASS"
