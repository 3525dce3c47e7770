#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs one packetdrill script against the Linux kernel or against synack.
#
# usage: run.sh linux|synack|synack-rfc SCRIPT.pkt PACKETDRILL [SHIM.so]
#   linux       packetdrill's TUN mode, in a fresh network namespace made and deleted here
#   synack      through libsynack_packetdrill.so with the linux profile
#   synack-rfc  the same with the rfc profile
#
# A script may carry, in its first lines:
#   // flags: ARGS        extra packetdrill arguments (e.g. --ip_version=ipv6 ...)
#   // profile: rfc       the script states the rfc profile's behaviour: not run on Linux
#                         or with the linux profile (and the reverse for "profile: linux")
#   // sysctl: KEY=VALUE  set in the namespace before a Linux run (one per line), to turn
#                         off a Linux mechanism the script is not about (say so in the script);
#                         net.ipv4.tcp_early_retrans=0 (no tail loss probe) turns synack's off
#                         too (the shim's tail_loss_probe=0)
# Exit 77 (skip) without root, without packetdrill, or where a script is not for this mode.
set -u
mode=${1:?mode}
script=${2:?script}
pd=${3:?packetdrill}
shim=${4:-}

skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "packetdrill needs root (mlockall, TUN, namespaces)"
[ -x "$pd" ] || skip "packetdrill was not built ($pd missing): see tests/packetdrill/README.md"
[ -f "$script" ] || { echo "no such script: $script"; exit 1; }

flags=$(sed -n 's|^// flags: *||p' "$script" | head -1)
profile=$(sed -n 's|^// profile: *||p' "$script" | head -1)
case "$mode" in
  linux | synack) [ -z "$profile" ] || [ "$profile" = linux ] ||
    skip "script states the $profile profile's behaviour" ;;
  synack-rfc) [ "$profile" = rfc ] || [ -z "$profile" ] || skip "script is for the $profile profile" ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac

# IPv4 by default; a script asks for IPv6 through its flags line.
local4=192.168.0.1
remote4=192.0.2.1
local6=fd3d:fa7b:d17d::1
remote6=2001:db8::1
args=(--tolerance_usecs=25000)
mtu=1500
case "$flags" in
  *ipv6*) mtu=1520; args+=(--local_ip=$local6 --remote_ip=$remote6 --mtu=$mtu) ;;
  *) args+=(--local_ip=$local4 --remote_ip=$remote4) ;;
esac
# shellcheck disable=SC2206  # the flags line is word-split on purpose
args+=($flags)

case "$mode" in
  linux)
    ns="synack-pd-$$-$RANDOM"
    ip netns add "$ns" || skip "cannot create a network namespace"
    trap 'ip netns del "$ns" 2>/dev/null' EXIT
    ip netns exec "$ns" ip link set lo up
    while read -r kv; do
      ip netns exec "$ns" sysctl -q -w "$kv" || { echo "sysctl $kv failed"; exit 1; }
    done < <(sed -n 's|^// sysctl: *||p' "$script")
    timeout 600 ip netns exec "$ns" "$pd" "${args[@]}" "$script"
    rc=$?
    ;;
  synack | synack-rfc)
    [ -n "$shim" ] && [ -f "$shim" ] || skip "the shim was not built (${shim:-none}): make packetdrill-shim (not in ASan builds: RTLD_DEEPBIND)"
    prof=linux
    [ "$mode" = synack-rfc ] && prof=rfc
    extra=
    grep -q '^// sysctl: *net.ipv4.tcp_early_retrans=0' "$script" && extra=,tail_loss_probe=0
    timeout 600 "$pd" "${args[@]}" --so_filename="$shim" \
      --so_flags="profile=$prof,local_ip=$local4,local_ip6=$local6,mtu=$mtu$extra" "$script"
    rc=$?
    ;;
esac
[ $rc -eq 0 ] && echo "PASS: $mode $(basename "$script")" || echo "FAIL($rc): $mode $(basename "$script")"
exit $rc
