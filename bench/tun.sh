#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make bench-tun`: bulk throughput between synack (`synack serve` on a TUN device) and the Linux
# kernel's TCP in both directions — MTU 1500 and 65520, TUN offloads on and off — and, in the same
# run, the kernel against itself over a veth pair at the same MTUs, with the same client program.
# Rewrites the section between the bench-tun markers of docs/performance.md; the rest of the file
# (bench/run.sh's table and the prose) is left as it is.
#
#   sudo bench/tun.sh [OUT.md]     SYNACK=path/to/synack (default ./build/synack)
#   BYTES=2000000000 RUNS=3 RUN_TIMEOUT=120   bytes per transfer, runs per cell, seconds per run
#   LOG_DIR=DIR      keep every run's JSON line and synack's logs (with --stats counters) there
#   SYNACK_REV=...   what the binary was built from, for the doc (default: this checkout's HEAD)
#
# Needs root (TUN devices, network namespaces, veth), /dev/net/tun, iproute2 and python3.
# Addresses: 198.18.0.0/24 on each TUN, 198.18.1.0/24 and 198.18.2.0/24 on the veth pairs (RFC 2544
# benchmarking range) and nothing else. Every process is stopped by its PID and every namespace deleted on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "bench/tun.sh: needs root (it creates TUN devices, network namespaces and a veth pair)." >&2
  echo "  run: sudo make bench-tun   or   sudo SYNACK=build/synack bench/tun.sh" >&2
  exit 1
fi
[ -c /dev/net/tun ] || { echo "bench/tun.sh: /dev/net/tun is missing" >&2; exit 1; }
for tool in ip python3 timeout; do
  command -v $tool >/dev/null || { echo "bench/tun.sh: needs $tool" >&2; exit 1; }
done
synack=$(readlink -f "${SYNACK:-./build/synack}")
[ -x "$synack" ] || { echo "bench/tun.sh: no synack binary at $synack (make build, or SYNACK=...)" >&2; exit 1; }
out=${1:-docs/performance.md}
BYTES=${BYTES:-2000000000}
RUNS=${RUNS:-3}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}
rev=${SYNACK_REV:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src include 2>/dev/null || echo ' + uncommitted changes')}
command_line="SYNACK=${SYNACK:-./build/synack} BYTES=$BYTES RUNS=$RUNS bench/tun.sh $out"

tmp=$(mktemp -d)
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
tun_ns="synack-bench-$$"
veth_ns=("synack-bench-$$-s" "synack-bench-$$-c")
serve_pids=()   # synack serve, one per TUN cell
server_pids=()  # the python servers on the veth
stop_pid() {  # SIGTERM, up to 5 s, then SIGKILL; by PID only
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid ns
  for pid in "${serve_pids[@]}" "${server_pids[@]}"; do stop_pid "$pid"; done
  # synack deletes the namespaces it created; these are for a synack that was killed.
  for ns in "${veth_ns[@]}" "$tun_ns"-{1500,65520}-{on,off}; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The kernel-side program, the same against synack and against the kernel:
#   get HOST PORT N      GET /bytes/N over HTTP/1.1 (Connection: close), body read to EOF
#   put HOST PORT N      N bytes into a discard server, then shutdown(SHUT_WR) and read to EOF:
#                        the server closes only after reading our FIN, so the time includes every
#                        byte having been received (and consumed) by the server
#   serve-get HOST PORT  (the kernel's stand-in for synack's HTTP server) / serve-discard HOST PORT
# Clients print one JSON line: payload bytes, seconds from connect to EOF, the longest time one
# recv/send call blocked ("pause"), and status ok / stalled (no progress for 10 s) / timeout.
cat >"$tmp/peer.py" <<'EOF'
import json, signal, socket, sys, time
CHUNK = 4 << 20
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

def serve(handler):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(8)
    print("listening", flush=True)
    while True:
        c, _ = ls.accept()
        try:
            handler(c)
        except OSError:
            pass
        c.close()

def serve_get(c):
    req = b""
    while b"\r\n\r\n" not in req:
        got = c.recv(4096)
        if not got:
            return
        req += got
    n = int(req.split(b" ")[1].rsplit(b"/", 1)[1])
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % n)
    block = memoryview(bytes(CHUNK))
    while n > 0:
        n -= c.send(block[:min(n, CHUNK)])

def serve_discard(c):
    buf = memoryview(bytearray(CHUNK))
    while c.recv_into(buf):
        pass

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
if mode == "serve-get":
    serve(serve_get)
if mode == "serve-discard":
    serve(serve_discard)

n, deadline_s = int(sys.argv[4]), float(sys.argv[5])
result = {"bytes": 0, "seconds": None, "pause_ms": 0.0, "status": "ok"}
start = time.monotonic()
last = start
class Deadline(Exception):
    pass
def progress():
    global last
    now = time.monotonic()
    result["pause_ms"] = max(result["pause_ms"], (now - last) * 1e3)
    last = now
    if now - start > deadline_s:
        raise Deadline()
try:
    s = socket.create_connection((host, port), timeout=10)
    if mode == "get":
        s.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (n, host.encode()))
        buf = memoryview(bytearray(CHUNK))
        head = b""
        while b"\r\n\r\n" not in head:
            got = s.recv(65536)
            if not got:
                raise ConnectionError("EOF in the response header")
            head += got
        body = len(head) - head.index(b"\r\n\r\n") - 4
        while True:
            got = s.recv_into(buf)
            progress()
            if not got:
                break
            body += got
        result["bytes"] = body
        if body != n:
            result["status"] = f"short: {body} of {n} bytes"
    else:
        block = memoryview(bytes(CHUNK))
        left = n
        while left > 0:
            left -= s.send(block[:min(left, CHUNK)])
            progress()
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
        progress()
        result["bytes"] = n
    result["seconds"] = time.monotonic() - start
except socket.timeout:
    result["status"] = "stalled"
except Deadline:
    result["status"] = "timeout"
except OSError as e:
    result["status"] = f"error: {e}"
if result["status"] != "ok":
    result["seconds"] = time.monotonic() - start
print(json.dumps(result))
EOF

clk_tck=$(getconf CLK_TCK)
cpu_ticks() {  # utime + stime of a process (all its threads), in clock ticks
  local rest
  rest=$(sed 's/.*) //' "/proc/$1/stat")
  set -- $rest
  echo $((${12} + ${13}))
}

# run_client LABEL NS HOST PORT DIRECTION [PID]: one transfer; appends a JSON line to results.
run_client() {
  local label=$1 ns=$2 host=$3 port=$4 direction=$5 pid=${6:-} before=0 after=0 line
  [ -n "$pid" ] && before=$(cpu_ticks "$pid")
  line=$(timeout $((RUN_TIMEOUT + 30)) ip netns exec "$ns" python3 "$tmp/peer.py" \
           "$direction" "$host" "$port" "$BYTES" "$RUN_TIMEOUT" ||
         echo '{"bytes": 0, "seconds": null, "pause_ms": 0, "status": "client killed"}')
  [ -n "$pid" ] && after=$(cpu_ticks "$pid")
  python3 -c '
import json, sys
r = json.loads(sys.argv[1])
r.update(label=sys.argv[2], direction=sys.argv[3], cpu_s=int(sys.argv[4]) / int(sys.argv[5]) if sys.argv[6] else None)
print(json.dumps(r))' "$line" "$label" "$direction" $((after - before)) "$clk_tck" "$pid" >"$tmp/last.json"
  cat "$tmp/last.json" >&2
  [ "$label" = warmup ] || cat "$tmp/last.json" >>"$tmp/results.jsonl"
}

# The six cells run side by side and are measured round-robin (run 1 of every cell, then run 2,
# ...), so a burst of load from other work on the machine lands on all of them alike rather than
# on whichever cell happened to be running. An idle synack serve uses no CPU (checked below).
labels=() client_ns=() hosts=() pids=()
add_cell() { labels+=("$1"); client_ns+=("$2"); hosts+=("$3"); pids+=("${4:-}"); }

# synack serve on a TUN, the kernel's side in a namespace of its own (synack creates it and
# deletes it on exit). --stats: the stack's counters go to its stderr on exit.
for mtu in 1500 65520; do
  for offload in on off; do
    ns="$tun_ns-$mtu-$offload"
    flags=(--mtu "$mtu" --http 80 --discard 9 --no-ipv6 --stats)
    [ "$offload" = off ] && flags+=(--no-offload)
    log="$tmp/serve-$mtu-$offload"
    echo "synack serve --netns $ns ${flags[*]}" >&2
    "$synack" serve --netns "$ns" "${flags[@]}" >"$log.out" 2>"$log.err" &
    pid=$!
    serve_pids+=("$pid")
    for _ in $(seq 100); do
      grep -q "listening on" "$log.out" 2>/dev/null && break
      kill -0 "$pid" 2>/dev/null || { cat "$log.err" >&2; echo "synack serve exited" >&2; exit 1; }
      sleep 0.1
    done
    grep -q "listening on" "$log.out" || { echo "synack serve not ready after 10 s" >&2; exit 1; }
    add_cell "tun $mtu $offload" "$ns" 198.18.0.1 "$pid"
  done
done

# The kernel against itself: a server namespace and a client namespace joined by two veth pairs,
# one per MTU (veth's default offloads: TSO, GSO, GRO, checksum), and python servers on 0.0.0.0
# standing in for synack's.
ip netns add "${veth_ns[0]}"
ip netns add "${veth_ns[1]}"
for ns in "${veth_ns[@]}"; do ip -n "$ns" link set lo up; done
subnet=1
for mtu in 1500 65520; do
  server_if=sbv$$s$subnet client_if=sbv$$c$subnet
  ip link add "$server_if" netns "${veth_ns[0]}" mtu $mtu type veth peer name "$client_if" \
    netns "${veth_ns[1]}" mtu $mtu
  ip -n "${veth_ns[0]}" addr add 198.18.$subnet.1/24 dev "$server_if"
  ip -n "${veth_ns[1]}" addr add 198.18.$subnet.2/24 dev "$client_if"
  ip -n "${veth_ns[0]}" link set "$server_if" up
  ip -n "${veth_ns[1]}" link set "$client_if" up
  add_cell "veth $mtu on" "${veth_ns[1]}" 198.18.$subnet.1
  subnet=$((subnet + 1))
done
ip netns exec "${veth_ns[0]}" python3 "$tmp/peer.py" serve-get 0.0.0.0 80 >/dev/null &
server_pids+=($!)
ip netns exec "${veth_ns[0]}" python3 "$tmp/peer.py" serve-discard 0.0.0.0 9 >/dev/null &
server_pids+=($!)
for _ in $(seq 100); do
  [ "$(ip netns exec "${veth_ns[0]}" ss -Htln '( sport = :9 or sport = :80 )' | wc -l)" = 2 ] && break
  sleep 0.1
done

for pid in "${serve_pids[@]}"; do
  idle=$(cpu_ticks "$pid")
  sleep 1
  echo "synack serve $pid idle: $(($(cpu_ticks "$pid") - idle)) clock ticks in 1 s" >&2
done
for i in "${!labels[@]}"; do  # warm-up, 50 MB each way, not counted
  BYTES=50000000 RUN_TIMEOUT=30 run_client warmup "${client_ns[$i]}" "${hosts[$i]}" 80 get
  BYTES=50000000 RUN_TIMEOUT=30 run_client warmup "${client_ns[$i]}" "${hosts[$i]}" 9 put
done
for run in $(seq "$RUNS"); do
  echo "run $run of $RUNS, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  for i in "${!labels[@]}"; do
    run_client "${labels[$i]}" "${client_ns[$i]}" "${hosts[$i]}" 80 get "${pids[$i]}"
    run_client "${labels[$i]}" "${client_ns[$i]}" "${hosts[$i]}" 9 put "${pids[$i]}"
  done
done

for pid in "${serve_pids[@]}" "${server_pids[@]}"; do stop_pid "$pid"; done
serve_pids=() server_pids=()
# The counters worth seeing beside the figures: loss, retransmissions, drops.
for f in "$tmp"/serve-*.err; do
  grep -i -E "retrans|drop|dup|loss|timeout|zero|unaccept" "$f" | sed "s|^|  [$(basename "$f" .err)] |" >&2 || true
done
if [ -n "${LOG_DIR:-}" ]; then
  mkdir -p "$LOG_DIR"
  cp "$tmp"/results.jsonl "$tmp"/serve-* "$LOG_DIR"/
fi

python3 - "$tmp/results.jsonl" "$out" "$BYTES" "$RUNS" "$command_line" "$rev" "$load_at_start" <<'EOF'
import json, os, platform, statistics, sys, datetime
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out, nbytes, runs, command, rev = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
load_at_start = sys.argv[7]
cpu = next((x.split(":", 1)[1].strip() for x in open("/proc/cpuinfo") if x.startswith("model name")), "?")
load = open("/proc/loadavg").read().split()[:3]

def cell(label, direction):
    rs = [r for r in rows if r["label"] == label and r["direction"] == direction]
    ok = [r for r in rs if r["status"] == "ok"]
    rates = sorted(r["bytes"] * 8 / r["seconds"] / 1e9 for r in ok)
    text = "—"
    if rates:
        text = f"{statistics.median(rates):.2f}" + (f" ({rates[0]:.2f}–{rates[-1]:.2f})" if len(rates) > 1 else "")
    bad = [r["status"] for r in rs if r["status"] != "ok"]
    if bad:
        text += f" [{len(bad)} of {len(rs)}: {', '.join(sorted(set(bad)))}]"
    cpu_s = [r["cpu_s"] for r in ok if r["cpu_s"] is not None]
    per_gb = f"{sum(cpu_s) / (sum(r['bytes'] for r in ok) / 1e9):.2f}" if cpu_s else ""
    pause = f"{max(r['pause_ms'] for r in rs):.0f}" if rs else ""
    return text, per_gb, pause

lines = ["| path | MTU | offloads | kernel → peer, Gbit/s | peer → kernel, Gbit/s | synack CPU s/GB (→ / ←) | longest pause, ms (→ / ←) |",
         "|---|---:|---|---:|---:|---:|---:|"]
for label in dict.fromkeys(r["label"] for r in rows):
    kind, mtu, offload = label.split()
    up, up_cpu, up_pause = cell(label, "put")
    down, down_cpu, down_pause = cell(label, "get")
    path = "TUN, synack" if kind == "tun" else "veth, kernel ↔ kernel"
    offloads = {"on": "TSO/GSO + csum", "off": "none"}[offload] if kind == "tun" else "veth defaults"
    cpu_cell = f"{up_cpu} / {down_cpu}" if kind == "tun" else ""
    lines.append(f"| {path} | {mtu} | {offloads} | {up} | {down} | {cpu_cell} | {up_pause} / {down_pause} |")
table = "\n".join(lines)

begin, end = "<!-- bench-tun:begin (bench/tun.sh) -->", "<!-- bench-tun:end -->"
machine = (f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, run "
           f"{datetime.date.today().isoformat()}; load average (1, 5, 15 min) {load_at_start} at the start, "
           f"{' '.join(load)} at the end")
block = f"""{begin}
## TUN: synack and the Linux kernel

`sudo make bench-tun` (`bench/tun.sh`) runs four `synack serve --http 80 --discard 9`, each on
a TUN device with the kernel's side in a namespace of its own: MTU 1500 and 65520, each with the
TUN offloads (IFF_VNET_HDR with TSO and checksum offload both ways: the kernel and synack hand each
other up to 64 KiB segments with partial checksums) and with `--no-offload`. Beside them, in the same run,
the kernel against itself over veth pairs at the same MTUs (veth's default offloads). One client
program (python3, `recv_into`/`send` on 4 MiB buffers, kernel socket defaults) is used everywhere:

- **kernel → peer**: the kernel sends {nbytes:,} bytes to a discard server (synack's, or a python
  one on the veth), then `shutdown(SHUT_WR)` and waits for the server's FIN. The server closes
  only after reading ours, so the time covers every byte received and consumed by the server.
- **peer → kernel**: `GET /bytes/{nbytes}` (HTTP/1.1, `Connection: close`) from synack's HTTP
  server, or from a python server sending zeros on the veth; time from connect to EOF.

All six set-ups stay up for the whole run and are measured round-robin (run 1 of each, then
run 2, ...), so a burst of load from elsewhere falls on all of them alike; an idle synack uses no
CPU. Throughput is payload only: the median of {runs} runs (min–max in brackets), after a 50 MB
warm-up each way. synack CPU is its process's utime + stime (`/proc/PID/stat`) over the runs,
per GB moved; it includes the kernel's work inside synack's system calls (for TUN writes that is
the kernel's receive path up to the socket). "Longest pause" is the longest a single client
`recv`/`send` call blocked. Single-connection figures on a shared VM: compare rows of one run,
not across runs.

Machine: {machine}. synack built (Release) from {rev}.

{table}

Command: `sudo make bench-tun`; this table: `{command}`.
{end}"""
doc = open(out).read() if os.path.exists(out) else "# Performance\n"
if begin in doc and end in doc:
    doc = doc[:doc.index(begin)] + block + doc[doc.index(end) + len(end):]
else:
    doc = doc.rstrip("\n") + "\n\n" + block + "\n"
open(out, "w").write(doc)
print(table)
EOF
echo "wrote $out" >&2
