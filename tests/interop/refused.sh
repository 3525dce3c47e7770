#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Connections refused, both ways. The kernel connects to a port synack serve does not serve:
# synack's RST makes connect() fail with ECONNREFUSED (IPv4 and IPv6). synack connect to a port
# the kernel does not serve: exit status 2 and "connection refused" — by the kernel's RST, and
# by an ICMP port unreachable from an nftables reject rule; an ICMP "administratively
# prohibited" (a hard error) gives exit status 5 "destination unreachable"; host unreachable is
# a soft error (RFC 1122 §4.2.3.9): synack keeps trying and --timeout ends it, exit status 4.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup refused
need python3 tshark nft

# --- the kernel is refused by synack ---------------------------------------------------------
start_serve --http 80 --pcap "$WORK/serve.pcap"
in_ns python3 - "$ADDR" "$ADDR6" <<'PY' || fail "the kernel's connect to a closed synack port"
import errno, socket, sys
for address in sys.argv[1:]:
    s = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
    s.settimeout(10)
    try:
        s.connect((address, 81))
        sys.exit(f"{address} port 81: connected?")
    except socket.timeout:
        sys.exit(f"{address} port 81: timed out, no RST")
    except OSError as e:
        assert e.errno == errno.ECONNREFUSED, f"{address} port 81: {e}"
    print(f"kernel connect to {address} port 81: ECONNREFUSED")
PY
timeout 10 "$SYNACK" stats --pid "$SERVE_PID" >"$WORK/stats"
rsts=$(awk '$1 == "tcp_rst_closed_port" { print $2 }' "$WORK/stats")
[ "${rsts:-0}" -ge 2 ] || fail "synack stats: tcp_rst_closed_port '${rsts}', want >= 2"
echo "synack stats: tcp_rst_closed_port = $rsts"
# curl still works: nothing else was disturbed.
in_ns curl -sS -f --max-time 10 "http://$ADDR/" | grep -q "Hello from synack" || fail "GET / after the refusals"
stop_serve
n=$(tshark -r "$WORK/serve.pcap" -n -Y "ip.src == $ADDR && tcp.srcport == 81 && tcp.flags.reset == 1 ||
    ipv6.src == $ADDR6 && tcp.srcport == 81 && tcp.flags.reset == 1" 2>/dev/null | wc -l)
[ "$n" = 2 ] || fail "capture: $n RSTs from port 81, want 2"
check_capture "$WORK/serve.pcap"

# --- synack connect is refused by the kernel -------------------------------------------------
# refused_by HOST PORT WANT_STATUS WANT_MESSAGE [TIMEOUT]
refused_by() {
  local status
  timeout "$STEP_TIMEOUT" "$SYNACK" connect --netns "$NS" --timeout "${5:-10}" --pcap "$WORK/connect.pcap" \
    "$1" "$2" </dev/null >/dev/null 2>"$WORK/connect.err"
  status=$?
  [ "$status" = "$3" ] || { cat "$WORK/connect.err" >&2; fail "synack connect $1 $2: exit status $status, want $3"; }
  grep -q "$4" "$WORK/connect.err" || fail "synack connect $1 $2: message '$(cat "$WORK/connect.err")', want '$4'"
  echo "synack connect $1 $2: exit status $status, '$(cat "$WORK/connect.err")'"
  tshark -r "$WORK/connect.pcap" -n -Y "!icmpv6.type == 133" 2>/dev/null | sed 's/^/    /'  # no router solicitations
  check_capture "$WORK/connect.pcap"
}
refused_by "$PEER" 9 2 "connection refused"
refused_by "$PEER6" 9 2 "connection refused"

# nftables in the namespace answers SYNs with ICMP errors instead of RSTs.
in_ns nft -f - <<'NFT' || fail "nft"
table inet synack_refused {
  chain input {
    type filter hook input priority 0;
    tcp dport 9998 reject with icmpx type port-unreachable
    tcp dport 9997 reject with icmpx type admin-prohibited
    tcp dport 9996 reject with icmpx type host-unreachable
  }
}
NFT
refused_by "$PEER" 9998 2 "connection refused"
refused_by "$PEER6" 9998 2 "connection refused"
refused_by "$PEER" 9997 5 "destination unreachable"
refused_by "$PEER6" 9997 5 "destination unreachable"
refused_by "$PEER" 9996 4 "timed out" 2
refused_by "$PEER6" 9996 4 "timed out" 2

echo "PASS"
