#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make bench-loss`: completion times under packet loss, synack beside the Linux kernel in one run
# (issue 10 §4). A client namespace, a router namespace, and behind the router either synack on
# its TUN (`synack serve`, CUBIC) or the kernel serving the same bytes from a server namespace,
# with CUBIC and, for reference, BBR. Packets are dropped in both directions with nftables (no
# netem here): towards the servers in the router's forward hook, towards the client at the
# client's ingress. Segmentation offloads (TSO/GSO/GRO) are off on every veth, so that a
# super-packet (the kernel's own GSO, always on for Linux TCP, or synack's through the TUN) is
# cut into segments when it leaves the router, before the client's drop: one drop takes one
# segment, for every contender. Then the same sweep in the simulator (`synack sim
# bulk`) at 1, 25 and 100 ms RTT. Rewrites the section between the bench-loss markers of
# docs/performance.md.
#
#   sudo bench/loss.sh [OUT.md]      SYNACK=path/to/synack (default ./build/synack)
#   LOSSES="0 1 2 5 10 15 20"        loss per packet, percent, each way
#   SIZES="2097152 20971520"         bytes per transfer
#   RUNS=5 RUN_TIMEOUT=120           runs per cell (the median is reported), seconds per run
#   LOW_RUNS=15 LOW_MAX_LOSS=5       runs per cell (at least RUNS) at losses up to LOW_MAX_LOSS %:
#                                    those cells take milliseconds, and whether a few of their
#                                    runs take a 200-ms timeout decides their median
#   BIG_MAX_LOSS=20                  the largest size only up to this loss (a reduced matrix)
#   SIM_DELAYS_MS="1 25 100" SIM_SEEDS=5 SIM=1   the simulator sweep (RTTs; SIM=0 skips it)
#   SIM_CCS="cubic bbr"              congestion controls the simulator sweep compares
#   CONTENDERS="synack kernel-cubic kernel-bbr"  which TUN-side contenders run (others: "—")
#   DIRECTIONS="get put"             get: the contender sends; put: it receives (one alone, to profile)
#   LOG_DIR=DIR                      keep every run's JSON line and synack's counters there
#   CAPTURE=PREFIX                   tcpdump (headers only) in the router for the whole run: synack's
#                                    side in PREFIX-tun.pcap, the kernel server's in PREFIX-server.pcap
#                                    (both before the client's drop, after the router's); needs tcpdump
#   PICTURES=DIR                     where the plot (bench-loss.svg, bench/plot.sh) goes; default:
#                                    pictures/ beside OUT.md, drawn only if that folder exists
#   FROM_LOG_DIR="DIR ..."           no measuring: the tables from LOG_DIRs of earlier runs (their
#                                    results.jsonl, counters.jsonl; several are pooled, cell by
#                                    cell); the simulator runs again, or with SIM=0 its runs come
#                                    from the logs' sim.jsonl. The tables are bench/loss_report.py's
#   TUN_OFFLOAD=gso                  synack's TUN: "gso" (a virtio-net header: checksum offload, and
#                                    one write per burst, which the kernel cuts into segments as
#                                    it does the kernel contender's GSO packets) or "none" (a plain
#                                    TUN, `--no-offload`: one write() per segment; the tables up to
#                                    2026-12-05)
#   SYNACK_FLAGS="..."               more `synack serve` options (e.g. TCP choices under test);
#                                    SYNACK_FLAGS="--cc bbr" makes synack's contender BBR, to
#                                    compare with kernel-bbr (the table's header follows)
#
# Needs root, /dev/net/tun, iproute2, nftables, ethtool and python3. Addresses: 198.18.0.0/24 on
# the TUN, 198.18.1.0/24 (client-router) and 198.18.2.0/24 (router-server) on veth pairs, nothing
# else. Every process is stopped by its PID and every namespace deleted on exit (trap EXIT).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${FROM_LOG_DIR:-}" ] && [ "$(id -u)" != 0 ]; then
  echo "bench/loss.sh: needs root (TUN device, network namespaces, veth, nftables)." >&2
  echo "  run: sudo make bench-loss" >&2
  exit 1
fi
[ -c /dev/net/tun ] || { echo "bench/loss.sh: /dev/net/tun is missing" >&2; exit 1; }
for tool in ip nft ethtool python3 timeout; do
  command -v $tool >/dev/null || { echo "bench/loss.sh: needs $tool" >&2; exit 1; }
done
synack=$(readlink -f "${SYNACK:-./build/synack}")
[ -x "$synack" ] || { echo "bench/loss.sh: no synack binary at $synack (make build)" >&2; exit 1; }
out=${1:-docs/performance.md}
LOSSES=${LOSSES:-0 1 2 5 10 15 20}
SIZES=${SIZES:-2097152 20971520}
RUNS=${RUNS:-5}
LOW_RUNS=${LOW_RUNS:-$((RUNS > 15 ? RUNS : 15))}
LOW_MAX_LOSS=${LOW_MAX_LOSS:-5}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}
BIG_MAX_LOSS=${BIG_MAX_LOSS:-20}
SIM=${SIM:-1}
SIM_DELAYS_MS=${SIM_DELAYS_MS:-1 25 100}
SIM_SEEDS=${SIM_SEEDS:-5}
SIM_CCS=${SIM_CCS:-cubic bbr}
CONTENDERS=${CONTENDERS:-synack kernel-cubic kernel-bbr}
DIRECTIONS=${DIRECTIONS:-get put}
TUN_OFFLOAD=${TUN_OFFLOAD:-gso}
case $TUN_OFFLOAD in
  gso) tun_flags="" ;;
  none) tun_flags="--no-offload" ;;
  *) echo "bench/loss.sh: TUN_OFFLOAD is gso or none" >&2; exit 1 ;;
esac
# synack's congestion control, from SYNACK_FLAGS (CUBIC unless --cc says otherwise), by the
# kernel's name: it is also the client's when synack receives, so that each "receives" column
# faces a sender of the same kind as its "sends" one; the tables' headers name it.
synack_cc=cubic
case " ${SYNACK_FLAGS:-} " in
  *" --cc bbr "* | *" --cc=bbr "*) synack_cc=bbr ;;
  *" --cc newreno "* | *" --cc=newreno "* | *" --cc reno "* | *" --cc=reno "*) synack_cc=reno ;;
esac
rev=${SYNACK_REV:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src include 2>/dev/null || echo ' + uncommitted changes')}
command_line="TUN_OFFLOAD=$TUN_OFFLOAD SYNACK_FLAGS=\"${SYNACK_FLAGS:-}\" CONTENDERS=\"$CONTENDERS\" LOSSES=\"$LOSSES\" SIZES=\"$SIZES\" RUNS=$RUNS LOW_RUNS=$LOW_RUNS LOW_MAX_LOSS=$LOW_MAX_LOSS RUN_TIMEOUT=$RUN_TIMEOUT BIG_MAX_LOSS=$BIG_MAX_LOSS SIM=$SIM bench/loss.sh"
case $LOW_MAX_LOSS$LOW_RUNS in '' | *[!0-9]*) echo "bench/loss.sh: LOW_MAX_LOSS and LOW_RUNS are whole numbers" >&2; exit 1 ;; esac
for p in $LOSSES; do
  case $p in '' | *[!0-9]*) echo "bench/loss.sh: LOSSES are whole percents" >&2; exit 1 ;; esac
done

tmp=$(mktemp -d)
load_at_start=${LOAD_AT_START:-$(cut -d' ' -f1-3 /proc/loadavg)}
ns_router="synack-loss-$$-r" ns_client="synack-loss-$$-c" ns_server="synack-loss-$$-s"
pids=()
stop_pid() {  # SIGTERM, up to 5 s, then SIGKILL; by PID only
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid ns
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  for ns in "$ns_client" "$ns_server" "$ns_router"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The kernel-side program (python3), the same against synack and against the kernel:
#   get HOST PORT N CC T   GET /bytes/N (HTTP/1.1, Connection: close); the server sends
#   put HOST PORT N CC T   N bytes to a discard server, shutdown(SHUT_WR), read to EOF (the server
#                          closes only after our FIN, so every byte has been received)
#   serve-get HOST PORT CC / serve-discard HOST PORT CC   the kernel's stand-in servers
# CC is set with TCP_CONGESTION on the socket (inherited by accepted ones). Prints one JSON line:
# seconds from connect to EOF, status ok / timeout (T seconds passed) / error; after a timeout,
# "bytes" is how far the transfer got (get: the body received; put: what the server had
# acknowledged, tcp_info's tcpi_bytes_acked), which orders runs that neither finished.
cat >"$tmp/peer.py" <<'EOF'
import json, signal, socket, sys, threading, time
CHUNK = 1 << 20
mode, host, port, cc = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[-1] if sys.argv[1].startswith("serve") else sys.argv[5]

def with_cc(s):
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
    return s

def serve(handler):
    ls = with_cc(socket.socket())
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(8)
    def run(c):
        c.settimeout(600)
        try:
            handler(c)
        except OSError:
            pass
        c.close()
    # A thread per connection: a client killed at high loss can leave its connection open for
    # minutes (its FIN lost, nothing to send), and a serial server would keep every later
    # client of the cell waiting (2026-12-05: five 20 MiB uploads at 0 % timed out with 0
    # bytes behind one from the 20 % cell). synack's servers take connections concurrently.
    while True:
        c, _ = ls.accept()
        threading.Thread(target=run, args=(c,), daemon=True).start()

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

n, limit = int(sys.argv[4]), float(sys.argv[6])
result = {"bytes": 0, "seconds": None, "status": "ok"}
body = 0
def progress(s):
    """How far the transfer got: the body received (get), or the bytes the server acknowledged
    (put: struct tcp_info's tcpi_bytes_acked, a __u64 at offset 120, Linux 4.1 and later)."""
    if mode == "get":
        return body
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return int.from_bytes(info[120:128], "little") if len(info) >= 128 else 0
start = time.monotonic()
def left():
    remaining = limit - (time.monotonic() - start)
    if remaining <= 0:
        raise socket.timeout()
    return remaining
try:
    s = with_cc(socket.socket())
    s.settimeout(left())
    s.connect((host, port))
    if mode == "get":
        s.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (n, host.encode()))
        buf = memoryview(bytearray(CHUNK))
        data = b""
        while b"\r\n\r\n" not in data:
            s.settimeout(left())
            got = s.recv(65536)
            if not got:
                raise ConnectionError("EOF in the response header")
            data += got
        body = len(data) - data.index(b"\r\n\r\n") - 4
        while True:
            s.settimeout(left())
            got = s.recv_into(buf)
            if not got:
                break
            body += got
        result["bytes"] = body
        if body != n:
            result["status"] = f"short: {body} of {n} bytes"
    else:
        block = memoryview(bytes(CHUNK))
        rest = n
        while rest > 0:
            s.settimeout(left())
            rest -= s.send(block[:min(rest, CHUNK)])
        s.shutdown(socket.SHUT_WR)
        while True:
            s.settimeout(left())
            if not s.recv(65536):
                break
        result["bytes"] = n
except socket.timeout:
    result["status"] = "timeout"
    try:
        result["bytes"] = progress(s)
    except (NameError, OSError):  # no socket yet
        pass
except OSError as e:
    result["status"] = f"error: {e}"
result["seconds"] = time.monotonic() - start
print(json.dumps(result))
EOF

if [ -n "${FROM_LOG_DIR:-}" ]; then
  # Several directories: their runs pooled into one table (rounds of one cell, measured apart).
  for dir in $FROM_LOG_DIR; do
    cat "$dir/results.jsonl" >>"$tmp/results.jsonl"
    cat "$dir/counters.jsonl" >>"$tmp/counters.jsonl"
    # The simulator's runs too, when SIM=0 leaves them to the logs.
    if [ "$SIM" != 1 ] && [ -e "$dir/sim.jsonl" ]; then cat "$dir/sim.jsonl" >>"$tmp/sim.jsonl"; fi
  done
  rev=${SYNACK_REV:-"(see $FROM_LOG_DIR)"}
else
# --- topology ---------------------------------------------------------------------------------
# client (198.18.1.2) -- router (198.18.1.1 | 198.18.0.2 TUN -> synack 198.18.0.1
#                                 198.18.2.2) -- server (198.18.2.1, the kernel's servers)
for ns in "$ns_router" "$ns_client" "$ns_server"; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
done
ip netns exec "$ns_router" sysctl -qw net.ipv4.ip_forward=1
ip link add lbc$$ netns "$ns_client" type veth peer name lbrc$$ netns "$ns_router"
ip link add lbs$$ netns "$ns_server" type veth peer name lbrs$$ netns "$ns_router"
ip -n "$ns_client" addr add 198.18.1.2/24 dev lbc$$
ip -n "$ns_router" addr add 198.18.1.1/24 dev lbrc$$
ip -n "$ns_server" addr add 198.18.2.1/24 dev lbs$$
ip -n "$ns_router" addr add 198.18.2.2/24 dev lbrs$$
ip -n "$ns_client" link set lbc$$ up
ip -n "$ns_server" link set lbs$$ up
ip -n "$ns_router" link set lbrc$$ up
ip -n "$ns_router" link set lbrs$$ up
ip -n "$ns_client" route add default via 198.18.1.1
ip -n "$ns_server" route add default via 198.18.2.2
# One drop takes one segment: no segmentation or receive offloads on any veth (both ends of each),
# so that a super-packet is cut into segments when it leaves its namespace's veth.
no_offloads() { ip netns exec "$1" ethtool -K "$2" gso off tso off gro off >/dev/null 2>&1 || true; }
no_offloads "$ns_client" lbc$$
no_offloads "$ns_server" lbs$$
no_offloads "$ns_router" lbrc$$
no_offloads "$ns_router" lbrs$$

# synack on its TUN; the TUN's kernel side is the router namespace (it exists, so synack leaves
# it to us). MTU 1500 everywhere. TUN_OFFLOAD=gso: a virtio-net header, checksum offload and GSO
# (synack's bursts are forwarded whole and cut into segments on the router's veth to the client,
# before the client's drop, as the kernel server's are on its own veth); none: a plain TUN.
"$synack" serve --netns "$ns_router" --tun lbtun0 --addr 198.18.0.1 --peer 198.18.0.2/24 \
  --mtu 1500 $tun_flags --no-ipv6 --http 80 --discard 9 --stats ${SYNACK_FLAGS:-} \
  >"$tmp/serve.out" 2>"$tmp/serve.err" &
pids+=($!)
for _ in $(seq 100); do
  grep -q "listening on" "$tmp/serve.out" 2>/dev/null && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$tmp/serve.err" >&2; echo "synack serve exited" >&2; exit 1; }
  sleep 0.1
done
grep -q "listening on" "$tmp/serve.out" || { echo "synack serve not ready after 10 s" >&2; exit 1; }
no_offloads "$ns_router" lbtun0
if [ -n "${CAPTURE:-}" ]; then
  for spec in "lbtun0 tun" "lbrs$$ server"; do
    set -- $spec
    ip netns exec "$ns_router" tcpdump -i "$1" -n -s 128 -U -w "$CAPTURE-$2.pcap" tcp 2>/dev/null &
    pids+=($!)
  done
  sleep 1  # tcpdump is listening before the first run
fi
# The kernel's servers: CUBIC on 80 and 9, BBR on 8080 and 8009.
for spec in "serve-get 80 cubic" "serve-discard 9 cubic" "serve-get 8080 bbr" "serve-discard 8009 bbr"; do
  set -- $spec
  ip netns exec "$ns_server" python3 "$tmp/peer.py" "$1" 0.0.0.0 "$2" "$3" >/dev/null 2>&1 &
  pids+=($!)
done
for _ in $(seq 100); do
  [ "$(ip netns exec "$ns_server" ss -Htln | wc -l)" -ge 4 ] && break
  sleep 0.1
done
ip netns exec "$ns_client" ping -c1 -W2 198.18.0.1 >/dev/null
ip netns exec "$ns_client" ping -c1 -W2 198.18.2.1 >/dev/null

# The loss, with probability PERCENT/100 for each packet in each direction: towards the servers
# in the router's forward hook (the client's segments, cut on the client's veth), towards the
# client at the client's ingress (netdev hook), after the router's veth has cut every contender's
# super-packets into segments (the router's forward hook would see synack's GSO packets whole).
set_loss() {
  local ppm=$(($1 * 10000))
  ip netns exec "$ns_router" nft -f - <<NFT
table inet synack_loss
delete table inet synack_loss
table inet synack_loss {
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname "lbrc$$" numgen random mod 1000000 < $ppm counter drop
    iifname "lbrc$$" counter
  }
}
NFT
  ip netns exec "$ns_client" nft -f - <<NFT
table netdev synack_loss
delete table netdev synack_loss
table netdev synack_loss {
  chain ingress {
    type filter hook ingress device "lbc$$" priority 0; policy accept;
    numgen random mod 1000000 < $ppm counter drop
    counter
  }
}
NFT
}
# Dropped / passed packets (both directions) since the last set_loss, as "dropped passed".
loss_counters() {
  { ip netns exec "$ns_router" nft list chain inet synack_loss forward
    ip netns exec "$ns_client" nft list chain netdev synack_loss ingress; } |
    grep -o 'packets [0-9]*' | awk '{print $2}' | paste -sd' ' |
    awk '{print $1 + $3, $2 + $4}'
}

# Contenders: label host get-port put-port cc.
contenders=("synack 198.18.0.1 80 9 $synack_cc" "kernel-cubic 198.18.2.1 80 9 cubic"
            "kernel-bbr 198.18.2.1 8080 8009 bbr")
run_one() {  # LABEL HOST PORT DIRECTION BYTES CC LOSS
  local line
  line=$(timeout $((RUN_TIMEOUT + 30)) ip netns exec "$ns_client" python3 "$tmp/peer.py" \
           "$4" "$2" "$3" "$5" "$6" "$RUN_TIMEOUT" ||
         echo '{"bytes": 0, "seconds": null, "status": "client killed"}')
  python3 -c '
import json, sys
r = json.loads(sys.argv[1])
r.update(label=sys.argv[2], direction=sys.argv[3], size=int(sys.argv[4]), loss=int(sys.argv[5]))
print(json.dumps(r))' "$line" "$1" "$4" "$5" "$7" | tee -a "$tmp/results.jsonl" >&2
}

for size in $SIZES; do
  for loss in $LOSSES; do
    if [ "$size" != "${SIZES%% *}" ] && [ "$loss" -gt "$BIG_MAX_LOSS" ]; then continue; fi
    set_loss "$loss"
    echo "size $size, loss $loss %, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    runs_here=$RUNS
    if [ "$loss" -le "$LOW_MAX_LOSS" ]; then runs_here=$LOW_RUNS; fi
    for run in $(seq "$runs_here"); do  # round-robin: a burst of load falls on every contender alike
      for c in "${contenders[@]}"; do
        set -- $c
        case " $CONTENDERS " in *" $1 "*) ;; *) continue ;; esac
        case " $DIRECTIONS " in *" get "*) run_one "$1" "$2" "$3" get "$size" "$5" "$loss" ;; esac
        case " $DIRECTIONS " in *" put "*) run_one "$1" "$2" "$4" put "$size" "$5" "$loss" ;; esac
      done
    done
    echo "  router: dropped/passed packets $(loss_counters)" >&2
    echo "{\"counters\": \"$(loss_counters)\", \"size\": $size, \"loss\": $loss}" >>"$tmp/counters.jsonl"
  done
done
for pid in "${pids[@]}"; do stop_pid "$pid"; done
pids=()
grep -i -E "retrans|rto|dup|loss|timeout|sack" "$tmp/serve.err" | sed 's/^/  [synack] /' >&2 || true
fi  # FROM_LOG_DIR

# --- the simulator: the same sizes and losses at 1, 25 and 100 ms RTT, median over seeds ------
touch "$tmp/sim.jsonl"
[ "$SIM" = 1 ] && : >"$tmp/sim.jsonl"
if [ "$SIM" = 1 ]; then
  for size in $SIZES; do
    for loss in $LOSSES; do
      if [ "$size" != "${SIZES%% *}" ] && [ "$loss" -gt "$BIG_MAX_LOSS" ]; then continue; fi
      for rtt in $SIM_DELAYS_MS; do
        for cc in $SIM_CCS; do
          for seed in $(seq "$SIM_SEEDS"); do
            line=$(timeout "$RUN_TIMEOUT" "$synack" sim bulk --bytes "$size" --loss "0.$(printf %02d "$loss")" \
                     --delay "$(python3 -c "print($rtt / 2)")" --seed "$seed" --cc "$cc" --json 2>/dev/null | tail -1 ||
                   echo '{"hung": true, "virtual_seconds": null, "failure": "wall-clock limit"}')
            python3 -c '
import json, sys
r = json.loads(sys.argv[1])
r.update(size=int(sys.argv[2]), loss=int(sys.argv[3]), rtt=float(sys.argv[4]), cc=sys.argv[5])
print(json.dumps(r))' "$line" "$size" "$loss" "$rtt" "$cc" >>"$tmp/sim.jsonl"
          done
        done
      done
    done
  done
fi
if [ -n "${LOG_DIR:-}" ]; then
  mkdir -p "$LOG_DIR"
  cp "$tmp"/*.jsonl "$LOG_DIR"/
  [ -e "$tmp/serve.err" ] && cp "$tmp"/serve.* "$LOG_DIR"/
fi

LOW_MAX_LOSS="$LOW_MAX_LOSS" python3 "$(dirname "$0")/loss_report.py" "$tmp" "$out" "$RUNS" "$RUN_TIMEOUT" "$command_line" "$rev" "$load_at_start" "$SIM_SEEDS" "$synack_cc" "$TUN_OFFLOAD"
echo "wrote $out" >&2
