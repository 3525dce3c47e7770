#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Port forwards beyond one TCP port: a TCP range (-p 127.0.0.1:B-B+2:7001-7003), UDP
# (-p B+3:5353/udp), IPv6 TCP and UDP on the host's ::1 (-p [::1]:B+4:8080, pasta's
# -u ::1/B+5:5353), pasta's -t with a range into the same ports. Inside, one python3 process
# answers on TCP 7001-7003 and 8080 with the port it was reached on, and echoes UDP on 5353
# (IPv4 and IPv6). Host clients check every port of each range reaches its own port inside,
# UDP datagrams come back exactly from the forward's address, and several host peers of one
# UDP forward each get their own answers; one bound to 0.0.0.0 answers from the address the
# peer sent to (127.0.0.2). A malformed -p is refused with exit status 125 and
# a message naming the fault, before anything starts.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup run_forward_ranges --no-netns
need python3 ss

# Nine consecutive free ports (TCP and UDP, IPv4 and IPv6 loopback) from a random base.
B=$(python3 - <<'PY'
import random, socket
for _ in range(200):
    base = random.randrange(20000, 32000)
    try:
        held = []
        for p in range(base, base + 9):
            for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    s = socket.socket(fam, kind)
                    held.append(s)
                    s.bind((addr, p))
        print(base)
        break
    except OSError:
        pass
    finally:
        for s in held:
            s.close()
PY
)
[ -n "$B" ] || fail "no 9 consecutive free ports found"

cat >"$WORK/inside.py" <<'PY'
import socket, threading
def tcp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port)); s.listen(16)
    def serve():
        while True:
            c, _ = s.accept()
            c.sendall(f"port {port}\n".encode()); c.close()
    threading.Thread(target=serve, daemon=True).start()
for p in (7001, 7002, 7003, 7004, 7005, 7006, 8080):
    tcp(p)
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
u.bind(("::", 5353))
print("READY", flush=True)
while True:
    data, peer = u.recvfrom(65535)
    u.sendto(b"echo " + data, peer)
PY
T0=$((B + 6))
"$SYNACK" run --stats -p "127.0.0.1:$B-$((B + 2)):7001-7003" -p "$((B + 3)):5353/udp" \
  -p "[::1]:$((B + 4)):8080" -u "::1/$((B + 5)):5353" -t "$T0-$((T0 + 1)):7004-7005" \
  -p "0.0.0.0:$((B + 8)):5353/udp" \
  -- python3 -u "$WORK/inside.py" >"$WORK/run.out" 2>"$WORK/run.err" &
RUN_PID=$!
PIDS+=("$RUN_PID")
for _ in $(seq 100); do
  grep -q READY "$WORK/run.out" 2>/dev/null && ss -Hltn "sport = :$((T0 + 1))" | grep -q . && break
  kill -0 "$RUN_PID" 2>/dev/null || { cat "$WORK/run.err" >&2; fail "synack run exited early"; }
  sleep 0.1
done
ss -Hltn "sport = :$((T0 + 1))" | grep -q . || { cat "$WORK/run.err" >&2; fail "forwards not listening after 10 s"; }
ss -Hlun "sport = :$((B + 5))" | grep -q "\[::1\]:$((B + 5))" || fail "-u ::1/$((B + 5)) does not listen on [::1]"

timeout "$STEP_TIMEOUT" python3 - "$B" <<'PY' || fail "forwarded ranges, UDP and IPv6"
import socket, sys
b = int(sys.argv[1])
def tcp(addr, port):
    s = socket.create_connection((addr, port), timeout=10)
    data = b""
    while chunk := s.recv(100):
        data += chunk
    return data.decode().strip()
for i in range(3):
    got = tcp("127.0.0.1", b + i)
    assert got == f"port {7001 + i}", (b + i, got)
print(f"-p 127.0.0.1:{b}-{b + 2}:7001-7003: each host port reached its own port inside")
for i in range(2):
    got = tcp("127.0.0.1", b + 6 + i)
    assert got == f"port {7004 + i}", (b + 6 + i, got)
print(f"-t {b + 6}-{b + 7}:7004-7005 (pasta): each host port reached its own port inside")
got = tcp("::1", b + 4)
assert got == "port 8080", got
print(f"-p [::1]:{b + 4}:8080: IPv6 on the host reached 8080 inside")
for fam, addr, port in ((socket.AF_INET, "127.0.0.1", b + 3), (socket.AF_INET6, "::1", b + 5)):
    peers = [socket.socket(fam, socket.SOCK_DGRAM) for _ in range(3)]
    for n, s in enumerate(peers):
        s.settimeout(5)
        for size in (1, 1400, 30000):
            data = bytes([n]) * size
            s.sendto(data, (addr, port))
            reply, frm = s.recvfrom(65535)
            assert frm[:2] == (addr, port), frm
            assert reply == b"echo " + data, (n, size, len(reply))
    print(f"UDP {addr} port {port}: 3 host peers x 3 sizes (up to 30000 bytes), each answered exactly")
# Bound to every address: the answer comes from the address the peer sent to (127.0.0.2 here,
# not the 127.0.0.1 the route would pick), so a connected socket takes it.
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect(("127.0.0.2", b + 8))
s.send(b"which address?")
assert s.recv(100) == b"echo which address?"
print(f"-p 0.0.0.0:{b + 8}:5353/udp: a peer connected to 127.0.0.2 got its answer from 127.0.0.2")
PY
kill -TERM "$RUN_PID"
for _ in $(seq 100); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.1; done
wait "$RUN_PID"
for c in relay_tcp_forwarded relay_udp_forward_flows relay_udp_forwarded_in relay_udp_forwarded_out; do
  awk -v c="$c" '$1 == c { print }' "$WORK/run.err"
done
flows=$(awk '$1 == "relay_udp_forward_flows" { print $2 }' "$WORK/run.err")
[ "${flows:-0}" = 7 ] || { cat "$WORK/run.err" >&2; fail "relay_udp_forward_flows=$flows, want 7 (one per host peer)"; }

# Malformed specifications: refused before anything starts, with the reason.
check_refused() {
  local want=$1
  shift
  "$SYNACK" run "$@" -- true 2>"$WORK/bad.err"
  local status=$?
  [ "$status" = 125 ] || fail "synack run $*: exit status $status, want 125"
  grep -qF -- "$want" "$WORK/bad.err" || { cat "$WORK/bad.err" >&2; fail "synack run $*: want a message with '$want'"; }
  echo "synack run $*: 125, $(cat "$WORK/bad.err")"
}
check_refused "the host range has 3 port(s) but the namespace's has 2" -p 8000-8002:80-81
check_refused "runs backwards" -p 8010-8000:8010-8000
check_refused "expected tcp or udp" -p 8080:80/sctp
check_refused "must be in brackets" -p ::1:8080:80
check_refused "is given twice" -p 8080:80 -t 8079-8081
check_refused "not supported" -u auto
echo "PASS"
