#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ICMP echo beyond the gateway: synack run relays a ping from its namespace through an
# unprivileged ping socket (SOCK_DGRAM, IPPROTO_ICMP / IPPROTO_ICMPV6) on the host, when the
# host's net.ipv4.ping_group_range allows it, and counts it (relay_ping_unavailable) and says
# so once on stderr when not. Everything happens in namespaces this test makes: "outer" plays
# the host (synack run runs there, with its own ping_group_range), "far" is the destination,
# joined to outer by a veth pair (198.19.1.1 - 198.19.1.2, fd53:796e:6163:99::1 - ::2).
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup run_ping_beyond
need ping
FAR="synack-it-far-$$"
ip netns add "$FAR" || skip "cannot create a second network namespace"
trap 'ip netns delete "$FAR" 2>/dev/null; cleanup' EXIT
ip -n "$FAR" link set lo up
ip link add "sy-pb$$" netns "$NS" type veth peer name "sy-pf$$" netns "$FAR" ||
  skip "cannot create a veth pair"
ip -n "$NS" link set "sy-pb$$" up
ip -n "$FAR" link set "sy-pf$$" up
ip -n "$NS" addr add 198.19.1.1/24 dev "sy-pb$$"
ip -n "$FAR" addr add 198.19.1.2/24 dev "sy-pf$$"
ip -n "$NS" addr add fd53:796e:6163:99::1/64 dev "sy-pb$$" nodad
ip -n "$FAR" addr add fd53:796e:6163:99::2/64 dev "sy-pf$$" nodad

# Allowed: root's group 0 may open ping sockets in "outer".
ip netns exec "$NS" sysctl -qw net.ipv4.ping_group_range="0 0"
timeout -k 5 "$STEP_TIMEOUT" ip netns exec "$NS" "$SYNACK" run --stats -- sh -c '
    ping -c 3 -i 0.2 -w 20 198.19.1.2 && ping -6 -c 3 -i 0.2 -w 20 fd53:796e:6163:99::2' \
  >"$WORK/ping.out" 2>"$WORK/ping.err" ||
  { cat "$WORK/ping.out" "$WORK/ping.err" >&2; fail "ping beyond the gateway with ping sockets allowed"; }
[ "$(grep -c ' 0% packet loss' "$WORK/ping.out")" = 2 ] || { cat "$WORK/ping.out" >&2; fail "ping: replies missing"; }
grep -E "^(rtt|round-trip)" "$WORK/ping.out"
req=$(awk '$1 == "relay_ping_requests" { print $2 }' "$WORK/ping.err")
rep=$(awk '$1 == "relay_ping_replies" { print $2 }' "$WORK/ping.err")
[ "${req:-0}" -ge 6 ] && [ "${rep:-0}" -ge 6 ] ||
  { cat "$WORK/ping.err" >&2; fail "--stats: relay_ping_requests=$req relay_ping_replies=$rep, want >= 6 each"; }
echo "ping 198.19.1.2 and fd53:796e:6163:99::2 from synack run: 6 replies; relay_ping_requests=$req relay_ping_replies=$rep"

# Forbidden (the kernel's default "1 0"): no reply, a counter, one message naming the sysctl.
ip netns exec "$NS" sysctl -qw net.ipv4.ping_group_range="1 0"
timeout -k 5 "$STEP_TIMEOUT" ip netns exec "$NS" "$SYNACK" run --stats -- \
  ping -c 2 -i 0.2 -W 1 198.19.1.2 >"$WORK/noping.out" 2>"$WORK/noping.err" &&
  fail "ping succeeded with ping sockets forbidden"
n=$(awk '$1 == "relay_ping_unavailable" { print $2 }' "$WORK/noping.err")
[ "${n:-0}" -ge 2 ] || { cat "$WORK/noping.err" >&2; fail "--stats: relay_ping_unavailable=$n, want >= 2"; }
[ "$(grep -c 'ping_group_range' "$WORK/noping.err")" = 1 ] ||
  { cat "$WORK/noping.err" >&2; fail "want exactly one message naming net.ipv4.ping_group_range"; }
grep 'ping_group_range' "$WORK/noping.err"
echo "ping sockets forbidden: relay_ping_unavailable=$n, told once"
echo "PASS"
