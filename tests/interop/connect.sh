#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `synack connect` as the client: fetch a file from python3's http.server on the kernel side,
# byte-exact, over IPv4 and IPv6; upload to a peer that half-closed at once; and the exit
# status for a refused connection.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup connect
need python3 cmp head sha256sum ss

mkdir "$WORK/www"
head -c 20000000 /dev/urandom >"$WORK/www/file.bin"
# Dual-stack on every address of the namespace (the TUN's come later, with synack connect).
ip netns exec "$NS" python3 -m http.server --bind :: --directory "$WORK/www" 8000 \
  >"$WORK/http.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  in_ns python3 -c "import socket; socket.create_connection(('127.0.0.1', 8000), 1)" 2>/dev/null && break
  sleep 0.1
done

fetch() {  # fetch HOST: GET /file.bin through synack connect into $WORK/got
  printf 'GET /file.bin HTTP/1.0\r\n\r\n' |
    timeout "$STEP_TIMEOUT" "$SYNACK" connect --netns "$NS" --timeout 10 "$1" 8000 >"$WORK/response" ||
    fail "synack connect $1 exited with $?"
  python3 - "$WORK/response" "$WORK/got" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
head, sep, body = data.partition(b"\r\n\r\n")
assert sep and head.startswith(b"HTTP/1.0 200"), head[:100]
open(sys.argv[2], "wb").write(body)
PY
  cmp "$WORK/www/file.bin" "$WORK/got" || fail "file fetched from $1 differs"
  echo "fetched 20000000 bytes from $1, identical"
}
fetch "$PEER"
fetch "$PEER6"

# Upload: the kernel's side half-closes at once and then reads everything; synack connect must
# still send all of standard input (a peer's FIN ends only its direction) before exiting.
ip netns exec "$NS" python3 - >"$WORK/sink.out" <<'PY' &
import hashlib, socket
srv = socket.socket(socket.AF_INET6)
srv.bind(("::", 9000))
srv.listen()
srv.settimeout(30)
c, _ = srv.accept()
c.shutdown(socket.SHUT_WR)
h, n = hashlib.sha256(), 0
while data := c.recv(1 << 20):
    h.update(data)
    n += len(data)
print(n, h.hexdigest(), flush=True)
PY
SINK_PID=$!
PIDS+=("$SINK_PID")
for _ in $(seq 100); do
  ip netns exec "$NS" ss -Hltn 'sport = :9000' | grep -q . && break
  sleep 0.1
done
timeout "$STEP_TIMEOUT" "$SYNACK" connect --netns "$NS" --timeout 10 "$PEER" 9000 \
  <"$WORK/www/file.bin" >/dev/null || fail "upload: synack connect exited with $?"
timeout 10 tail --pid="$SINK_PID" -f /dev/null
want="20000000 $(sha256sum <"$WORK/www/file.bin" | cut -d' ' -f1)"
[ "$(cat "$WORK/sink.out")" = "$want" ] || fail "upload: the kernel got '$(cat "$WORK/sink.out")'"
echo "uploaded 20000000 bytes to a half-closed peer, identical"

# Nobody listens on port 9: the kernel answers our SYN with RST.
timeout "$STEP_TIMEOUT" "$SYNACK" connect --netns "$NS" --timeout 10 "$PEER" 9 </dev/null
status=$?
[ "$status" = 2 ] || fail "connect to a closed port: exit status $status, want 2 (refused)"
echo "refused: exit status 2"

echo "PASS"
