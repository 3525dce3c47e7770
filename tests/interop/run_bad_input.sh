#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bad input from CMD: inside `synack run` (no --allow-host-loopback), python3 writes hand-made
# packets to synack0 through a packet socket — bad TCP and IPv4 checksums, truncated IPv4 and
# TCP headers, impossible data offsets — then floods SYNs to 3000 ports of the gateway (each
# must be refused with an RST: the host's loopback is closed; a SYN left unanswered is sent
# again, as TCP would, at most 5 times) and 3000 UDP datagrams to closed ports. Afterwards a
# normal transfer still works: the host downloads and uploads 16 MB through a -p forward to a
# server inside, byte-exact. Data CMD never reads (a host client pushing into a forwarded
# connection CMD accepted and ignores) is held back by a closed window, not buffered without
# bound. --stats at exit must count the malformed packets as drops.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup run_bad_input --no-netns
need python3 curl sha256sum head ss
HERE=$(dirname "$(readlink -f "$0")")
SIZE=${TRANSFER_BYTES:-16777216}
FLOOD=${FLOOD_PORTS:-3000}
head -c "$SIZE" /dev/urandom >"$WORK/random.bin"
random_sha=$(sha256sum <"$WORK/random.bin" | cut -d' ' -f1)
HP=$(free_port)
HP2=$(free_port)
[ "$HP" != "$HP2" ] || HP2=$(free_port)

cat >"$WORK/inside.py" <<'PY'
import ipaddress, os, select, socket, struct, sys, threading, time
sys.path.insert(0, sys.argv[1])
import host_server
ADDR, PEER, FLOOD, DONE = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]

http = host_server.HttpServer(("0.0.0.0", 8080), host_server.Http)
threading.Thread(target=http.serve_forever, daemon=True).start()
# A listener whose connections are accepted and never read.
lazy = socket.socket()
lazy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lazy.bind(("0.0.0.0", 9000))
lazy.listen(4)
held = []
threading.Thread(target=lambda: [held.append(lazy.accept()) for _ in range(4)], daemon=True).start()

out = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM)
def send(packet):
    out.sendto(packet, ("synack0", 0x0800))

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

A, P = socket.inet_aton(ADDR), socket.inet_aton(PEER)
def tcp(sport, dport, flags=0x02, doff=5, good=True, seq=1000, payload=b""):
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, doff << 4, flags, 65535, 0, 0) + payload
    c = csum(P + A + struct.pack("!BBH", 0, 6, len(seg)) + seg) ^ (0 if good else 0x00FF)
    return seg[:16] + struct.pack("!H", c) + seg[18:]
def udp(sport, dport, payload):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = csum(P + A + struct.pack("!BBH", 0, 17, len(seg)) + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]
def ip4(payload, proto=6, good=True, total=None, ihl=5):
    h = struct.pack("!BBHHHBBH4s4s", 4 << 4 | ihl, 0, total or 20 + len(payload), 0x5BAD, 0, 64, proto, 0, P, A)
    c = csum(h) ^ (0 if good else 0x0F0F)
    return h[:10] + struct.pack("!H", c) + h[12:] + payload

# Malformed: 50 of each kind.
malformed = 0
for i in range(50):
    port = 30000 + i
    send(ip4(tcp(port, 80, good=False)))                      # bad TCP checksum
    send(ip4(tcp(port, 80), good=False))                      # bad IPv4 header checksum
    send(ip4(tcp(port, 80))[:12])                             # not even an IPv4 header
    send(ip4(tcp(port, 80)[:10]))                             # 10 bytes of TCP
    send(ip4(tcp(port, 80, doff=3)))                          # data offset < 5
    send(ip4(tcp(port, 80, doff=15)))                         # data offset past the end
    send(ip4(tcp(port, 80), total=400))                       # total length past the end
    send(ip4(tcp(port, 80), ihl=4))                           # IHL < 5
    malformed += 8
print(f"sent {malformed} malformed packets", flush=True)

# SYN flood to FLOOD ports of the gateway; count the RSTs that come back.
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
SPORT = 40000
todo = {SPORT + i: 20000 + i for i in range(FLOOD)}  # our source port -> gateway port
refused, rounds, t0 = set(), 0, time.monotonic()
def drain(seconds):
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([raw], [], [], left)[0]:
            return
        pkt = raw.recv(65535)
        ihl = (pkt[0] & 0xF) * 4
        sport, dport = struct.unpack("!HH", pkt[ihl:ihl + 4])
        flags = pkt[ihl + 13]
        if pkt[12:16] == A and dport in todo and todo[dport] == sport and flags & 0x04:
            refused.add(dport)
while rounds < 6 and len(refused) < FLOOD:
    rounds += 1
    for n, (sport, dport) in enumerate(todo.items()):
        if sport not in refused:
            send(ip4(tcp(sport, dport, seq=rounds * 7919)))
        if n % 250 == 249:
            drain(0.01)  # a breath now and then: the kernel's queue into the TUN holds ~500
    drain(1.5)
try:  # packets the kernel dropped on the way into the TUN (its queue full): not synack's doing
    tx_dropped = open("/sys/class/net/synack0/statistics/tx_dropped").read().strip()
except OSError:
    tx_dropped = "?"
print(f"SYN flood: {FLOOD} ports of {ADDR}, {len(refused)} refused with RST in {rounds} round(s)"
      f" ({time.monotonic() - t0:.1f} s; synack0 tx_dropped {tx_dropped})", flush=True)
if len(refused) < FLOOD:
    missing = sorted(todo[p] for p in todo if p not in refused)
    print(f"FAIL: {len(missing)} SYNs never answered with RST, e.g. ports {missing[:10]}", flush=True)

# UDP to closed ports of the gateway.
for i in range(FLOOD):
    send(ip4(udp(41000 + i % 1000, 10000 + i, b"x" * 32), proto=17))
print(f"sent {FLOOD} UDP datagrams to closed ports of {ADDR}", flush=True)

print("ready", flush=True)
deadline = time.monotonic() + 50
while not os.path.exists(DONE) and time.monotonic() < deadline:
    time.sleep(0.1)
sys.exit(1 if len(refused) < FLOOD else 0)
PY

"$SYNACK" run --stats -p "127.0.0.1:$HP:8080" -p "127.0.0.1:$HP2:9000" -- python3 -u "$WORK/inside.py" "$HERE" "$ADDR" "$PEER" "$FLOOD" "$WORK/done" \
  >"$WORK/run.out" 2>"$WORK/run.err" &
RUN_PID=$!
PIDS+=("$RUN_PID")
for _ in $(seq 400); do
  grep -q "^ready" "$WORK/run.out" && break
  kill -0 "$RUN_PID" 2>/dev/null || break
  sleep 0.1
done
cat "$WORK/run.out"
grep -q "^ready" "$WORK/run.out" || { cat "$WORK/run.err" >&2; fail "CMD did not finish its floods within 40 s"; }
kill -0 "$RUN_PID" 2>/dev/null || { cat "$WORK/run.err" >&2; fail "synack run exited during the bad input"; }

# Data CMD never reads: the host pushes into a connection CMD accepted and never reads. The
# window must close: the host's sends block after a bounded amount, and synack's memory does
# not grow with what the host offers.
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$RUN_PID/status"; }
rss_before=$(rss)
timeout "$STEP_TIMEOUT" python3 - "$HP2" <<'PY' || fail "data CMD never reads: the relay buffered without bound"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.setblocking(False)
block, sent, last, t0 = b"z" * 65536, 0, time.monotonic(), time.monotonic()
while time.monotonic() - last < 3 and time.monotonic() - t0 < 30:  # until 3 s without progress
    try:
        sent += s.send(block)
        last = time.monotonic()
    except BlockingIOError:
        time.sleep(0.01)
assert time.monotonic() - t0 < 30, f"still sending after 30 s: {sent} bytes taken"
assert sent < 256 << 20, f"{sent} bytes taken before the window closed"
print(f"data CMD never reads: the host's sends blocked after {sent / 1e6:.1f} MB (window closed)")
PY
rss_after=$(rss)
echo "synack run's RSS: ${rss_before} kB before, ${rss_after} kB after"
[ $((rss_after - rss_before)) -lt 131072 ] || fail "synack run's RSS grew by $((rss_after - rss_before)) kB while CMD did not read"

# A normal transfer afterwards, through the forward.
got=$(timeout "$STEP_TIMEOUT" curl -sS -f --max-time 30 "http://127.0.0.1:$HP/bytes/$SIZE" | sha256sum | cut -d' ' -f1)
[ "$got" = "$(pattern_sha256 "$SIZE")" ] || fail "after the bad input: GET /bytes/$SIZE through -p $HP:8080: SHA-256 differs"
got=$(timeout "$STEP_TIMEOUT" curl -sS -f --max-time 30 -T "$WORK/random.bin" "http://127.0.0.1:$HP/upload")
[ "$got" = "length=$SIZE sha256=$random_sha" ] || fail "after the bad input: PUT through -p $HP:8080: '$got'"
echo "after the bad input: $SIZE bytes each way through the forward, SHA-256 equal"

touch "$WORK/done"
status=
for _ in $(seq 100); do
  kill -0 "$RUN_PID" 2>/dev/null || { wait "$RUN_PID"; status=$?; break; }
  sleep 0.1
done
grep -E "^[a-z0-9_]+ [0-9]+$" "$WORK/run.err" | awk '$2 != 0' | sed 's/^/    /'
grep -q "^FAIL" "$WORK/run.out" && fail "SYN flood: $(grep ^FAIL "$WORK/run.out")"
[ "$status" = 0 ] || { cat "$WORK/run.err" >&2; fail "synack run: exit status '$status', want 0"; }
counter() { awk -v n="$1" '$1 == n { print $2 }' "$WORK/run.err"; }
malformed=$(counter drop_malformed)
[ "${malformed:-0}" -ge 400 ] || fail "--stats: drop_malformed=${malformed}, want >= 400 (the malformed packets sent)"
[ "$(counter drop_parse_tcp_checksum)" -ge 50 ] || fail "--stats: drop_parse_tcp_checksum=$(counter drop_parse_tcp_checksum), want >= 50"
[ "$(counter drop_parse_ipv4_checksum)" -ge 50 ] || fail "--stats: drop_parse_ipv4_checksum=$(counter drop_parse_ipv4_checksum), want >= 50"
denied=$(counter relay_tcp_loopback_denied)
[ "${denied:-0}" -ge "$FLOOD" ] || fail "--stats: relay_tcp_loopback_denied=$denied, want >= $FLOOD"
echo "--stats: drop_malformed=$malformed relay_tcp_loopback_denied=$denied relay_udp_dropped=$(counter relay_udp_dropped)"
echo "PASS"
