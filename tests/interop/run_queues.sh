#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `synack run --queues 2`: two TUN queues, a stack and a relay on each.
# 1. 64 connections at once from the namespace to a python3 echo server on the host's loopback
#    (256 KB each way on each, echoed exactly), then 64 short ones in a row: every byte right,
#    --stats sums both lanes (relay_tcp_connects = 128) and both lanes carried connections
#    (the kernel hashes flows over the queues: all 128 on one has odds of 2^-127).
#    Then 32 connections held open from the namespace: `synack ss` lists all 32 and
#    `synack stats` counts 32 established, though both lanes hold some.
# 2. `--queues 3`: the flows forwards open (from the first lane) after the kernel has forgotten
#    their queue. 16 host connections through -p HOSTPORT:7000 to a server in the namespace
#    that answers each, waits 7 s (the TUN's flow table forgets a flow after 3-6 s idle), then
#    sends 128 KB unprompted and closes; 16 host UDP sockets through -p HOSTPORT2:7001/udp,
#    each answered at once and again 7 s later. Without a queue remembered, the kernel picks
#    one by hash, so about two thirds of those packets reach lanes 1 and 2. A TCP segment goes
#    round the ring (1 -> 2 -> 0, or 2 -> 0; relay/steering.hpp) instead of drawing an RST, and
#    a datagram from the forward's port goes to lane 0 (elsewhere it would open a new flow to
#    the gateway, which without --allow-host-loopback is refused): every host client must get
#    all its bytes, and lanes 1 and 2 must have passed some on (none of 16 connections or 16
#    flows hashed away from lane 0: odds of 3^-16 each).
#    2b. ICMP port unreachables from nftables inside about a forward's connections, with
#    --queues 8: each host client is refused within 5 s, whichever lane the error reaches (the
#    namespace's kernel sends 6 errors at once, then one a second: the last SYNs are refused
#    on their retransmission at 1 s). The kernel picks one queue for all these errors per boot
#    (by their addresses), so lane 0 gets them itself on about 1 boot in 8.
# 3. --queues with --pcap, --netns, or out of range: refused with status 125.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup run_queues --no-netns
need python3 ss nft
HERE=$(dirname "$(readlink -f "$0")")

# --- 1: many connections from the namespace -----------------------------------------------
host_py echo "$HERE/host_server.py" echo
started=$SECONDS
synack_run --queues 2 --allow-host-loopback --stats -- python3 - "$ADDR" "$HOST_PORT" \
    >"$WORK/client.out" 2>"$WORK/client.err" <<'PY'
import os, selectors, socket, sys, time
addr, port = sys.argv[1], int(sys.argv[2])
CONCURRENT, SERIAL, SIZE = 64, 64, 262144
sel = selectors.DefaultSelector()
conns = []
for i in range(CONCURRENT):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex((addr, port))
    c = {"sock": s, "i": i, "data": os.urandom(SIZE), "sent": 0, "got": bytearray()}
    conns.append(c)
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
left, deadline = CONCURRENT, time.monotonic() + 60
while left:
    if time.monotonic() > deadline:
        sys.exit(f"concurrent: {left} connections incomplete after 60 s")
    for key, events in sel.select(1):
        c, s = key.data, key.data["sock"]
        if events & selectors.EVENT_WRITE and c["sent"] < SIZE:
            try:
                c["sent"] += s.send(c["data"][c["sent"]:c["sent"] + 65536])
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as e:
                sys.exit(f"concurrent connection {c['i']}: send: {e}")
            if c["sent"] == SIZE:
                s.shutdown(socket.SHUT_WR)
                sel.modify(s, selectors.EVENT_READ, c)
        if events & selectors.EVENT_READ:
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                sys.exit(f"concurrent connection {c['i']}: recv: {e}")
            if chunk:
                c["got"] += chunk
            else:
                sel.unregister(s)
                s.close()
                if c["got"] != c["data"]:
                    sys.exit(f"concurrent connection {c['i']}: {len(c['got'])} bytes echoed, want {SIZE} identical")
                left -= 1
print(f"concurrent: {CONCURRENT} connections echoed {SIZE} bytes each exactly")
for i in range(SERIAL):
    data = os.urandom(1024)
    with socket.create_connection((addr, port), timeout=10) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = bytearray()
        while chunk := s.recv(65536):
            got += chunk
    if got != data:
        sys.exit(f"serial connection {i}: {len(got)} bytes echoed, want {len(data)} identical")
print(f"serial: {SERIAL} connections in a row, each echoed 1 KB exactly")
PY
status=$?
cat "$WORK/client.out"
[ "$status" = 0 ] || { cat "$WORK/client.err" >&2; fail "synack run --queues 2 python3 client exited $status"; }
stat() { awk -v n="$1" '$1 == n { print $2 }' "$2"; }
[ "$(stat run_queues "$WORK/client.err")" = 2 ] || { cat "$WORK/client.err" >&2; fail "--stats: run_queues is not 2"; }
connects=$(stat relay_tcp_connects "$WORK/client.err")
[ "${connects:-0}" = 128 ] || { cat "$WORK/client.err" >&2; fail "--stats: relay_tcp_connects=$connects, want 128 (both lanes summed)"; }
q0=$(stat queue_0_relay_tcp_connects "$WORK/client.err")
q1=$(stat queue_1_relay_tcp_connects "$WORK/client.err")
[ "${q0:-0}" -gt 0 ] && [ "${q1:-0}" -gt 0 ] && [ $((q0 + q1)) = 128 ] ||
  { cat "$WORK/client.err" >&2; fail "--stats: lanes carried $q0 and $q1 connections, want both > 0, 128 in all"; }
echo "--stats: relay_tcp_connects=$connects, queue 0 $q0, queue 1 $q1 ($((SECONDS - started)) s)"

# --- 1b: synack ss and synack stats see every lane --------------------------------------------
"$SYNACK" run --queues 2 --allow-host-loopback --stats -- python3 -c "
import os, socket, sys, time
socks = [socket.create_connection(('$ADDR', $HOST_PORT), timeout=10) for _ in range(32)]
print('OPEN', flush=True)
for _ in range(300):  # until the script has asked synack ss and synack stats (30 s at most)
    if os.path.exists('$WORK/release'):
        break
    time.sleep(0.1)
" >"$WORK/held.out" 2>"$WORK/held.err" &
RUN_PID=$!
PIDS+=("$RUN_PID")
for _ in $(seq 100); do
  grep -q "^OPEN" "$WORK/held.out" && break
  kill -0 "$RUN_PID" 2>/dev/null || { cat "$WORK/held.err" >&2; fail "synack run --queues 2 (32 held connections) exited early"; }
  sleep 0.1
done
grep -q "^OPEN" "$WORK/held.out" || fail "32 connections from the namespace not open after 10 s"
listed=$("$SYNACK" ss --pid "$RUN_PID" | grep -c "^ESTABLISHED .*:$HOST_PORT ")
established=$("$SYNACK" stats --pid "$RUN_PID" | awk '$1 == "tcp_connections_established" { print $2 }')
touch "$WORK/release"
wait "$RUN_PID"
q0=$(stat queue_0_relay_tcp_connects "$WORK/held.err")
q1=$(stat queue_1_relay_tcp_connects "$WORK/held.err")
[ "${q0:-0}" -gt 0 ] && [ "${q1:-0}" -gt 0 ] || { cat "$WORK/held.err" >&2; fail "the 32 held connections were not spread: $q0 and $q1"; }
[ "$listed" = 32 ] || fail "synack ss lists $listed of the 32 connections (queue 0 holds $q0, queue 1 $q1)"
[ "$established" = 32 ] || fail "synack stats: tcp_connections_established=$established, want 32 (both queues summed)"
echo "synack ss and synack stats: all 32 connections (queue 0 $q0, queue 1 $q1)"

# wait_ready NAME LINE PORT: the synack run in $RUN_PID (output in $WORK/NAME.out and .err) has
# printed LINE from CMD and listens on the host's 127.0.0.1:PORT, within 10 s.
wait_ready() {
  local name=$1 line=$2 port=$3
  for _ in $(seq 100); do
    grep -q "^$line" "$WORK/$name.out" && ss -Hltn "sport = :$port" | grep -q . && return 0
    kill -0 "$RUN_PID" 2>/dev/null || { cat "$WORK/$name.err" >&2; fail "synack run ($name) exited early"; }
    sleep 0.1
  done
  cat "$WORK/$name.err" >&2
  fail "synack run ($name): the forward 127.0.0.1:$port or CMD not ready after 10 s"
}

# --- 2: a forward's flows after the kernel forgot their queue -----------------------------
HP=$(free_port)
HPU=$(free_port)
cat >"$WORK/inside.py" <<'PY'
import os, socket, sys, threading, time
SIZE = 131072
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 7000))
srv.listen(64)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("0.0.0.0", 7001))
def later(peer):
    time.sleep(7)
    udp.sendto(bytes(i % 251 for i in range(1000)), peer)
def udp_serve():
    while True:
        data, peer = udp.recvfrom(2048)
        udp.sendto(b"ok", peer)
        threading.Thread(target=later, args=(peer,), daemon=True).start()
threading.Thread(target=udp_serve, daemon=True).start()
print("LISTENING", flush=True)
def serve(c):
    with c:
        line = b""
        while not line.endswith(b"\n"):
            chunk = c.recv(64)
            if not chunk:
                return
            line += chunk
        c.sendall(b"ok\n")
        time.sleep(7)  # the TUN forgets the flow's queue after 3-6 s idle
        c.sendall(bytes(i % 251 for i in range(SIZE)))
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
"$SYNACK" run --queues 3 --stats -p "127.0.0.1:$HP:7000" -p "127.0.0.1:$HPU:7001/udp" \
  -- python3 -u "$WORK/inside.py" \
  >"$WORK/fwd.out" 2>"$WORK/fwd.err" &
RUN_PID=$!
PIDS+=("$RUN_PID")
wait_ready fwd LISTENING "$HP"
started=$SECONDS
timeout "$STEP_TIMEOUT" python3 - "$HP" "$HPU" <<'PY' || { cat "$WORK/fwd.err" >&2; fail "forwarded connections and flows after 7 s idle"; }
import socket, sys, time
port, uport, N, SIZE = int(sys.argv[1]), int(sys.argv[2]), 16, 131072
want = bytes(i % 251 for i in range(SIZE))
flows = []
for i in range(N):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.connect(("127.0.0.1", uport))
    u.settimeout(30)
    u.send(b"hello")
    if u.recv(2048) != b"ok":
        sys.exit(f"UDP flow {i}: no answer")
    flows.append(u)
socks = []
for i in range(N):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"hello\n")
    socks.append(s)
for i, s in enumerate(socks):
    got = b""
    while not got.endswith(b"ok\n"):
        chunk = s.recv(64)
        if not chunk:
            sys.exit(f"connection {i}: closed before its answer")
        got += chunk
for i, s in enumerate(socks):
    got = bytearray()
    s.settimeout(30)
    while len(got) < SIZE:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    if got != want:
        sys.exit(f"connection {i}: {len(got)} bytes after the idle time, want {SIZE} exactly")
print(f"{N} forwarded connections: {SIZE} bytes each after 7 s idle, exactly")
for i, u in enumerate(flows):
    if u.recv(2048) != bytes(i % 251 for i in range(1000)):
        sys.exit(f"UDP flow {i}: the datagram after 7 s idle differs")
print(f"{N} forwarded UDP flows: the datagram after 7 s idle arrived, exactly")
PY
kill -TERM "$RUN_PID"
wait "$RUN_PID"
strays=$(( $(stat queue_1_strays_passed "$WORK/fwd.err") + $(stat queue_2_strays_passed "$WORK/fwd.err") ))
datagrams=$(( $(stat queue_1_udp_to_queue_0 "$WORK/fwd.err") + $(stat queue_2_udp_to_queue_0 "$WORK/fwd.err") ))
[ "$strays" -gt 0 ] || { cat "$WORK/fwd.err" >&2; fail "lanes 1 and 2 passed no segment on: the forwards' connections never reached them"; }
[ "$datagrams" -gt 0 ] || { cat "$WORK/fwd.err" >&2; fail "lanes 1 and 2 gave lane 0 no datagram: the forwards' flows never reached them"; }
echo "after the idle time: lanes 1 and 2 passed $strays segment(s) on and gave lane 0 $datagrams datagram(s) ($((SECONDS - started)) s)"

# --- 2b: ICMP errors about a forward's connections, whichever queue they reach ----------------
# nftables inside answers SYNs to port 7002 with an ICMP port unreachable. The kernel picks a
# queue for an ICMP error by its addresses, not by the connection it quotes, so with 8 queues
# the errors reach lane 0 (whose stack opened the forwards' connections) on 1 boot in 8; on
# the others a lane passes them round the ring (Stack::set_stray_handler) to the stack that
# holds the connection. Each host client must be refused within 5 s (without the error, the
# SYN would be retried for a minute), and every error must reach its connection.
HPR=$(free_port)
"$SYNACK" run --queues 8 --stats -p "127.0.0.1:$HPR:7002" -- sh -c '
nft add table inet t && nft add chain inet t in "{ type filter hook input priority 0; }" &&
  nft add rule inet t in tcp dport 7002 reject with icmpx type port-unreachable || exit 1
echo READY; sleep 60' >"$WORK/icmp.out" 2>"$WORK/icmp.err" &
RUN_PID=$!
PIDS+=("$RUN_PID")
wait_ready icmp READY "$HPR"
timeout "$STEP_TIMEOUT" python3 - "$HPR" <<'PY' || { cat "$WORK/icmp.err" >&2; fail "forwarded connections to a port rejected by ICMP"; }
import socket, sys, time
port, N = int(sys.argv[1]), 8
for i in range(N):
    t0 = time.monotonic()
    try:
        # The reset may come so soon that connect() itself reports it.
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        got = s.recv(64)
    except socket.timeout:
        sys.exit(f"connection {i}: not refused within 5 s (the ICMP error never reached its connection)")
    except ConnectionResetError:
        got = b""
    if got:
        sys.exit(f"connection {i}: data from a rejected port?")
    print(f"connection {i}: refused after {time.monotonic() - t0:.3f} s")
PY
kill -TERM "$RUN_PID"
wait "$RUN_PID"
delivered=$(stat icmp_errors_delivered "$WORK/icmp.err")
passed=$(stat icmp_stray_handed_off "$WORK/icmp.err")
[ "${delivered:-0}" -ge 8 ] || { cat "$WORK/icmp.err" >&2; fail "icmp_errors_delivered=$delivered, want 8 (lanes summed)"; }
echo "8 forwarded connections refused by ICMP: icmp_errors_delivered=$delivered, passed round the ring ${passed:-0} time(s)"

# --- 3: what --queues does not combine with ---------------------------------------------------
for args in "--queues 0" "--queues 17" "--queues 2 --pcap $WORK/x.pcap" "--queues 2 --netns 1"; do
  # shellcheck disable=SC2086
  "$SYNACK" run $args -- true 2>"$WORK/refused.err"
  rc=$?
  [ "$rc" = 125 ] || fail "synack run $args -- true: exit status $rc, want 125"
  grep -q -- "--queues\|--pcap" "$WORK/refused.err" || fail "synack run $args: no message naming the option"
done
echo "refused: --queues 0, 17, with --pcap, with --netns"
echo "PASS"
