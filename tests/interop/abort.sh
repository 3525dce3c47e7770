#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Aborts (RST on an established connection), each way. The kernel aborts (SO_LINGER {1, 0} and
# close): synack connect writes out what it received and then exits with status 3 "connection
# reset"; synack serve counts the reset, forgets the connection and goes on serving. synack
# aborts: serve, stopped while a kernel client does not read its download, resets what is left
# when its 2 s grace ends, and the kernel's recv() fails with ECONNRESET.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup abort
need python3 ss mkfifo curl tshark

# --- the kernel aborts; synack connect reports it ---------------------------------------------
ip netns exec "$NS" python3 - >"$WORK/server.out" 2>&1 <<'PY' &
import fcntl, socket, struct, termios, time
srv = socket.socket(socket.AF_INET6)
srv.bind(("::", 9000))
srv.listen()
srv.settimeout(30)
c, _ = srv.accept()
c.sendall(b"hello\n")
# Wait until synack has acknowledged it (nothing left in the send queue: TIOCOUTQ counts the
# bytes not yet acknowledged), so that the RST comes at a known point, after "hello".
for _ in range(1000):
    if struct.unpack("i", fcntl.ioctl(c, termios.TIOCOUTQ, b"\0" * 4))[0] == 0:
        break
    time.sleep(0.01)
time.sleep(0.05)  # and has written it out before it reads the RST
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()  # RST
print("server: aborted", flush=True)
PY
SERVER_PID=$!
PIDS+=("$SERVER_PID")
for _ in $(seq 100); do
  in_ns ss -Hltn 'sport = :9000' | grep -q . && break
  sleep 0.1
done
mkfifo "$WORK/in"
exec 3<>"$WORK/in"  # synack connect's input stays open: only the RST can end it
timeout "$STEP_TIMEOUT" "$SYNACK" connect --netns "$NS" --timeout 10 --pcap "$WORK/connect.pcap" \
  --stats "$PEER" 9000 <"$WORK/in" >"$WORK/connect.out" 2>"$WORK/connect.err" 3>&-
status=$?
exec 3>&-
grep -v '^ ' "$WORK/connect.err" | grep -v '^[a-z_]* *[0-9]' >&2
[ "$status" = 3 ] || { cat "$WORK/connect.err" >&2; fail "synack connect: exit status $status, want 3 (reset)"; }
grep -q "connection reset" "$WORK/connect.err" || fail "synack connect: no 'connection reset' message"
grep -Eq '^tcp_resets_received +1( |$)' "$WORK/connect.err" || fail "synack connect --stats: tcp_resets_received is not 1"
[ "$(cat "$WORK/connect.out")" = hello ] || fail "synack connect: data before the RST lost: '$(cat "$WORK/connect.out")'"
echo "kernel SO_LINGER 0: synack connect exit status 3, '$(grep 'connection reset' "$WORK/connect.err")'"
n=$(tshark -r "$WORK/connect.pcap" -n -Y "ip.src == $PEER && tcp.flags.reset == 1" 2>/dev/null | wc -l)
[ "$n" -ge 1 ] || fail "capture: no RST from the kernel"
check_capture "$WORK/connect.pcap"

# --- the kernel aborts with data still unread; synack connect writes it out first -----------
# 200,000 bytes, all acknowledged by synack, then the RST; synack connect's standard output is a
# pipe nobody reads until the RST has come, so most of the bytes are still in synack's receive
# buffer then. Like Linux's recv(), synack connect hands them over first and then reports the
# reset (exit status 3).
ip netns exec "$NS" python3 - >"$WORK/server2.out" 2>&1 <<'PY' &
import fcntl, socket, struct, termios, time
srv = socket.socket(socket.AF_INET6)
srv.bind(("::", 9001))
srv.listen()
srv.settimeout(30)
c, _ = srv.accept()
c.sendall(b"0123456789abcdef" * 12500)
for _ in range(1000):  # until synack has acknowledged every byte
    if struct.unpack("i", fcntl.ioctl(c, termios.TIOCOUTQ, b"\0" * 4))[0] == 0:
        break
    time.sleep(0.01)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()  # RST
print("server: aborted", flush=True)
PY
PIDS+=("$!")
for _ in $(seq 100); do
  in_ns ss -Hltn 'sport = :9001' | grep -q . && break
  sleep 0.1
done
mkfifo "$WORK/in2"
exec 3<>"$WORK/in2"
{
  timeout "$STEP_TIMEOUT" "$SYNACK" connect --netns "$NS" --timeout 10 "$PEER" 9001 \
    <"$WORK/in2" 2>"$WORK/connect2.err" 3>&-
  echo $? >"$WORK/connect2.status"
} | {
  for _ in $(seq 300); do grep -q aborted "$WORK/server2.out" && break; sleep 0.1; done
  sleep 0.5  # and synack has read the RST
  cat >"$WORK/connect2.out"
}
exec 3>&-
grep -q aborted "$WORK/server2.out" || fail "server 2 did not abort: $(cat "$WORK/server2.out")"
status=$(cat "$WORK/connect2.status")
[ "$status" = 3 ] || { cat "$WORK/connect2.err" >&2; fail "synack connect (unread data): exit status $status, want 3"; }
grep -q "connection reset" "$WORK/connect2.err" || fail "synack connect (unread data): no 'connection reset' message"
python3 -c 'import sys; sys.stdout.buffer.write(b"0123456789abcdef" * 12500)' >"$WORK/want2"
cmp "$WORK/want2" "$WORK/connect2.out" ||
  fail "synack connect: $(stat -c %s "$WORK/connect2.out") of 200000 bytes written before the reset"
echo "kernel SO_LINGER 0 with 200000 bytes unread: synack connect wrote all of them, then exit status 3"

# --- the kernel aborts a download from synack serve -------------------------------------------
start_serve --http 80 --pcap "$WORK/serve.pcap" --stats
cat >"$WORK/aborting_client.py" <<'PY'
import socket, struct, sys
s = socket.create_connection((sys.argv[1], 80), timeout=10)
s.sendall(b"GET /bytes/1000000000 HTTP/1.1\r\nHost: synack\r\n\r\n")
got = 0
while got < 1_000_000:
    got += len(s.recv(65536))
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
print(s.getsockname()[1])
s.close()  # RST in the middle of the transfer
PY
port=$(in_ns python3 "$WORK/aborting_client.py" "$ADDR") || fail "aborting client"
echo "kernel client (port $port) aborted a 1 GB download after 1 MB"
gone=0
for _ in $(seq 50); do
  timeout 10 "$SYNACK" ss --pid "$SERVE_PID" >"$WORK/ss.out" || fail "synack ss"
  grep -q "$PEER:$port " "$WORK/ss.out" || { gone=1; break; }
  sleep 0.1
done
[ "$gone" = 1 ] || { cat "$WORK/ss.out"; fail "synack still lists the reset connection"; }
timeout 10 "$SYNACK" stats --pid "$SERVE_PID" >"$WORK/stats" || fail "synack stats"
resets=$(awk '$1 == "tcp_resets_received" { print $2 }' "$WORK/stats")
[ "${resets:-0}" -ge 1 ] || fail "synack stats: tcp_resets_received '${resets}', want >= 1"
echo "synack serve: connection gone, tcp_resets_received = $resets"
got=$(in_ns curl -sS -f --max-time 10 "http://$ADDR/bytes/1000000" | sha256sum | cut -d' ' -f1)
[ "$got" = "$(pattern_sha256 1000000)" ] || fail "GET after the abort"
echo "synack serve still serves"

# --- synack aborts: serve stops while a kernel client does not read ---------------------------
mkfifo "$WORK/go"
ip netns exec "$NS" python3 - "$ADDR" "$WORK/go" >"$WORK/stalled.out" 2>&1 <<'PY' &
import errno, socket, sys
s = socket.create_connection((sys.argv[1], 80), timeout=30)
s.sendall(b"GET /bytes/1000000000 HTTP/1.1\r\nHost: synack\r\n\r\n")
print(s.getsockname()[1], flush=True)
open(sys.argv[2]).readline()  # until synack serve has exited; meanwhile windows fill up
got = 0
try:
    while chunk := s.recv(1 << 20):
        got += len(chunk)
    sys.exit(f"clean EOF after {got} bytes: want ECONNRESET")
except ConnectionResetError:
    print(f"recv: ECONNRESET after {got} bytes", flush=True)
PY
STALLED_PID=$!
PIDS+=("$STALLED_PID")
for _ in $(seq 100); do [ -s "$WORK/stalled.out" ] && break; sleep 0.1; done
port=$(head -1 "$WORK/stalled.out")
for _ in $(seq 100); do
  timeout 10 "$SYNACK" ss --pid "$SERVE_PID" | grep -q "^ESTABLISHED .* $PEER:$port " && break
  sleep 0.1
done
sleep 0.5  # the download fills the kernel's receive window; synack's send buffer stays full
stop_serve  # SIGTERM: close, 2 s grace, then RST (and exit status 0)
timeout 10 bash -c 'echo go >"$1"' _ "$WORK/go" || fail "stalled client not waiting"
for _ in $(seq 100); do kill -0 "$STALLED_PID" 2>/dev/null || break; sleep 0.1; done
wait "$STALLED_PID" || { cat "$WORK/stalled.out" >&2; fail "the kernel's client did not see ECONNRESET"; }
tail -1 "$WORK/stalled.out"
grep -Eq '^tcp_resets_sent +[1-9]' "$WORK/serve.err" || fail "synack serve --stats: no tcp_resets_sent"
n=$(tshark -r "$WORK/serve.pcap" -n -Y "ip.src == $ADDR && tcp.dstport == $port && tcp.flags.reset == 1" 2>/dev/null | wc -l)
[ "$n" -ge 1 ] || fail "capture: no RST from synack to port $port"
check_capture "$WORK/serve.pcap"

echo "PASS"
