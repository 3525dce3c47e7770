#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# 100 MB each way in both roles, byte-exact by SHA-256: the kernel's curl downloads from and
# uploads to `synack serve --http`; `synack connect` downloads from python3's http.server and
# uploads to a kernel `nc -l`; and a fifth of that each way with MTU 1500 and no offloads. The
# captures must be tshark-clean.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup transfer
need curl nc python3 sha256sum head cmp tshark

SIZE=${TRANSFER_BYTES:-100000000}
head -c "$SIZE" /dev/urandom >"$WORK/random.bin"
random_sha=$(sha256sum <"$WORK/random.bin" | cut -d' ' -f1)

# --- the kernel as client of synack serve -------------------------------------------------
start_serve --http 80 --pcap "$WORK/serve.pcap"
curl_ns() { in_ns curl -sS -f --max-time "$STEP_TIMEOUT" "$@"; }

started=$SECONDS
got=$(curl_ns "http://$ADDR/bytes/$SIZE" | sha256sum | cut -d' ' -f1)
[ "$got" = "$(pattern_sha256 "$SIZE")" ] || fail "curl GET /bytes/$SIZE: SHA-256 differs"
echo "kernel <- synack: $SIZE bytes, SHA-256 equal ($((SECONDS - started)) s)"

started=$SECONDS
got=$(curl_ns -T "$WORK/random.bin" "http://$ADDR/upload")
[ "$got" = "length=$SIZE sha256=$random_sha" ] || fail "curl PUT: server answered '$got'"
echo "kernel -> synack: $SIZE bytes, SHA-256 equal ($((SECONDS - started)) s)"
stop_serve
check_capture "$WORK/serve.pcap"
rm -f "$WORK/serve.pcap"

# The same on a plain TUN with Ethernet's MTU: no offloads, every segment at most 1460 bytes.
SMALL=$((SIZE / 5))
start_serve --http 80 --mtu 1500 --no-offload --pcap "$WORK/serve1500.pcap"
got=$(curl_ns "http://$ADDR/bytes/$SMALL" | sha256sum | cut -d' ' -f1)
[ "$got" = "$(pattern_sha256 "$SMALL")" ] || fail "MTU 1500: curl GET /bytes/$SMALL: SHA-256 differs"
head -c "$SMALL" "$WORK/random.bin" >"$WORK/small.bin"
got=$(curl_ns -T "$WORK/small.bin" "http://$ADDR/upload")
[ "$got" = "length=$SMALL sha256=$(sha256sum <"$WORK/small.bin" | cut -d' ' -f1)" ] ||
  fail "MTU 1500: curl PUT: server answered '$got'"
echo "MTU 1500, no offload: $SMALL bytes each way, SHA-256 equal"
stop_serve
check_capture "$WORK/serve1500.pcap"
big=$(tshark -r "$WORK/serve1500.pcap" -Y 'frame.len > 1500' 2>/dev/null | wc -l)
[ "$big" = 0 ] || fail "MTU 1500: $big packets longer than 1500 bytes in the capture"
rm -f "$WORK/serve1500.pcap" "$WORK/small.bin"

# --- synack connect as client of kernel servers -------------------------------------------
mkdir "$WORK/www"
ln "$WORK/random.bin" "$WORK/www/file.bin"
ip netns exec "$NS" python3 -m http.server --bind :: --directory "$WORK/www" 8000 \
  >"$WORK/http.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  in_ns python3 -c "import socket; socket.create_connection(('127.0.0.1', 8000), 1)" 2>/dev/null && break
  sleep 0.1
done

started=$SECONDS
printf 'GET /file.bin HTTP/1.0\r\n\r\n' |
  timeout "$STEP_TIMEOUT" "$SYNACK" connect --netns "$NS" --timeout 10 --pcap "$WORK/connect.pcap" \
    "$PEER" 8000 >"$WORK/response" || fail "synack connect (download) exited with $?"
python3 - "$WORK/response" "$WORK/got" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
head, sep, body = data.partition(b"\r\n\r\n")
assert sep and head.startswith(b"HTTP/1.0 200"), head[:100]
open(sys.argv[2], "wb").write(body)
PY
cmp "$WORK/random.bin" "$WORK/got" || fail "synack connect download: bytes differ"
echo "synack <- kernel http.server: $SIZE bytes, identical ($((SECONDS - started)) s)"
rm -f "$WORK/response" "$WORK/got"
check_capture "$WORK/connect.pcap"
rm -f "$WORK/connect.pcap"

# nc -l -d: no reading of its standard input; it exits when synack's FIN arrives.
timeout "$STEP_TIMEOUT" ip netns exec "$NS" nc -l -d 9000 >"$WORK/sink" &
SINK_PID=$!
PIDS+=("$SINK_PID")
for _ in $(seq 100); do
  in_ns ss -Hltn 'sport = :9000' | grep -q . && break
  sleep 0.1
done
started=$SECONDS
timeout "$STEP_TIMEOUT" "$SYNACK" connect --netns "$NS" --timeout 10 "$PEER" 9000 \
  <"$WORK/random.bin" >/dev/null || fail "synack connect (upload) exited with $?"
wait "$SINK_PID" || fail "nc -l exited with $?"
[ "$(sha256sum <"$WORK/sink" | cut -d' ' -f1)" = "$random_sha" ] ||
  fail "upload to nc -l: $(stat -c %s "$WORK/sink") bytes arrived, SHA-256 differs"
echo "synack -> kernel nc -l: $SIZE bytes, SHA-256 equal ($((SECONDS - started)) s)"

echo "PASS"
