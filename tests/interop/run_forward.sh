#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Port forwards: `synack run -p 127.0.0.1:HOSTPORT:8080 -p HOSTPORT2:7 -- python3 ...` with
# host_server.py's HTTP (8080) and echo (7) servers inside the namespace. curl on the host,
# through 127.0.0.1:HOSTPORT, downloads 64 MB and uploads 64 MB, byte-exact by SHA-256; the
# short form -p HOSTPORT2:7 (host address 127.0.0.1 by default) carries 1 MB of echo. SIGTERM
# to synack run then ends the servers (exit status 143), --stats counts the forwarded
# connections, and the host ports are closed again. A forward to a port nothing listens on
# inside resets the host's connection; a forwarded connection still open when synack run ends
# gets EOF or a reset on the host, not a hang.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup run_forward --no-netns
need python3 curl sha256sum head ss
HERE=$(dirname "$(readlink -f "$0")")

SIZE=${TRANSFER_BYTES:-67108864}
head -c "$SIZE" /dev/urandom >"$WORK/random.bin"
random_sha=$(sha256sum <"$WORK/random.bin" | cut -d' ' -f1)
HP=$(free_port)
HP2=$(free_port)
[ "$HP" != "$HP2" ] || HP2=$(free_port)
HP3=$(free_port)

# Inside: one python3 process serving HTTP on 8080 and echo on 7 (no stray children).
cat >"$WORK/inside.py" <<'PY'
import sys, threading
sys.path.insert(0, sys.argv[1])
import host_server
echo = host_server.Server(("0.0.0.0", 7), host_server.Echo)
threading.Thread(target=echo.serve_forever, daemon=True).start()
http = host_server.HttpServer(("0.0.0.0", 8080), host_server.Http)
host_server.announce(8080)
http.serve_forever()
PY
"$SYNACK" run --stats -p "127.0.0.1:$HP:8080" -p "$HP2:7" -p "$HP3:9999" -- python3 -u "$WORK/inside.py" "$HERE" \
  >"$WORK/run.out" 2>"$WORK/run.err" &
RUN_PID=$!
PIDS+=("$RUN_PID")
ready=0
for _ in $(seq 100); do
  if grep -q "^PORT 8080" "$WORK/run.out" && ss -Hltn "sport = :$HP" | grep -q . &&
     ss -Hltn "sport = :$HP2" | grep -q .; then ready=1; break; fi
  kill -0 "$RUN_PID" 2>/dev/null || { cat "$WORK/run.err" >&2; fail "synack run exited early"; }
  sleep 0.1
done
[ "$ready" = 1 ] || { cat "$WORK/run.err" >&2; fail "forward 127.0.0.1:$HP or server inside not ready after 10 s"; }
ss -Hltn "sport = :$HP" | grep -q "127.0.0.1:$HP" || fail "the forward does not listen on 127.0.0.1:$HP"
# Its accept queue is the kernel's cap (SOMAXCONN, at most net.core.somaxconn; ss shows it as
# a listener's Send-Q), not 128: a burst of connections waits for the relay, none is dropped.
want_backlog=$(( $(cat /proc/sys/net/core/somaxconn) < 4096 ? $(cat /proc/sys/net/core/somaxconn) : 4096 ))
backlog=$(ss -Hltn "sport = :$HP" | awk '{print $3}' | head -1)
[ "${backlog:-0}" -ge "$want_backlog" ] || fail "the forward's listen backlog is ${backlog:-none}, want $want_backlog"

started=$SECONDS
got=$(timeout "$STEP_TIMEOUT" curl -sS -f --max-time 50 "http://127.0.0.1:$HP/bytes/$SIZE" | sha256sum | cut -d' ' -f1)
[ "$got" = "$(pattern_sha256 "$SIZE")" ] || fail "curl GET /bytes/$SIZE through -p $HP:8080: SHA-256 differs"
echo "host <- namespace through the forward: $SIZE bytes, SHA-256 equal ($((SECONDS - started)) s)"

started=$SECONDS
got=$(timeout "$STEP_TIMEOUT" curl -sS -f --max-time 50 -T "$WORK/random.bin" "http://127.0.0.1:$HP/upload")
[ "$got" = "length=$SIZE sha256=$random_sha" ] || fail "curl PUT through -p $HP:8080: the server inside answered '$got'"
echo "host -> namespace through the forward: $SIZE bytes, SHA-256 equal ($((SECONDS - started)) s)"

timeout "$STEP_TIMEOUT" python3 - "$HP2" <<'PY' || fail "echo through -p $HP2:7"
import os, socket, sys
data = os.urandom(1 << 20)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = bytearray()
while chunk := s.recv(1 << 16):
    got += chunk
assert got == data, f"{len(got)} bytes echoed, want {len(data)} identical"
print(f"echo through -p {sys.argv[1]}:7 (default host address): 1 MB each way, identical")
PY

# A forward to a port nothing listens on inside: the host's connection is reset, at once.
timeout "$STEP_TIMEOUT" python3 - "$HP3" <<'PY' || fail "-p $HP3:9999 (nothing listening inside)"
import socket, sys, time
t0 = time.monotonic()
try:
    # The reset may come so soon that connect() itself reports it.
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    data = s.recv(100)
    assert data == b"", f"got {data!r}"
    how = "EOF"
except ConnectionResetError:
    how = "ECONNRESET"
except socket.timeout:
    sys.exit("nothing for 10 s: the host's connection hangs")
print(f"-p {sys.argv[1]}:9999, nothing listening inside: the host sees {how} after {time.monotonic() - t0:.3f} s")
PY

# A forwarded connection still open when synack run ends: the host sees EOF or a reset.
timeout "$STEP_TIMEOUT" python3 - "$HP2" "$WORK/held" <<'PY' &
import os, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(b"hi")
assert s.recv(2) == b"hi"
open(sys.argv[2], "w").write("open\n")
try:
    data = s.recv(100)
    how = "EOF" if not data else f"data {data!r}"
except ConnectionResetError:
    how = "ECONNRESET"
except socket.timeout:
    how = "nothing for 20 s (a hang)"
open(sys.argv[2], "a").write(how + "\n")
PY
HELD_PID=$!
PIDS+=("$HELD_PID")
for _ in $(seq 100); do grep -q open "$WORK/held" 2>/dev/null && break; sleep 0.1; done
grep -q open "$WORK/held" 2>/dev/null || fail "the held echo connection did not open"

kill -TERM "$RUN_PID"
status=
for _ in $(seq 100); do
  kill -0 "$RUN_PID" 2>/dev/null || { wait "$RUN_PID"; status=$?; break; }
  sleep 0.1
done
[ -n "$status" ] || fail "synack run still running 10 s after SIGTERM"
[ "$status" = 143 ] || { cat "$WORK/run.err" >&2; fail "synack run: exit status $status after SIGTERM, want 143"; }
fwd=$(awk '$1 == "relay_tcp_forwarded" { print $2 }' "$WORK/run.err")
[ "${fwd:-0}" -ge 3 ] || { cat "$WORK/run.err" >&2; fail "--stats: relay_tcp_forwarded=$fwd, want >= 3"; }
echo "synack run: exit status 143 after SIGTERM; relay_tcp_forwarded=$fwd"
if ss -Hltn "sport = :$HP" | grep -q .; then fail "127.0.0.1:$HP still listening after synack run exited"; fi
for _ in $(seq 100); do kill -0 "$HELD_PID" 2>/dev/null || break; sleep 0.1; done
held=$(sed -n 2p "$WORK/held")
case "$held" in
  EOF|ECONNRESET) echo "a forwarded connection open when synack run ended: the host saw $held" ;;
  *) fail "a forwarded connection open when synack run ended: the host saw '${held:-nothing within 10 s}', want EOF or ECONNRESET" ;;
esac
echo "PASS"
