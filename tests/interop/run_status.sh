#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Status of a running synack run: CMD holds a relayed connection to a host echo server open;
# synack ss --pid lists it ESTABLISHED (198.18.0.1:PORT as seen from CMD's side) with a
# details line, synack ss without --pid includes the run process, synack stats shows
# intercept_requests >= 1 (and --json works); --trace FILE gets JSON lines with the
# connection's state transitions, ESTABLISHED among them; --pcap FILE captures it, tshark-clean.
# After CMD exits, the control socket is gone.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup run_status --no-netns
need python3
HERE=$(dirname "$(readlink -f "$0")")

host_py echo "$HERE/host_server.py" echo
"$SYNACK" run --allow-host-loopback --trace "$WORK/trace.jsonl" --pcap "$WORK/run.pcap" -- python3 -u - "$ADDR" "$HOST_PORT" "$WORK/done" \
    >"$WORK/run.out" 2>"$WORK/run.err" <<'PY' &
import os, socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(b"ping")
assert s.recv(4) == b"ping"
print(f"ready {s.getsockname()[1]}", flush=True)
deadline = time.monotonic() + 50
while not os.path.exists(sys.argv[3]) and time.monotonic() < deadline:
    time.sleep(0.1)
s.sendall(b"bye!")
assert s.recv(4) == b"bye!"
s.close()
PY
RUN_PID=$!
PIDS+=("$RUN_PID")
for _ in $(seq 100); do
  grep -q "^ready" "$WORK/run.out" && break
  kill -0 "$RUN_PID" 2>/dev/null || { cat "$WORK/run.err" >&2; fail "synack run exited early"; }
  sleep 0.1
done
CPORT=$(awk '$1 == "ready" { print $2 }' "$WORK/run.out")
[ -n "$CPORT" ] || fail "CMD's connection not up after 10 s"

timeout 10 "$SYNACK" ss --pid "$RUN_PID" >"$WORK/ss.out" 2>"$WORK/ss.err" || { cat "$WORK/ss.err" >&2; fail "synack ss --pid $RUN_PID"; }
cat "$WORK/ss.out"
grep -q "^ESTABLISHED .* $ADDR:$HOST_PORT *$PEER:$CPORT .*pid=$RUN_PID" "$WORK/ss.out" ||
  fail "synack ss --pid $RUN_PID: no ESTABLISHED $ADDR:$HOST_PORT <-> $PEER:$CPORT"
grep -qE "rto:[0-9.]+ rtt:[0-9.]+/[0-9.]+ mss:[0-9]+ cwnd:[0-9]+" "$WORK/ss.out" || fail "synack ss: no details line"
timeout 10 "$SYNACK" ss >"$WORK/ss-all.out" 2>&1 || true
grep -q "pid=$RUN_PID" "$WORK/ss-all.out" || { cat "$WORK/ss-all.out" >&2; fail "synack ss (all processes) misses pid $RUN_PID"; }
timeout 10 "$SYNACK" ss --pid "$RUN_PID" --json | grep -q '"state":"ESTABLISHED"' || fail "synack ss --json: no ESTABLISHED connection"
echo "synack ss: the relayed connection is listed ESTABLISHED"

timeout 10 "$SYNACK" stats --pid "$RUN_PID" >"$WORK/stats.out" || fail "synack stats --pid $RUN_PID"
req=$(awk '$1 == "intercept_requests" { print $2 }' "$WORK/stats.out")
[ "${req:-0}" -ge 1 ] || { cat "$WORK/stats.out" >&2; fail "synack stats: intercept_requests='$req', want >= 1"; }
timeout 10 "$SYNACK" stats --pid "$RUN_PID" --json | grep -q '"name":"intercept_requests","value":[1-9]' ||
  fail "synack stats --json: intercept_requests"
echo "synack stats: intercept_requests = $req"

touch "$WORK/done"
status=
for _ in $(seq 100); do
  kill -0 "$RUN_PID" 2>/dev/null || { wait "$RUN_PID"; status=$?; break; }
  sleep 0.1
done
[ "$status" = 0 ] || { cat "$WORK/run.err" >&2; fail "synack run: exit status '${status}' after CMD finished, want 0"; }
if timeout 10 "$SYNACK" ss --pid "$RUN_PID" >/dev/null 2>&1; then fail "synack ss still finds pid $RUN_PID"; fi

[ -s "$WORK/trace.jsonl" ] || fail "--trace: $WORK/trace.jsonl missing or empty"
python3 - "$WORK/trace.jsonl" "$ADDR:$HOST_PORT" "$PEER:$CPORT" <<'PY' || fail "--trace: not JSON lines with the connection's transitions"
import json, sys
path = []
for n, line in enumerate(open(sys.argv[1]), 1):
    try:
        event = json.loads(line)
    except ValueError as e:
        sys.exit(f"line {n} is not JSON: {line[:200]!r} ({e})")
    if event.get("type") == "transition" and (event.get("local"), event.get("remote")) == tuple(sys.argv[2:4]):
        path.append(event["to"])
print(f"--trace: {n} JSON lines; {sys.argv[3]} -> {sys.argv[2]}: {' -> '.join(path)}")
assert "ESTABLISHED" in path, "no transition to ESTABLISHED for the connection"
assert path[-1] == "CLOSED", "the connection's last transition is not to CLOSED"
PY
# --pcap: the capture holds the connection and is tshark-clean (when tshark is there).
if command -v tshark >/dev/null; then
  check_capture "$WORK/run.pcap"
  n=$(tshark -r "$WORK/run.pcap" -n -Y "tcp.port == $HOST_PORT && tcp.port == $CPORT" 2>/dev/null | wc -l)
  [ "$n" -ge 8 ] || fail "--pcap: $n packets of the connection $PEER:$CPORT -> $ADDR:$HOST_PORT, want >= 8"
else
  [ -s "$WORK/run.pcap" ] || fail "--pcap: $WORK/run.pcap missing or empty"
  echo "note: no tshark; --pcap only checked to be non-empty"
fi
echo "PASS"
