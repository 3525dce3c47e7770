#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Many connections through synack run's relay to a threaded python3 echo server on the host's
# loopback: 300 short connections in a row (connect, 1 KB each way, close — every one must
# succeed), then 200 at once (all 200 open before any sends; 64 KB each way on each, all
# echoed exactly). --stats: relay_tcp_connects must count all 500. The TUN's transmit queue
# must be 4,096 packets long.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup run_many --no-netns
need python3
HERE=$(dirname "$(readlink -f "$0")")
SERIAL=${SERIAL_CONNECTIONS:-300}
CONCURRENT=${CONCURRENT_CONNECTIONS:-200}

host_py echo "$HERE/host_server.py" echo

started=$SECONDS
synack_run --allow-host-loopback --stats -- python3 - "$ADDR" "$HOST_PORT" "$SERIAL" "$CONCURRENT" \
    >"$WORK/client.out" 2>"$WORK/client.err" <<'PY'
import os, selectors, socket, sys, time
addr, port, serial, concurrent = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

# The TUN queues up to 4,096 packets toward synack (TunConfig::queue_length), not the kernel's
# 500: a burst of SYNs from many clients at once is not dropped there.
qlen = open("/sys/class/net/synack0/tx_queue_len").read().strip()
if qlen != "4096":
    sys.exit(f"synack0's transmit queue holds {qlen} packets, want 4096")

t0 = time.monotonic()
for i in range(serial):
    data = os.urandom(1024)
    with socket.create_connection((addr, port), timeout=10) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = bytearray()
        while chunk := s.recv(65536):
            got += chunk
    if got != data:
        sys.exit(f"serial connection {i}: {len(got)} bytes echoed, want {len(data)} identical")
print(f"serial: {serial} connections in a row, each echoed 1 KB exactly ({time.monotonic() - t0:.1f} s)")

# All at once: open every socket (non-blocking connect), wait until all are connected, then
# send on all of them and read everything back, multiplexed.
t0 = time.monotonic()
SIZE = 65536
sel = selectors.DefaultSelector()
conns = []
for i in range(concurrent):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex((addr, port))
    conns.append({"sock": s, "i": i, "data": os.urandom(SIZE), "sent": 0, "got": bytearray(), "up": False})
    sel.register(s, selectors.EVENT_WRITE, conns[-1])
deadline = time.monotonic() + 30
pending = concurrent
while pending:
    if time.monotonic() > deadline:
        sys.exit(f"concurrent: {pending} of {concurrent} connects still pending after 30 s")
    for key, _ in sel.select(1):
        c = key.data
        err = c["sock"].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            sys.exit(f"concurrent connection {c['i']}: connect failed: {os.strerror(err)}")
        c["up"] = True
        sel.unregister(c["sock"])
        pending -= 1
print(f"concurrent: all {concurrent} connections established at once ({time.monotonic() - t0:.1f} s)")
for c in conns:
    sel.register(c["sock"], selectors.EVENT_READ | selectors.EVENT_WRITE, c)
left = concurrent
deadline = time.monotonic() + 40
while left:
    if time.monotonic() > deadline:
        short = [c["i"] for c in conns if len(c["got"]) < SIZE]
        sys.exit(f"concurrent: {len(short)} connections incomplete after 40 s, e.g. {short[:5]}")
    for key, events in sel.select(1):
        c, s = key.data, key.data["sock"]
        if events & selectors.EVENT_WRITE and c["sent"] < SIZE:
            try:
                c["sent"] += s.send(c["data"][c["sent"]:c["sent"] + 16384])
            except BlockingIOError:
                pass
            if c["sent"] == SIZE:
                s.shutdown(socket.SHUT_WR)
                sel.modify(s, selectors.EVENT_READ, c)
        if events & selectors.EVENT_READ:
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                sys.exit(f"concurrent connection {c['i']}: {e}")
            if chunk:
                c["got"] += chunk
            else:
                sel.unregister(s)
                s.close()
                if c["got"] != c["data"]:
                    sys.exit(f"concurrent connection {c['i']}: {len(c['got'])} bytes echoed, want {SIZE} identical")
                left -= 1
print(f"concurrent: {concurrent} connections echoed {SIZE} bytes each exactly ({time.monotonic() - t0:.1f} s)")
PY
status=$?
cat "$WORK/client.out"
[ "$status" = 0 ] || { cat "$WORK/client.err" >&2; fail "synack run python3 client exited $status"; }
connects=$(awk '$1 == "relay_tcp_connects" { print $2 }' "$WORK/client.err")
want=$((SERIAL + CONCURRENT))
[ "${connects:-0}" = "$want" ] || { cat "$WORK/client.err" >&2; fail "--stats: relay_tcp_connects=$connects, want $want"; }
echo "--stats: relay_tcp_connects=$connects ($((SECONDS - started)) s in all)"
echo "PASS"
