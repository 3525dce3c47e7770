# SPDX-License-Identifier: MIT
# Shared by the interop smoke tests: synack on a real TUN, the Linux kernel on the other side,
# inside a network namespace each test makes for itself. Sourced, not run.
#
#   source lib.bash "$1"          # $1: the synack binary
#   interop_setup NAME            # skips (exit 77) without root, /dev/net/tun, ip, netns
#   start_serve ARGS...           # synack serve --netns $NS ARGS, waits for its ready line
#   in_ns CMD...                  # runs CMD in the namespace, bounded by $STEP_TIMEOUT
#
# Addresses: 198.18.0.0/15 (RFC 2544 benchmarking) and fd53:796e:6163::/64 only.
set -u

SYNACK=${1:?usage: $0 path/to/synack}
SYNACK=$(readlink -f "$SYNACK")
ADDR=198.18.0.1
PEER=198.18.0.2
ADDR6=fd53:796e:6163::1
PEER6=fd53:796e:6163::2
STEP_TIMEOUT_FROM_ENV=${STEP_TIMEOUT:+1}
STEP_TIMEOUT=${STEP_TIMEOUT:-60}
PIDS=()
NS=""
OWN_NS=0
WORK=""

skip() {
  echo "SKIP: $*"
  exit 77
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do
    # Bounded: a process that ignores TERM for 3 s is killed.
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [ "$OWN_NS" = 1 ] && [ -n "$NS" ]; then ip netns delete "$NS" 2>/dev/null; fi
  [ -n "$WORK" ] && rm -rf "$WORK"
}

# interop_setup NAME [--no-netns]: checks the prerequisites, makes $WORK and (unless told not
# to) the namespace $NS, and arms the cleanup.
interop_setup() {
  [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] || skip "needs root and /dev/net/tun"
  command -v ip >/dev/null || skip "needs root and /dev/net/tun (and iproute2's ip)"
  NS="synack-it-$1-$$"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  WORK=$(mktemp -d)
  if [ "${2:-}" != --no-netns ]; then
    ip netns add "$NS" 2>/dev/null || skip "needs root and /dev/net/tun (cannot create a network namespace)"
    OWN_NS=1
    ip -n "$NS" link set lo up
  fi
}

need() {
  local tool
  for tool in "$@"; do command -v "$tool" >/dev/null || skip "needs $tool"; done
}

in_ns() {
  timeout "$STEP_TIMEOUT" ip netns exec "$NS" "$@"
}

# start_serve ARGS...: runs `synack serve --netns $NS ARGS` in the background; $SERVE_PID,
# its output in $WORK/serve.out and $WORK/serve.err.
start_serve() {
  "$SYNACK" serve --netns "$NS" "$@" >"$WORK/serve.out" 2>"$WORK/serve.err" &
  SERVE_PID=$!
  PIDS+=("$SERVE_PID")
  for _ in $(seq 100); do
    grep -q "listening on" "$WORK/serve.out" 2>/dev/null && { cat "$WORK/serve.out"; return 0; }
    kill -0 "$SERVE_PID" 2>/dev/null || { cat "$WORK/serve.err" >&2; fail "synack serve exited"; }
    sleep 0.1
  done
  fail "synack serve not ready after 10 s"
}

# stop_serve: SIGTERM, and the exit status must come within 5 s and be 0.
stop_serve() {
  kill -TERM "$SERVE_PID"
  local status=
  for _ in $(seq 50); do
    if ! kill -0 "$SERVE_PID" 2>/dev/null; then
      wait "$SERVE_PID"
      status=$?
      break
    fi
    sleep 0.1
  done
  [ -n "$status" ] || fail "synack serve still running 5 s after SIGTERM"
  [ "$status" = 0 ] || { cat "$WORK/serve.err" >&2; fail "synack serve exited with $status"; }
  echo "synack serve stopped cleanly"
}

# The bytes GET /bytes/N returns: byte i is i mod 251.
pattern_sha256() {
  python3 -c "
import hashlib, sys
n = int(sys.argv[1]); block = bytes(i % 251 for i in range(251)) * 4096
h = hashlib.sha256(); done = 0
while done < n:
    take = min(len(block), n - done)  # len(block) is a multiple of 251: the pattern restarts
    h.update(block[:take]); done += take
print(h.hexdigest())" "$1"
}

# check_capture FILE [FILTER]: tshark must find no malformed packet and no bad IPv4, TCP, UDP,
# ICMP or ICMPv6 checksum in FILE (checksum validation on; with FILTER, only among the packets
# it matches — for tests that send bad packets on purpose); prints how many packets carry each
# tcp.analysis flag. TCP reassembly is off: large transfers stay fast to dissect; payloads are
# not dissected.
check_capture() {
  local file=$1 only=${2:-frame} bad
  need tshark
  [ -s "$file" ] || fail "capture $file is missing or empty"
  # TCP payloads are decoded as plain data: without reassembly, HTTP and heuristic dissectors
  # (Q.931...) take pieces of random bodies for malformed messages of their own.
  local opts=(-n -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE
              -o tcp.desegment_tcp_streams:FALSE -o tcp.analyze_sequence_numbers:TRUE
              -d tcp.port==1-65535,data)
  # A TCP checksum of 0xffff where 0x0000 was computed is no error: in one's complement they
  # are the same number (RFC 1624 §3), and Linux writes 0xffff when it completes a checksum in
  # software (CSUM_MANGLED_0, e.g. forwarding to a TUN without offloads). tshark marks it bad.
  bad=$(timeout "$STEP_TIMEOUT" tshark -r "$file" "${opts[@]}" -Y "($only) && (_ws.malformed ||
        ip.checksum.status == 0 || (tcp.checksum.status == 0 && tcp.checksum != 0xffff) ||
        udp.checksum.status == 0 ||
        icmp.checksum.status == 0 || icmpv6.checksum.status == 0)" 2>"$WORK/tshark.err") ||
    { cat "$WORK/tshark.err" >&2; fail "tshark could not read $file"; }
  if [ -n "$bad" ]; then
    echo "$bad" | head -20 >&2
    # The reasons, for the log: tshark's expert messages for those frames.
    local frames
    frames=$(echo "$bad" | awk '{ printf "%sframe.number == %s", (NR > 1 ? " || " : ""), $1 } NR == 20 { exit }')
    tshark -r "$file" "${opts[@]}" -Y "$frames" -T fields -e frame.number -e frame.len -e tcp.checksum \
      -e _ws.expert.message 2>/dev/null | sed 's/^/  expert: /' >&2
    fail "$(basename "$file"): malformed packets or bad checksums"
  fi
  local flags=(retransmission fast_retransmission spurious_retransmission out_of_order lost_segment
               ack_lost_segment duplicate_ack zero_window zero_window_probe window_full
               window_update keep_alive reused_ports)
  local fields=() flag
  for flag in "${flags[@]}"; do fields+=(-e "tcp.analysis.$flag"); done
  timeout "$STEP_TIMEOUT" tshark -r "$file" "${opts[@]}" -T fields -E separator=/t \
      -e frame.number "${fields[@]}" 2>/dev/null >"$WORK/analysis.tsv" ||
    fail "tshark could not read $file"
  [ -s "$WORK/analysis.tsv" ] || fail "capture $file holds no packets"
  awk -F'\t' -v names="${flags[*]}" -v file="$(basename "$file")" '
      { for (i = 2; i <= NF; i++) if ($i != "") n[i - 1]++ }
      END { split(names, name, " "); line = ""
            for (i = 1; i <= length(name); i++) if (n[i]) line = line " " name[i] "=" n[i]
            print file ": " NR " packets, tshark-clean (no malformed packets, no bad checksums);" \
                  " tcp.analysis:" (line == "" ? " none" : line) }' "$WORK/analysis.tsv"
}

# --- synack run: CMD in a namespace synack makes, servers on the host's loopback ------------
# (interop_setup NAME --no-netns: `synack run` makes CMD's namespace itself.)
#
#   host_py NAME SCRIPT ARGS...   python3 SCRIPT on the host, in the background; it must print
#                                 "PORT n" first (it binds 127.0.0.1:0): $HOST_PORT, $HOST_PID,
#                                 the rest of its output in $WORK/NAME.out
#   synack_run ARGS...            synack run ARGS, bounded by $STEP_TIMEOUT (TERM, then KILL)
host_py() {
  local name=$1 script=$2
  shift 2
  python3 -u "$script" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  HOST_PID=$!
  PIDS+=("$HOST_PID")
  for _ in $(seq 100); do
    HOST_PORT=$(awk '$1 == "PORT" { print $2; exit }' "$WORK/$name.out" 2>/dev/null)
    [ -n "$HOST_PORT" ] && return 0
    kill -0 "$HOST_PID" 2>/dev/null || { cat "$WORK/$name.err" >&2; fail "host server $name exited"; }
    sleep 0.1
  done
  fail "host server $name printed no PORT line within 10 s"
}

synack_run() {
  timeout -k 5 "$STEP_TIMEOUT" "$SYNACK" run "$@"
}

# free_port [tcp|udp]: a port on 127.0.0.1 that nothing used when asked, drawn from 20000-32767,
# below the kernel's ephemeral range (32768-60999): the port is free again when the caller uses
# it, and a port the kernel hands to some connect() or sendto() meanwhile (this test's, or one
# running beside it) would be taken from that range, not from this one.
free_port() {
  python3 - "${1:-tcp}" <<'PY'
import random, socket, sys
kind = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
for _ in range(1000):
    port = random.randrange(20000, 32768)
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    sys.exit(0)
sys.exit("free_port: no free port in 20000-32767")
PY
}

# The memory tests bound synack's resident set. An ASan build (CI's) holds memory of its own:
# a quarantine of freed blocks (256 MB by default; turned off here, as it is not synack's
# memory) and shadow memory and allocator metadata, measured at 66-73 MB above the Release build
# with the quarantine off (syn_flood: 7 MB Release, 73 MB ASan; run_memory_budget: 72 MB
# Release, 145 MB ASan). sanitizer_rss_allowance_mb prints what those bounds add: 0 for Release.
SANITIZER_RSS_MB=0
if readelf -d "$SYNACK" 2>/dev/null | grep -q 'libasan'; then
  SANITIZER_RSS_MB=96
  # Twice the time for each step (an ASan build runs 2-5x slower), unless the caller chose it.
  [ -n "${STEP_TIMEOUT_FROM_ENV:-}" ] || STEP_TIMEOUT=$((STEP_TIMEOUT * 2))
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
fi
sanitizer_rss_allowance_mb() { echo "$SANITIZER_RSS_MB"; }
