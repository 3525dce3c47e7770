#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# TCP options negotiated with the kernel, read from synack's captures by tshark: both SYNs of
# every connection carry MSS, window scale, SACK-permitted and timestamps, with synack active
# (synack connect to python3's http.server) and passive (curl to synack serve), IPv4 and IPv6;
# afterwards every segment carries timestamps and windows are scaled by the shifts announced.
# With --mtu 1500 and no offloads, each side's MSS fits the MTU and no segment exceeds the MSS
# the other side announced.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup options
need python3 curl tshark ss

# check_options PCAP MTU OFFLOAD ACTIVE: one line per connection, or fail.
check_options() {
  tshark -r "$1" -n -Y tcp -T fields -E separator=/t -e tcp.stream -e ip.src -e ipv6.src \
      -e tcp.flags.syn -e tcp.flags.ack -e tcp.flags.reset -e tcp.option_kind -e tcp.options.mss_val \
      -e tcp.options.wscale.shift -e tcp.options.timestamp.tsval -e tcp.len -e tcp.window_size_value \
      -e tcp.window_size_scalefactor 2>/dev/null >"$WORK/options.tsv"
  python3 - "$WORK/options.tsv" "$ADDR" "$ADDR6" "$2" "$3" "$4" <<'PY' || fail "$(basename "$1"): options"
import collections, sys
path, ours4, ours6, mtu, offload, active = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "on", sys.argv[6] == "active"
streams = collections.defaultdict(list)
for line in open(path):
    f = line.rstrip("\n").split("\t")
    stream, src4, src6, syn, ack, rst, kinds, mss, shift, tsval, length, win, scale = f
    ours = src4 == ours4 or src6 == ours6
    streams[stream].append(dict(ours=ours, v6=bool(src6), syn=syn == "1", ack=ack == "1", rst=rst == "1",
        kinds={int(k) for k in kinds.split(",") if k}, mss=int(mss or 0), shift=shift,
        ts=bool(tsval), len=int(length), win=int(win or 0), scale=scale))
assert streams, "no TCP in the capture"
NAMES = {2: "mss", 3: "wscale", 4: "sackOK", 8: "timestamps"}
for stream, segs in streams.items():
    syn = [s for s in segs if s["syn"] and not s["ack"]]
    synack = [s for s in segs if s["syn"] and s["ack"]]
    assert syn and synack, f"stream {stream}: no SYN or no SYN,ACK"
    syn, synack = syn[0], synack[0]
    assert syn["ours"] == active and synack["ours"] != active, f"stream {stream}: who opened?"
    desc = []
    for who, s in (("SYN", syn), ("SYN,ACK", synack)):
        missing = [NAMES[k] for k in NAMES if k not in s["kinds"]]
        assert not missing, f"stream {stream}: {who} from {'synack' if s['ours'] else 'the kernel'} lacks {missing}"
        # The MSS must fit the MTU: 40 (IPv4) or 60 (IPv6) bytes of headers without options.
        limit = mtu - (60 if s["v6"] else 40)
        assert 536 <= s["mss"] <= limit, f"stream {stream}: {who} MSS {s['mss']} does not fit MTU {mtu}"
        desc.append(f"{who} {'synack' if s['ours'] else 'kernel'} <mss {s['mss']},ws {s['shift']},sackOK,ts>")
    mss_for = {True: (synack if active else syn)["mss"], False: (syn if active else synack)["mss"]}
    shift_of = {syn["ours"]: int(syn["shift"]), synack["ours"]: int(synack["shift"])}
    rest = [s for s in segs if not s["syn"] and not s["rst"]]
    no_ts = [s for s in rest if not s["ts"]]
    assert not no_ts, f"stream {stream}: {len(no_ts)} segments without timestamps"
    for s in rest:
        # tshark's window scale factor for the sender: 2^shift it announced.
        if s["scale"] not in ("", "-1", "-2"):
            assert int(s["scale"]) == 1 << shift_of[s["ours"]], f"stream {stream}: window scale {s['scale']}"
        # Without TSO a segment never carries more than the MSS the receiver announced
        # (minus the 12 bytes of the timestamp option).
        if not offload:
            assert s["len"] <= mss_for[s["ours"]] - 12, \
                f"stream {stream}: {s['len']}-byte segment from {'synack' if s['ours'] else 'the kernel'}, MSS {mss_for[s['ours']]}"
    data = sum(s["len"] for s in rest)
    print(f"  stream {stream} ({'IPv6' if syn['v6'] else 'IPv4'}, synack {'active' if active else 'passive'}): "
          + "; ".join(desc) + f"; {len(rest)} more segments, all with timestamps, {data} data bytes")
PY
}

mkdir "$WORK/www"
head -c 2000000 /dev/urandom >"$WORK/www/file.bin"

for setting in "65520 on" "1500 off"; do
  read -r mtu offload <<<"$setting"
  link_options=(--mtu "$mtu")
  [ "$offload" = off ] && link_options+=(--no-offload)
  echo "MTU $mtu, offload $offload:"

  # synack passive: curl (IPv4, IPv6) to synack serve.
  start_serve --http 80 "${link_options[@]}" --pcap "$WORK/serve.pcap"
  for host in "$ADDR" "[$ADDR6]"; do
    got=$(in_ns curl -sS -f -g --max-time 30 "http://$host/bytes/2000000" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$(pattern_sha256 2000000)" ] || fail "curl $host: wrong bytes"
  done
  stop_serve
  check_options "$WORK/serve.pcap" "$mtu" "$offload" passive
  check_capture "$WORK/serve.pcap"

  # synack active: synack connect (IPv4, IPv6) to python3's http.server.
  ip netns exec "$NS" python3 -m http.server --bind :: --directory "$WORK/www" 8000 >/dev/null 2>&1 &
  HTTP_PID=$!
  PIDS+=("$HTTP_PID")
  for _ in $(seq 100); do
    in_ns ss -Hltn 'sport = :8000' | grep -q . && break
    sleep 0.1
  done
  for host in "$PEER" "$PEER6"; do
    printf 'GET /file.bin HTTP/1.0\r\n\r\n' |
      timeout "$STEP_TIMEOUT" "$SYNACK" connect --netns "$NS" --timeout 10 "${link_options[@]}" \
        --pcap "$WORK/connect.pcap" "$host" 8000 >"$WORK/response" || fail "synack connect $host: exit status $?"
    [ "$(stat -c %s "$WORK/response")" -gt 2000000 ] || fail "synack connect $host: short response"
    check_options "$WORK/connect.pcap" "$mtu" "$offload" active
    check_capture "$WORK/connect.pcap"
  done
  kill "$HTTP_PID"
  wait "$HTTP_PID" 2>/dev/null
done

echo "PASS"
