#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Resets through synack run's relay, both ways, and a host server that dies mid-transfer.
#  - the host server aborts (SO_LINGER {1, 0}, close): CMD's recv fails with ECONNRESET;
#  - the host server sends 200,000 bytes and aborts, CMD reads after that: all the bytes, then
#    ECONNRESET; and the mirror, CMD sending and aborting, the host server reading late; both
#    through the relay and through -T;
#  - CMD aborts the same way: the host server's recv fails with ECONNRESET;
#  - a host server SIGKILLs itself after sending 8 MB of an endless download, and another after
#    receiving 8 MB of an endless upload: CMD sees a reset or EOF (download) or a send error
#    (upload) within seconds, not a hang.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup run_reset --no-netns
need python3

cat >"$WORK/server.py" <<'PY'
import os, signal, socket, struct, sys
mode = sys.argv[1]
lst = socket.socket()
lst.bind(("127.0.0.1", 0))
lst.listen(8)
print(f"PORT {lst.getsockname()[1]}", flush=True)
conn, _ = lst.accept()
conn.settimeout(20)
LINGER0 = struct.pack("ii", 1, 0)
if mode == "abort":            # read the request, then reset
    assert conn.recv(100) == b"request"
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
    conn.close()
    print("aborted", flush=True)
elif mode == "respond-abort":  # a 200,000-byte reply, acknowledged, and then a reset
    import fcntl, termios, time
    assert conn.recv(100) == b"request"
    conn.sendall(b"0123456789abcdef" * 12500)
    for _ in range(1000):      # until the relay's socket has acknowledged every byte
        if struct.unpack("i", fcntl.ioctl(conn, termios.TIOCOUTQ, b"\0" * 4))[0] == 0:
            break
        time.sleep(0.01)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
    conn.close()
    print("aborted", flush=True)
elif mode == "read-late":      # read only after the client has sent 200,000 bytes and reset
    import time
    time.sleep(1.5)
    got = b""
    try:
        while chunk := conn.recv(1 << 16):
            got += chunk
        how = "EOF"
    except ConnectionResetError:
        how = "ECONNRESET"
    except socket.timeout:
        how = "TIMEOUT"
    print(f"GOT {len(got)} {int(got == b'0123456789abcdef' * 12500)} {how}", flush=True)
elif mode == "observe":        # acknowledge the request, then report what recv sees
    assert conn.recv(100) == b"request"
    conn.sendall(b"ok")
    try:
        data = conn.recv(100)
        print("EOF" if not data else f"DATA {data!r}", flush=True)
    except ConnectionResetError:
        print("ECONNRESET", flush=True)
    except socket.timeout:
        print("TIMEOUT", flush=True)
elif mode == "die-sending":    # an endless download, and SIGKILL after 8 MB
    block, sent = os.urandom(1 << 16), 0
    while sent < 8 << 20:
        sent += conn.send(block)
    os.kill(os.getpid(), signal.SIGKILL)
elif mode == "die-receiving":  # an endless upload, and SIGKILL after 8 MB
    got = 0
    while got < 8 << 20:
        got += len(conn.recv(1 << 16))
    os.kill(os.getpid(), signal.SIGKILL)
PY

# inside PYTHON-CODE ARGS...: runs the code in synack run (host loopback allowed), argv[1] the
# address that reaches the host's loopback. With SPLICE_PORT set, through `-T SPLICE_PORT`
# instead (CMD's 127.0.0.1, spliced by the kernel to the host's).
inside() {
  local code=$1
  shift
  if [ -n "${SPLICE_PORT:-}" ]; then
    synack_run -T "$SPLICE_PORT" --stats -- python3 -c "$code" 127.0.0.1 "$@" 2>"$WORK/run.err"
  else
    synack_run --allow-host-loopback --stats -- python3 -c "$code" "$ADDR" "$@" 2>"$WORK/run.err"
  fi
  local status=$?
  [ "$status" = 0 ] || { cat "$WORK/run.err" >&2; return 1; }
}

# --- the host resets ------------------------------------------------------------------------
host_py abort "$WORK/server.py" abort
inside '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(b"request")
try:
    data = s.recv(100)
    sys.exit(f"recv after the host server reset: {data!r}, want ECONNRESET")
except ConnectionResetError:
    print("host server aborted: CMD recv -> ECONNRESET")
except socket.timeout:
    sys.exit("recv after the host server reset: nothing within 10 s, want ECONNRESET")
' "$HOST_PORT" || fail "a host-side reset must reach CMD as ECONNRESET"
grep -q aborted "$WORK/abort.out" || fail "the host server did not abort"

# Both through the relay (synack's TCP toward CMD) and through -T (the kernel's splice).
for path in relay -T; do
  SPLICE_PORT=
  # --- the host replies and resets; CMD reads after the reset ----------------------------------
  # The relay acknowledged the reply on the host socket before the reset came, as a kernel
  # receiver would have: CMD must get every byte of it, then ECONNRESET (Linux's recv() returns
  # what is queued before the error), not a reset that throws away what the relay held.
  host_py respond-abort "$WORK/server.py" respond-abort
  [ "$path" = relay ] || SPLICE_PORT=$HOST_PORT
  inside '
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(b"request")
time.sleep(1.5)  # the reply and the reset reach the relay while CMD does not read
got = b""
try:
    while chunk := s.recv(1 << 16):
        got += chunk
    how = "EOF"
except ConnectionResetError:
    how = "ECONNRESET"
except socket.timeout:
    sys.exit(f"reply then reset: CMD got {len(got)} bytes and then nothing for 10 s")
if got != b"0123456789abcdef" * 12500 or how != "ECONNRESET":
    sys.exit(f"reply then reset: CMD got {len(got)} of 200000 bytes, then {how}; want all, then ECONNRESET")
print(f"host server replied and reset: CMD got all {len(got)} bytes, then {how}")
  ' "$HOST_PORT" || fail "$path: a reply the relay acknowledged must reach CMD before the reset"
  grep -q aborted "$WORK/respond-abort.out" || fail "the host server (respond-abort) did not abort"

  # --- CMD sends and resets; the host server reads after the reset ----------------------------
  # The mirror of the reply above: 200,000 bytes from CMD, acknowledged by synack (CMD's send
  # queue empty), then CMD's RST. The host server, not reading until then, must get every byte
  # and then ECONNRESET: the relay passes on its receive ring and lets the host socket deliver
  # its queue before it resets the host side.
  host_py read-late "$WORK/server.py" read-late
  [ "$path" = relay ] || SPLICE_PORT=$HOST_PORT
  READ_LATE_PID=$HOST_PID
  inside '
import fcntl, socket, struct, sys, termios, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(b"0123456789abcdef" * 12500)
for _ in range(1000):  # until synack has acknowledged every byte
    if struct.unpack("i", fcntl.ioctl(s, termios.TIOCOUTQ, b"\0" * 4))[0] == 0:
        break
    time.sleep(0.01)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
print("CMD sent 200000 bytes, acknowledged, and reset")
time.sleep(3)  # synack run ends with CMD: let the host server read first
  ' "$HOST_PORT" || fail "$path: CMD's send and abort"
  for _ in $(seq 100); do kill -0 "$READ_LATE_PID" 2>/dev/null || break; sleep 0.1; done
  seen=$(awk '$1 == "GOT"' "$WORK/read-late.out")
  [ "$seen" = "GOT 200000 1 ECONNRESET" ] ||
    fail "$path: CMD sent 200000 bytes and reset: the host server saw '${seen:-nothing}', want 'GOT 200000 1 ECONNRESET'"
  echo "$path: CMD sent and reset: the host server got all 200000 bytes, then ECONNRESET"
done
SPLICE_PORT=

# --- CMD resets -----------------------------------------------------------------------------
host_py observe "$WORK/server.py" observe
OBSERVE_PID=$HOST_PID
inside '
import socket, struct, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(b"request")
assert s.recv(2) == b"ok"
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
print("CMD aborted its connection (SO_LINGER 0)")
time.sleep(1)  # synack run ends with CMD: let the reset travel first
' "$HOST_PORT" || fail "CMD's abort"
for _ in $(seq 100); do kill -0 "$OBSERVE_PID" 2>/dev/null || break; sleep 0.1; done
seen=$(cat "$WORK/observe.out" | sed -n 2p)
[ "$seen" = ECONNRESET ] || fail "CMD aborted with SO_LINGER 0: the host server's recv saw '${seen:-nothing}', want ECONNRESET"
echo "CMD aborted: host server recv -> ECONNRESET"

# --- the host server dies mid-transfer ------------------------------------------------------
host_py die-sending "$WORK/server.py" die-sending
inside '
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=15)
got, t0 = 0, time.monotonic()
try:
    while chunk := s.recv(1 << 16):
        got += len(chunk)
    how = "EOF"
except ConnectionResetError:
    how = "ECONNRESET"
except socket.timeout:
    sys.exit(f"download: host server killed after 8 MB; CMD got {got} bytes and then nothing for 15 s (a hang)")
assert got >= 1 << 20, got
print(f"host server killed mid-download: CMD got {got} bytes, then {how} ({time.monotonic() - t0:.1f} s)")
' "$HOST_PORT" || fail "a host server that dies mid-download must give CMD a reset or EOF"

host_py die-receiving "$WORK/server.py" die-receiving
inside '
import os, socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=15)
block, sent, t0 = os.urandom(1 << 16), 0, time.monotonic()
try:
    while time.monotonic() - t0 < 30:
        sent += s.send(block)
    sys.exit(f"upload: host server killed after 8 MB; CMD still sending after 30 s ({sent} bytes)")
except (ConnectionResetError, BrokenPipeError) as e:
    how = type(e).__name__
except socket.timeout:
    sys.exit(f"upload: host server killed after 8 MB; CMD sent {sent} bytes and then blocked 15 s (a hang)")
print(f"host server killed mid-upload: CMD sent {sent} bytes, then {how} ({time.monotonic() - t0:.1f} s)")
' "$HOST_PORT" || fail "a host server that dies mid-upload must give CMD a reset, not a hang"
echo "PASS"
