#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Half-close through synack run's relay, both ways.
#  - CMD shuts down its write side (FIN) and still receives: from a host "sink" (reads to EOF,
#    then answers the length and SHA-256 of what it got) and from a host echo server (most of
#    4 MB echoed after CMD's FIN);
#  - the host server sends 2 MB and shuts down its write side first: CMD reads them and EOF, and
#    then still sends 4 MB, which the host server receives complete (it reports on a second
#    connection, within CMD's lifetime);
#  - CMD sends 16 MB, closes and exits at once: the host still gets every byte and the FIN,
#    before synack run exits (it drains CMD's connections);
#  - a connection that cannot drain is reset after --drain-timeout, and the loss reported;
#  - an RST from CMD's kernel after its FIN does not cut short what the host socket holds.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup run_half_close --no-netns
need python3
HERE=$(dirname "$(readlink -f "$0")")

host_py sink "$HERE/host_server.py" sink
SINK=$HOST_PORT
host_py echo "$HERE/host_server.py" echo
ECHO=$HOST_PORT

cat >"$WORK/host_first.py" <<'PY'
import hashlib, os, socket, sys
lst = socket.socket()
lst.bind(("127.0.0.1", 0))
lst.listen(4)
print(f"PORT {lst.getsockname()[1]}", flush=True)
conn, _ = lst.accept()
conn.settimeout(20)
greeting = bytes(i % 251 for i in range(2_000_000))
conn.sendall(greeting)
conn.shutdown(socket.SHUT_WR)  # our FIN first; we go on receiving
h, n = hashlib.sha256(), 0
while chunk := conn.recv(1 << 20):
    h.update(chunk)
    n += len(chunk)
conn.close()
result = f"length={n} sha256={h.hexdigest()}"
print(result, flush=True)
report, _ = lst.accept()
report.sendall(result.encode())
report.close()
PY
host_py host_first "$WORK/host_first.py"
FIRST=$HOST_PORT

synack_run --allow-host-loopback --stats -- python3 - "$ADDR" "$SINK" "$ECHO" "$FIRST" \
    2>"$WORK/run.err" <<'PY' || { cat "$WORK/run.err" >&2; fail "half-close through synack run"; }
import hashlib, os, socket, sys, threading
addr = sys.argv[1]
sink, echo, first = (int(p) for p in sys.argv[2:5])

# CMD half-closes; the sink answers after our FIN.
data = os.urandom(4_000_000)
s = socket.create_connection((addr, sink), timeout=20)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
reply = bytearray()
while chunk := s.recv(65536):
    reply += chunk
want = f"length={len(data)} sha256={hashlib.sha256(data).hexdigest()}".encode()
assert bytes(reply) == want, f"sink after CMD's FIN answered {bytes(reply)!r}, want {want!r}"
print(f"CMD sent {len(data)} bytes and FIN; the host sink's answer arrived after it: {reply.decode()}")

# CMD half-closes while the echo is still coming back.
s = socket.create_connection((addr, echo), timeout=20)
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
threading.Thread(target=send).start()
got = bytearray()
while chunk := s.recv(1 << 20):
    got += chunk
assert got == data, f"echo: {len(got)} bytes back, want {len(data)} identical"
print(f"CMD sent {len(data)} bytes and FIN to the host echo server, got all back, then EOF")

# The host half-closes first; CMD sends afterwards.
s = socket.create_connection((addr, first), timeout=20)
greeting = bytearray()
while chunk := s.recv(1 << 20):
    greeting += chunk
assert greeting == bytes(i % 251 for i in range(2_000_000)), f"{len(greeting)} bytes before the host's FIN"
s.sendall(data)  # after the host's FIN: must still arrive
s.close()
r = socket.create_connection((addr, first), timeout=20)
report = bytearray()
while chunk := r.recv(1024):
    report += chunk
assert bytes(report) == want, f"host after its own FIN received {bytes(report)!r}, want {want!r}"
print(f"host sent 2 MB and FIN first; CMD read EOF, then sent {len(data)} bytes: host got {report.decode()}")
PY

# CMD sends 16 MB, closes and exits at once (os._exit: no interpreter teardown to give its
# kernel time): much of it is still in its kernel's send buffer when CMD is gone. synack run
# keeps relaying until the connection has finished, so when it exits the host must already
# have every byte and the FIN (the sink prints only at end-of-file, before it answers); no
# connection was reset by the drain, no byte reported lost; the exit status is CMD's.
host_py sink16 "$HERE/host_server.py" sink
SINK16=$HOST_PORT
synack_run --allow-host-loopback --stats -- python3 -c '
import hashlib, os, socket, sys
data = os.urandom(16_000_000)
open(sys.argv[3], "w").write(hashlib.sha256(data).hexdigest())
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.sendall(data)
s.close()
os._exit(3)' "$ADDR" "$SINK16" "$WORK/exit.sha" 2>"$WORK/exit.err"
status=$?
[ "$status" = 3 ] || { cat "$WORK/exit.err" >&2; fail "CMD sending and exiting: synack run exited $status, want CMD's 3"; }
want="sink length=16000000 sha256=$(cat "$WORK/exit.sha")"
got=$(grep "^sink " "$WORK/sink16.out")
[ "$got" = "$want" ] || { cat "$WORK/exit.err" >&2; cat "$WORK/sink16.err" >&2
  fail "CMD sent 16 MB, closed and exited: when synack run exited the host sink had '$got', want '$want'"; }
stat() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/exit.err"; }
[ "$(stat relay_drain_reset)" = 0 ] && [ "$(stat relay_drain_bytes_lost)" = 0 ] &&
  ! grep -q "^synack run: .*lost" "$WORK/exit.err" ||
  { cat "$WORK/exit.err" >&2; fail "CMD sent 16 MB and exited: the drain reset a connection or reported a loss"; }
echo "CMD sent 16 MB, closed and exited at once: the host got all of it and the FIN before synack run exited" \
  "(connections still draining at CMD's exit: $(stat relay_drain_connections))"

# The drain is bounded: CMD sends 16 MB to a host server that never reads, and exits. After
# --drain-timeout 1 synack run resets the connection, says on stderr how many bytes toward the
# host were lost, counts it, and exits with CMD's status.
host_py hold "$HERE/host_server.py" hold
HOLD=$HOST_PORT
start=$(date +%s%N)
synack_run --allow-host-loopback --stats --drain-timeout 1 -- python3 -c '
import os, socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.setblocking(False)
sent = 0
try:
    while sent < 16_000_000:
        sent += s.send(b"x" * 65536)
except BlockingIOError:
    pass
print(f"CMD queued {sent} bytes", file=sys.stderr)
s.close()
os._exit(4)' "$ADDR" "$HOLD" 2>"$WORK/hold.err"
status=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$status" = 4 ] || { cat "$WORK/hold.err" >&2; fail "drain timeout: synack run exited $status, want CMD's 4"; }
grep -q "^synack run: CMD exited; drain timeout: reset 1 relayed connection(s) still open, [1-9][0-9]* byte(s) toward the host lost" "$WORK/hold.err" &&
  [ "$(awk '$1 == "relay_drain_reset" { print $2 }' "$WORK/hold.err")" = 1 ] &&
  [ "$(awk '$1 == "relay_drain_bytes_lost" { print $2 }' "$WORK/hold.err")" -gt 0 ] ||
  { cat "$WORK/hold.err" >&2; fail "drain timeout: no reset or no loss reported"; }
[ "$elapsed_ms" -lt 8000 ] || fail "drain timeout 1 s: synack run took ${elapsed_ms} ms"
echo "CMD queued data for a host that never reads and exited: reset after the 1 s drain timeout, loss reported ($(grep -o '[0-9]* byte(s) toward the host lost' "$WORK/hold.err")), ${elapsed_ms} ms in all"

# A signal ends the drain at once: the same, with a drain timeout of 60 s and SIGTERM to synack
# run once CMD has exited; it must exit within 5 s with CMD's status and report the reset.
"$SYNACK" run --allow-host-loopback --stats --drain-timeout 60 -- python3 -c '
import os, socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.setblocking(False)
try:
    while True:
        s.send(b"x" * 65536)
except BlockingIOError:
    pass
open(sys.argv[3], "w").close()
s.close()
os._exit(5)' "$ADDR" "$HOLD" "$WORK/queued" 2>"$WORK/term.err" &
RUN_PID=$!
PIDS+=("$RUN_PID")
for _ in $(seq 100); do [ -e "$WORK/queued" ] && break; sleep 0.1; done
[ -e "$WORK/queued" ] || fail "drain and SIGTERM: CMD did not fill its connection within 10 s"
# CMD has exited once synack run has reaped the sandbox's init, its only child; it begins the
# drain in the same step (cmd_run.cpp, child_exited), so a SIGTERM from then on ends the drain.
for _ in $(seq 100); do
  [ -z "$(ps -o pid= --ppid "$RUN_PID")" ] && break
  sleep 0.1
done
[ -z "$(ps -o pid= --ppid "$RUN_PID")" ] || fail "drain and SIGTERM: CMD still running 10 s after it filled its connection"
kill -0 "$RUN_PID" 2>/dev/null || { cat "$WORK/term.err" >&2; fail "drain and SIGTERM: synack run did not wait for the connection"; }
kill -TERM "$RUN_PID"
status=
for _ in $(seq 50); do kill -0 "$RUN_PID" 2>/dev/null || { wait "$RUN_PID"; status=$?; break; }; sleep 0.1; done
[ -n "$status" ] || fail "drain and SIGTERM: synack run still running 5 s after SIGTERM"
[ "$status" = 5 ] || { cat "$WORK/term.err" >&2; fail "drain and SIGTERM: synack run exited $status, want CMD's 5"; }
grep -q "^synack run: CMD exited; terminated (SIGTERM): reset 1 relayed connection(s) still open, [1-9][0-9]* byte(s) toward the host lost" "$WORK/term.err" ||
  { cat "$WORK/term.err" >&2; fail "drain and SIGTERM: no reset reported"; }
echo "SIGTERM during the drain: synack run reset the connection, reported the loss and exited with CMD's status"

# CMD sends 300 kB, closes and exits while the host server is not reading; the server then
# sends a line, which CMD's kernel answers with an RST (CMD has closed that socket). The RST
# must not cut off CMD's stream, all in synack's host socket already: the server still reads
# every byte and end-of-file (end to end, the data would have come before the RST).
cat >"$WORK/late.py" <<'PY'
import hashlib, socket, sys, time
lst = socket.socket()
lst.bind(("127.0.0.1", 0))
lst.listen(4)
print(f"PORT {lst.getsockname()[1]}", flush=True)
c, _ = lst.accept()
c.sendall(b"hello\n")
time.sleep(1.0)      # CMD sends, closes and exits meanwhile; nothing read yet
c.sendall(b"bye\n")  # for a socket CMD has closed: its kernel answers with an RST
time.sleep(0.5)
h, n = hashlib.sha256(), 0
try:
    while chunk := c.recv(1 << 20):
        h.update(chunk)
        n += len(chunk)
    print(f"late length={n} sha256={h.hexdigest()} eof", flush=True)
except OSError as e:
    print(f"late length={n} error={e}", flush=True)
PY
host_py late "$WORK/late.py"
LATE=$HOST_PORT
synack_run --allow-host-loopback -- python3 -c '
import hashlib, os, socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
assert s.recv(6) == b"hello\n"
data = os.urandom(300_000)
open(sys.argv[3], "w").write(hashlib.sha256(data).hexdigest())
s.sendall(data)
s.close()
os._exit(0)' "$ADDR" "$LATE" "$WORK/late.sha" 2>"$WORK/late_run.err" || { cat "$WORK/late_run.err" >&2; fail "CMD sending to a late reader"; }
want="late length=300000 sha256=$(cat "$WORK/late.sha") eof"
for _ in $(seq 50); do grep -q "^late " "$WORK/late.out" && break; sleep 0.1; done
got=$(grep "^late " "$WORK/late.out")
[ "$got" = "$want" ] || fail "CMD's RST after its FIN cut its stream short: the host got '$got', want '$want'"
echo "CMD sent 300 kB, FIN, then (its socket closed) an RST: the host still read all of it and EOF"
echo "PASS"
