#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Half-close each way. The kernel shuts down its write side and then still receives: from
# synack's echo server (everything echoed, most of it after the kernel's FIN) and from its HTTP
# server (an upload ended by FIN, answered afterwards). And synack connect half-closes when its
# standard input ends and then still receives everything the kernel sends after that FIN.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup half_close
need python3 sha256sum head tshark ss

# --- the kernel half-closes --------------------------------------------------------------
start_serve --echo 7 --http 80 --pcap "$WORK/serve.pcap"

in_ns python3 - "$ADDR" <<'PY' || fail "echo after the kernel's half-close"
import hashlib, os, socket, sys, threading
data = os.urandom(5_000_000)
s = socket.create_connection((sys.argv[1], 7), timeout=30)
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)  # our FIN: synack must keep sending what it still owes
threading.Thread(target=send).start()
got = bytearray()
while chunk := s.recv(1 << 20):
    got += chunk
assert got == data, f"echo: {len(got)} bytes back, want {len(data)} identical"
print(f"echo: kernel sent {len(data)} bytes and FIN, got all {len(got)} back, then synack's FIN")
PY

in_ns python3 - "$ADDR" <<'PY' || fail "HTTP upload ended by the kernel's half-close"
import hashlib, os, socket, sys
body = os.urandom(3_000_000)
s = socket.create_connection((sys.argv[1], 80), timeout=30)
s.sendall(b"PUT /upload HTTP/1.1\r\nHost: synack\r\nContent-Length: %d\r\n"
          b"Connection: close\r\n\r\n" % len(body) + body)
s.shutdown(socket.SHUT_WR)
reply = bytearray()
while chunk := s.recv(65536):
    reply += chunk
head, _, answer = bytes(reply).partition(b"\r\n\r\n")
want = b"length=%d sha256=%s" % (len(body), hashlib.sha256(body).hexdigest().encode())
assert head.startswith(b"HTTP/1.1 200") and answer.strip() == want, reply[:300]
print("HTTP: upload then FIN; the answer came after the FIN:", answer.strip().decode())
PY
stop_serve

# In the capture: on the echo connection, synack sent data after the kernel's FIN.
after=$(tshark -r "$WORK/serve.pcap" -n -Y "tcp.port == 7" -T fields -e ip.src -e tcp.flags.fin -e tcp.len \
        2>/dev/null | awk -v peer="$PEER" -v addr="$ADDR" '
  $1 == peer && $2 == 1 { fin = 1 }
  fin && $1 == addr && $3 > 0 { n += $3 }
  END { print n + 0 }')
[ "$after" -gt 0 ] || fail "capture: no data from synack after the kernel's FIN on the echo connection"
echo "capture: synack sent $after bytes of echo after the kernel's FIN"
check_capture "$WORK/serve.pcap"

# --- synack connect half-closes ----------------------------------------------------------
# The kernel's server reads to end of file (synack's FIN), then sends what it received back
# with a digest and 10 MB of its own, and closes.
ip netns exec "$NS" python3 - >"$WORK/server.out" 2>&1 <<'PY' &
import hashlib, socket
srv = socket.socket(socket.AF_INET6)
srv.bind(("::", 9000))
srv.listen()
srv.settimeout(30)
c, _ = srv.accept()
got = bytearray()
while chunk := c.recv(65536):
    got += chunk
tail = bytes(i % 251 for i in range(251)) * 40000  # 10,040,000 bytes
c.sendall(b"got %d sha256=%s\n" % (len(got), hashlib.sha256(got).hexdigest().encode()) + tail)
c.close()
print("server: sent reply after EOF", flush=True)
PY
SERVER_PID=$!
PIDS+=("$SERVER_PID")
for _ in $(seq 100); do
  in_ns ss -Hltn 'sport = :9000' | grep -q . && break
  sleep 0.1
done
head -c 200000 /dev/urandom >"$WORK/in"
timeout "$STEP_TIMEOUT" "$SYNACK" connect --netns "$NS" --timeout 10 --pcap "$WORK/connect.pcap" \
  "$PEER" 9000 <"$WORK/in" >"$WORK/out" || fail "synack connect exited with $?"
timeout 10 tail --pid="$SERVER_PID" -f /dev/null
cat "$WORK/server.out"
python3 - "$WORK/in" "$WORK/out" <<'PY' || fail "synack connect: wrong data after its half-close"
import hashlib, sys
sent = open(sys.argv[1], "rb").read()
out = open(sys.argv[2], "rb").read()
line, _, tail = out.partition(b"\n")
want = b"got %d sha256=%s" % (len(sent), hashlib.sha256(sent).hexdigest().encode())
assert line == want, (line, want)
assert tail == bytes(i % 251 for i in range(251)) * 40000, f"{len(tail)} bytes after the digest line"
print(f"connect: stdin EOF sent FIN; then received {len(out)} bytes, identical")
PY
# The capture shows synack's FIN before the first data byte from the kernel.
order=$(tshark -r "$WORK/connect.pcap" -n -Y "tcp.port == 9000 && (tcp.flags.fin == 1 || tcp.len > 0)" \
        -T fields -e ip.src -e tcp.flags.fin -e tcp.len 2>/dev/null | awk -v peer="$PEER" -v addr="$ADDR" '
  $1 == addr && $2 == 1 && !fin { fin = NR }
  $1 == peer && $3 > 0 && !data { data = NR }
  END { print (fin && data && fin < data) ? "ok" : "fin=" fin " data=" data }')
[ "$order" = ok ] || fail "capture: synack's FIN does not precede the kernel's data ($order)"
check_capture "$WORK/connect.pcap"

echo "PASS"
