#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Loss recovery with the kernel as peer: 2 % of the TCP packets between synack and the kernel
# are lost and 20 MB must still arrive byte-exact each way (curl GET and PUT against synack
# serve, and synack connect uploading to a kernel nc -l), at MTU 1500 without offloads so there
# are many segments to lose; synack's counters must show the recovery at work.
#
# The loss must be invisible to the kernel's TCP: a packet the kernel drops in its own output
# path (nftables output hook, tc actions) is reported back to TCP, which simply sends it again,
# so nothing is lost on the wire. So the kernel's endpoint lives in a second namespace
# ($HOST_NS, 198.19.0.2 on a veth pair) and the namespace holding the TUN routes between them:
# netem on both veth ends when sch_netem is available, else nftables drops 2 % at random in
# the router's forward hook, each direction.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup loss
need curl python3 sha256sum nc head tshark ss

SIZE=${LOSS_BYTES:-20000000}
LINK=(--mtu 1500 --no-offload)
HOST=198.19.0.2
HOST_NS="$NS-host"
ip netns add "$HOST_NS" || fail "cannot create namespace $HOST_NS"
trap 'cleanup; ip netns delete "$HOST_NS" 2>/dev/null' EXIT
ip -n "$HOST_NS" link set lo up
ip -n "$NS" link add vr type veth peer name vh netns "$HOST_NS" || skip "needs veth"
ip -n "$NS" addr add 198.19.0.1/24 dev vr
ip -n "$NS" link set vr up
ip -n "$HOST_NS" addr add "$HOST/24" dev vh
ip -n "$HOST_NS" link set vh up
# One drop takes one segment: the kernel's TSO would otherwise cross the veth (and the router's
# drop) as 64 KB super-packets, about 300 for the upload; when synack's window holds one at a
# time each lost one is the flight's tail, and synack, receiving, sees nothing out of order
# (the check below failed so once in CI under ASan, where synack reads slowest).
ip -n "$HOST_NS" link set dev vh gso_max_segs 1 || fail "cannot limit vh to one segment per packet"
ip -n "$HOST_NS" route add 198.18.0.0/24 via 198.19.0.1
in_ns sysctl -qw net.ipv4.ip_forward=1
in_host() { timeout "$STEP_TIMEOUT" ip netns exec "$HOST_NS" "$@"; }

if in_ns tc qdisc add dev vr root netem loss 2% 2>/dev/null &&
   in_host tc qdisc add dev vh root netem loss 2%; then
  LOSS="netem loss 2% on both ends of the veth"
else
  echo "sch_netem unavailable: dropping with nftables instead"
  in_ns nft -f - <<'NFT' || fail "nft"
table inet synack_loss {
  chain forward {
    type filter hook forward priority 0;
    meta l4proto tcp numgen random mod 100 < 2 counter drop
  }
}
NFT
  LOSS="nftables: 2% of forwarded TCP packets dropped, each way"
fi
echo "loss: $LOSS"

# counter FILE NAME: a counter from synack's --stats output or `synack stats`.
counter() { awk -v n="$2" '$1 == n { print $2 }' "$1" | head -1; }

# --- the kernel's curl against synack serve ---------------------------------------------------
start_serve --http 80 "${LINK[@]}" --pcap "$WORK/serve.pcap"
curl_host() { in_host curl -sS -f --max-time "$STEP_TIMEOUT" "$@"; }
started=$SECONDS
got=$(curl_host "http://$ADDR/bytes/$SIZE" | sha256sum | cut -d' ' -f1)
[ "$got" = "$(pattern_sha256 "$SIZE")" ] || fail "GET /bytes/$SIZE under loss: SHA-256 differs"
echo "kernel <- synack: $SIZE bytes, SHA-256 equal ($((SECONDS - started)) s)"
head -c "$SIZE" /dev/urandom >"$WORK/random.bin"
sha=$(sha256sum <"$WORK/random.bin" | cut -d' ' -f1)
started=$SECONDS
got=$(curl_host -T "$WORK/random.bin" "http://$ADDR/upload")
[ "$got" = "length=$SIZE sha256=$sha" ] || fail "PUT under loss: server answered '$got'"
echo "kernel -> synack: $SIZE bytes, SHA-256 equal ($((SECONDS - started)) s)"
timeout 10 "$SYNACK" stats --pid "$SERVE_PID" >"$WORK/stats" || fail "synack stats"
stop_serve
grep -E '^(tcp_retransmitted_segments|tcp_fast_retransmits|tcp_sack_recovered_bytes|tcp_rto_expirations|tcp_dup_acks|tcp_out_of_order_segments) ' \
  "$WORK/stats" | awk '{ printf "  synack serve: %s %s\n", $1, $2 }'
[ "$(counter "$WORK/stats" tcp_out_of_order_segments)" -gt 0 ] 2>/dev/null ||
  fail "synack stored no segment out of order: did the kernel lose nothing?"
[ "$(counter "$WORK/stats" tcp_retransmitted_segments)" -gt 0 ] 2>/dev/null || fail "synack retransmitted nothing"
[ "$(counter "$WORK/stats" tcp_sack_recovered_bytes)" -gt 0 ] 2>/dev/null || fail "no SACK-based recovery"
check_capture "$WORK/serve.pcap"
rm -f "$WORK/serve.pcap"

# --- synack connect uploads to the kernel ------------------------------------------------------
timeout "$STEP_TIMEOUT" ip netns exec "$HOST_NS" nc -l -d 9000 >"$WORK/sink" &
SINK_PID=$!
PIDS+=("$SINK_PID")
for _ in $(seq 100); do
  in_host ss -Hltn 'sport = :9000' | grep -q . && break
  sleep 0.1
done
started=$SECONDS
timeout "$STEP_TIMEOUT" "$SYNACK" connect --netns "$NS" --timeout 10 "${LINK[@]}" --stats \
    --pcap "$WORK/connect.pcap" "$HOST" 9000 <"$WORK/random.bin" >/dev/null 2>"$WORK/connect.err" ||
  { cat "$WORK/connect.err" >&2; fail "synack connect under loss: exit status $?"; }
wait "$SINK_PID" || fail "nc -l exited with $?"
[ "$(sha256sum <"$WORK/sink" | cut -d' ' -f1)" = "$sha" ] ||
  fail "upload under loss: $(stat -c %s "$WORK/sink") bytes arrived, SHA-256 differs"
echo "synack -> kernel nc -l: $SIZE bytes, SHA-256 equal ($((SECONDS - started)) s)"
grep -E '^(tcp_retransmitted_segments|tcp_fast_retransmits|tcp_sack_recovered_bytes|tcp_rto_expirations|tcp_dup_acks) ' \
  "$WORK/connect.err" | awk '{ printf "  synack connect: %s %s\n", $1, $2 }'
[ "$(counter "$WORK/connect.err" tcp_retransmitted_segments)" -gt 0 ] 2>/dev/null ||
  fail "synack connect retransmitted nothing: was anything lost?"
check_capture "$WORK/connect.pcap"
in_ns nft list table inet synack_loss 2>/dev/null | grep -o 'counter packets [0-9]*' | sed 's/^/nftables: /;s/$/ dropped/'

echo "PASS"
