#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# synack run's TCP relay carrying bulk data: curl inside `synack run --allow-host-loopback`
# downloads 64 MB from and uploads 64 MB to a python3 HTTP server on the host's 127.0.0.1
# (reached through the gateway 198.18.0.1), byte-exact by SHA-256; then the same at MTU 1500
# without offloads, and over IPv6 (the gateway fd53:796e:6163::1 to a server on the host's
# ::1). --stats must account for every byte in relay_bytes_to_host/_to_guest. And a host server
# that never reads makes CMD's sends block (a closed window), with synack's memory bounded.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup run_transfer --no-netns
need python3 curl sha256sum head
HERE=$(dirname "$(readlink -f "$0")")

SIZE=${TRANSFER_BYTES:-67108864}
head -c "$SIZE" /dev/urandom >"$WORK/random.bin"
random_sha=$(sha256sum <"$WORK/random.bin" | cut -d' ' -f1)
pattern_sha=$(pattern_sha256 "$SIZE")
host_py http "$HERE/host_server.py" http
URL="http://$ADDR:$HOST_PORT"

# transfer NAME URL [NET OPTIONS...]: one download and one upload in a single synack run.
transfer() {
  local name=$1 url=$2 started=$SECONDS status
  shift 2
  synack_run --allow-host-loopback --stats "$@" -- sh -c '
      set -e
      curl -sS -f -g --max-time 40 "$1/bytes/$2" | sha256sum | cut -d" " -f1
      curl -sS -f -g --max-time 40 -T "$3" "$1/upload"; echo' sh "$url" "$SIZE" "$WORK/random.bin" \
    >"$WORK/$name.out" 2>"$WORK/$name.stats"
  status=$?
  [ "$status" = 0 ] || { cat "$WORK/$name.out" "$WORK/$name.stats" >&2; fail "$name: synack run exited $status"; }
  [ "$(sed -n 1p "$WORK/$name.out")" = "$pattern_sha" ] ||
    { cat "$WORK/$name.out" >&2; fail "$name: download of $SIZE bytes: SHA-256 differs"; }
  [ "$(sed -n 2p "$WORK/$name.out")" = "length=$SIZE sha256=$random_sha" ] ||
    { cat "$WORK/$name.out" >&2; fail "$name: upload: the host server got '$(sed -n 2p "$WORK/$name.out")'"; }
  local to_host to_guest
  to_host=$(awk '$1 == "relay_bytes_to_host" { print $2 }' "$WORK/$name.stats")
  to_guest=$(awk '$1 == "relay_bytes_to_guest" { print $2 }' "$WORK/$name.stats")
  [ "${to_host:-0}" -ge "$SIZE" ] && [ "${to_guest:-0}" -ge "$SIZE" ] ||
    { cat "$WORK/$name.stats" >&2; fail "$name: --stats relay_bytes_to_host=$to_host relay_bytes_to_guest=$to_guest, want >= $SIZE each"; }
  echo "$name: $SIZE bytes down and up through the relay, SHA-256 equal;" \
       "relay_bytes_to_guest=$to_guest relay_bytes_to_host=$to_host ($((SECONDS - started)) s)"
}
transfer default "$URL"
transfer mtu1500 "$URL" --mtu 1500 --no-offload
# IPv6: the gateway's IPv6 address leads to the host's ::1.
host_py http6 "$HERE/host_server.py" http ::1 0
transfer ipv6 "http://[$ADDR6]:$HOST_PORT"
# Back-pressure: a host server that never reads. CMD's sends must block after a bounded amount
# (synack's window closes once the host socket takes no more) and synack run's memory must not
# grow with what CMD offers. (CMD's parent is synack run: no PID namespace.)
host_py hold "$HERE/host_server.py" hold
synack_run --allow-host-loopback -- python3 -c '
import os, socket, sys, time
def rss():
    for line in open(f"/proc/{os.getppid()}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
before = rss()
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.setblocking(False)
block, sent, last, t0 = b"z" * 65536, 0, time.monotonic(), time.monotonic()
while time.monotonic() - last < 3 and time.monotonic() - t0 < 30:  # until 3 s without progress
    try:
        sent += s.send(block)
        last = time.monotonic()
    except BlockingIOError:
        time.sleep(0.01)
after = rss()
print(f"host never reads: CMD blocked after {sent / 1e6:.1f} MB; synack run RSS {before} -> {after} kB")
assert time.monotonic() - t0 < 30, f"still sending after 30 s: {sent} bytes taken"
assert sent < 256 << 20, f"{sent} bytes taken before the window closed"
assert after - before < 131072, f"synack run RSS grew by {after - before} kB"
' "$ADDR" "$HOST_PORT" || fail "back-pressure: a host server that never reads must close the window"
echo "PASS"
