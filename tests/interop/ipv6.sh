#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# IPv6 end to end (fd53:796e:6163::1 synack, ::2 the kernel): handshakes both ways, 20 MB each
# way byte-exact in both roles, the close ending in TIME-WAIT on the kernel's side, and the
# same at IPv6's minimum MTU (1280) without offloads. Every TCP packet in the captures must be
# IPv6, and tshark-clean.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup ipv6
need curl python3 sha256sum nc head cmp tshark ss

SIZE=${IPV6_BYTES:-20000000}
head -c "$SIZE" /dev/urandom >"$WORK/random.bin"
sha=$(sha256sum <"$WORK/random.bin" | cut -d' ' -f1)
curl_ns() { in_ns curl -sS -f -g --max-time "$STEP_TIMEOUT" "$@"; }

# only_ipv6 PCAP: no TCP over IPv4 in it.
only_ipv6() {
  local n
  n=$(tshark -r "$1" -n -Y "ip && tcp" 2>/dev/null | wc -l)
  [ "$n" = 0 ] || fail "$(basename "$1"): $n TCP packets over IPv4"
}

for setting in "65520" "1280 --no-offload"; do
  read -r mtu extra <<<"$setting"
  link=(--mtu "$mtu" ${extra:+"$extra"})
  echo "MTU $mtu ${extra:-(offload on)}:"

  # --- the kernel as client -------------------------------------------------------------------
  start_serve --echo 7 --http 80 "${link[@]}" --pcap "$WORK/serve.pcap"
  got=$(curl_ns "http://[$ADDR6]/bytes/$SIZE" | sha256sum | cut -d' ' -f1)
  [ "$got" = "$(pattern_sha256 "$SIZE")" ] || fail "GET /bytes/$SIZE over IPv6: SHA-256 differs"
  got=$(curl_ns -T "$WORK/random.bin" "http://[$ADDR6]/upload")
  [ "$got" = "length=$SIZE sha256=$sha" ] || fail "PUT over IPv6: '$got'"
  echo "  curl: $SIZE bytes each way, SHA-256 equal"
  head -c 1000000 "$WORK/random.bin" | in_ns nc -N "$ADDR6" 7 >"$WORK/echoed" || fail "nc -6 to echo"
  cmp <(head -c 1000000 "$WORK/random.bin") "$WORK/echoed" || fail "echo over IPv6 differs"
  port=$(in_ns python3 -c "
import socket, sys
s = socket.create_connection(('$ADDR6', 7), timeout=10)
s.sendall(b'x'); assert s.recv(1) == b'x'
print(s.getsockname()[1]); s.close()") || fail "echo client"
  for _ in $(seq 100); do
    [ -n "$(in_ns ss -Htan6 state time-wait "sport = :$port")" ] && break
    sleep 0.1
  done
  [ -n "$(in_ns ss -Htan6 state time-wait "sport = :$port")" ] || fail "the kernel's IPv6 socket not in TIME-WAIT"
  echo "  nc -6 echo: identical; the kernel closed first and is in TIME-WAIT"
  stop_serve
  only_ipv6 "$WORK/serve.pcap"
  check_capture "$WORK/serve.pcap"

  # --- synack as client -----------------------------------------------------------------------
  mkdir -p "$WORK/www"
  ln -f "$WORK/random.bin" "$WORK/www/file.bin"
  ip netns exec "$NS" python3 -m http.server --bind :: --directory "$WORK/www" 8000 >/dev/null 2>&1 &
  HTTP_PID=$!
  PIDS+=("$HTTP_PID")
  timeout "$STEP_TIMEOUT" ip netns exec "$NS" nc -6 -l -d 9000 >"$WORK/sink" &
  SINK_PID=$!
  PIDS+=("$SINK_PID")
  for _ in $(seq 100); do
    [ "$(in_ns ss -Hltn '( sport = :8000 or sport = :9000 )' | wc -l)" = 2 ] && break
    sleep 0.1
  done
  printf 'GET /file.bin HTTP/1.0\r\n\r\n' |
    timeout "$STEP_TIMEOUT" "$SYNACK" connect --netns "$NS" --timeout 10 "${link[@]}" \
      --pcap "$WORK/get.pcap" "$PEER6" 8000 >"$WORK/response" || fail "synack connect GET: exit status $?"
  tail -c "$SIZE" "$WORK/response" | cmp - "$WORK/random.bin" || fail "synack connect GET over IPv6: bytes differ"
  timeout "$STEP_TIMEOUT" "$SYNACK" connect --netns "$NS" --timeout 10 "${link[@]}" \
    --pcap "$WORK/put.pcap" "$PEER6" 9000 <"$WORK/random.bin" >/dev/null || fail "synack connect upload: exit status $?"
  wait "$SINK_PID" || fail "nc -6 -l exited with $?"
  [ "$(sha256sum <"$WORK/sink" | cut -d' ' -f1)" = "$sha" ] || fail "upload over IPv6: SHA-256 differs"
  echo "  synack connect: $SIZE bytes from http.server identical, $SIZE bytes to nc -6 -l SHA-256 equal"
  kill "$HTTP_PID"
  wait "$HTTP_PID" 2>/dev/null
  for pcap in get put; do
    only_ipv6 "$WORK/$pcap.pcap"
    check_capture "$WORK/$pcap.pcap"
  done
  rm -f "$WORK"/*.pcap "$WORK/response" "$WORK/sink"
done

echo "PASS"
