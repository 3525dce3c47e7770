#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `synack attach` against namespaces it did not make (issue 16 §1, §3, §5, "Bad input and
# faults"):
#  - a network namespace made with `unshare --net`, given by PID: --ready-fd reports "1", the
#    TUN synack0 is configured inside, curl inside reaches a host server on 127.0.0.1 through
#    the gateway (--allow-host-loopback), --pid-file names synack; the target exiting ends
#    synack with status 0 and removes the pid file; synack run's default memory budget holds;
#  - one made with `ip netns add`, given by path, with --api-socket: add_hostfwd publishes a
#    server of the namespace on the host, list_hostfwd lists it, remove_hostfwd closes it; the
#    API socket answers malformed JSON, unknown requests, bad arguments, a forward of the same
#    host port twice and a host port in use with {"error": ...}, drops a client that never
#    writes after its timeout while serving others, and still serves after all of them;
#  - UDP forwards at run time, over the control socket (synack forward add -u, list, remove)
#    and the API socket ("proto": "udp"): a datagram from a host client reaches a UDP echo in
#    the namespace and its answer comes back; after the remove, the host port is closed (the
#    client's datagram is refused); a duplicate, an overlapping forward and a UDP port in use
#    are refused with an error;
#  - --exit-fd closing ends synack with 0; the TUN deleted ends it with 1; SIGTERM kills it;
#  - a namespace given by path is served while empty, and synack ends with 0 once the last
#    process that entered it has left;
#  - rootless: an unprivileged user's `unshare -U -r -n` namespace served by synack attach run
#    as that user (through the namespace's owning user namespace), when /dev/net/tun lets
#    other users open it.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup attach
need python3 curl unshare nsenter ss setpriv
HERE=$(dirname "$(readlink -f "$0")")

host_py http "$HERE/host_server.py" http
HTTP_PORT=$HOST_PORT

# free_udp_port: a UDP port on 127.0.0.1 that nothing used when asked (lib.bash).
free_udp_port() { free_port udp; }
# wait_for CONDITION-CMD MESSAGE: up to 10 s.
wait_for() {
  local i
  for i in $(seq 100); do eval "$1" && return 0; sleep 0.1; done
  fail "$2"
}
# wait_exit PID: its exit status within 10 s (else fail).
wait_exit() {
  local i
  for i in $(seq 100); do
    if ! kill -0 "$1" 2>/dev/null; then wait "$1"; return $?; fi
    sleep 0.1
  done
  fail "process $1 still running after 10 s"
}

# --- 1. by PID: unshare --net ------------------------------------------------------------
unshare --net sleep 600 &
TARGET=$!
PIDS+=("$TARGET")
"$SYNACK" attach "$TARGET" --allow-host-loopback --ready-fd 3 --pid-file "$WORK/attach.pid" \
  3>"$WORK/ready" >"$WORK/a1.out" 2>"$WORK/a1.err" &
A1=$!
PIDS+=("$A1")
wait_for '[ "$(cat "$WORK/ready" 2>/dev/null)" = 1 ]' "synack attach $TARGET: no \"1\" on --ready-fd"
[ "$(cat "$WORK/attach.pid")" = "$A1" ] || fail "--pid-file holds '$(cat "$WORK/attach.pid")', want $A1"
addr=$(nsenter -t "$TARGET" -n ip -4 -br addr show synack0 | awk '{ print $3 }')
[ "$addr" = "$PEER/24" ] || fail "synack0 inside has '$addr', want $PEER/24"
nsenter -t "$TARGET" -n ip route show default | grep -q "via $ADDR dev synack0" ||
  fail "no default route via $ADDR inside"
got=$(timeout "$STEP_TIMEOUT" nsenter -t "$TARGET" -n curl -sS --max-time 20 "http://$ADDR:$HTTP_PORT/bytes/100000" | sha256sum | cut -d' ' -f1)
[ "$got" = "$(pattern_sha256 100000)" ] || { cat "$WORK/a1.err" >&2; fail "curl inside through the gateway: SHA-256 differs"; }
echo "attach by PID ($TARGET, unshare --net): ready fd, pid file, $PEER/24 inside, 100000 bytes from the host's 127.0.0.1:$HTTP_PORT"
budget=$("$SYNACK" stats --pid "$A1" | awk '$1 == "memory_budget_bytes" { print $2 }')
[ "$budget" = $((256 << 20)) ] || fail "synack attach: memory_budget_bytes '$budget', want 256M (the default)"
echo "the default memory budget, 256M, as synack run's (run_memory_budget loads attach with --max-memory)"
kill "$TARGET"
wait_exit "$A1"; status=$?
[ "$status" = 0 ] || { cat "$WORK/a1.err" >&2; fail "synack attach: status $status after the target exited, want 0"; }
[ ! -e "$WORK/attach.pid" ] || fail "--pid-file left behind"
echo "the target exited: synack attach exited with 0 and removed its pid file"

# --- 2. by path, with the API socket -----------------------------------------------------
API="$WORK/api.sock"
"$SYNACK" attach "/run/netns/$NS" --api-socket "$API" --ready-fd 3 3>"$WORK/ready2" \
  >"$WORK/a2.out" 2>"$WORK/a2.err" &
A2=$!
PIDS+=("$A2")
wait_for '[ "$(cat "$WORK/ready2" 2>/dev/null)" = 1 ]' "synack attach /run/netns/$NS: not ready"
[ -S "$API" ] || fail "no API socket at $API"
# Started with `ip netns exec` itself, not in_ns (a function: $! would be a subshell, and
# killing it would leave the server running until in_ns's timeout): ip netns exec execs the
# server, so $! is the server and the cleanup kills it.
ip netns exec "$NS" python3 -u "$HERE/host_server.py" http 0.0.0.0 8080 >"$WORK/inside.out" 2>&1 &
INSIDE=$!
PIDS+=("$INSIDE")
ip netns exec "$NS" python3 -u "$HERE/udp_echo.py" serve 0.0.0.0 7 >"$WORK/uecho.out" 2>&1 &
PIDS+=("$!")
wait_for 'grep -q "^PORT 8080" "$WORK/inside.out"' "server inside the namespace not up"
wait_for 'grep -q "^PORT 7" "$WORK/uecho.out"' "UDP echo inside the namespace not up"
api() { timeout "$STEP_TIMEOUT" python3 "$HERE/api_client.py" "$API" "$@"; }
HP=$(free_port)
ans=$(api '{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr": "127.0.0.1", "host_port": '"$HP"', "guest_port": 8080}}')
[ "$ans" = '{"return":{"id":1}}' ] || fail "add_hostfwd answered '$ans'"
got=$(timeout "$STEP_TIMEOUT" curl -sS --max-time 20 "http://127.0.0.1:$HP/bytes/1000000" | sha256sum | cut -d' ' -f1)
[ "$got" = "$(pattern_sha256 1000000)" ] || fail "curl through the forward added over the API: SHA-256 differs"
ans=$(api '{"execute": "list_hostfwd"}')
want='{"return":{"entries":[{"guest_addr":"'"$PEER"'","guest_port":8080,"host_addr":"127.0.0.1","host_port":'"$HP"',"id":1,"proto":"tcp"}]}}'
[ "$ans" = "$want" ] || fail "list_hostfwd answered '$ans', want '$want'"
echo "API: add_hostfwd 127.0.0.1:$HP -> 8080 (1 MB through it), list_hostfwd lists it"
# The same Relay over the control socket: synack forward add|list|remove --pid.
HPC=$(free_port)
out=$("$SYNACK" forward add "127.0.0.1:$HPC:8080" --pid "$A2") || fail "synack forward add: $out"
[ "$out" = "forward 2: tcp 127.0.0.1:$HPC -> port 8080" ] || fail "synack forward add printed '$out'"
got=$(timeout "$STEP_TIMEOUT" curl -sS --max-time 20 "http://127.0.0.1:$HPC/bytes/100000" | sha256sum | cut -d' ' -f1)
[ "$got" = "$(pattern_sha256 100000)" ] || fail "curl through the forward added by synack forward add: SHA-256 differs"
out=$("$SYNACK" forward list --pid "$A2")
[ "$out" = "forward 1: tcp 127.0.0.1:$HP -> port 8080
forward 2: tcp 127.0.0.1:$HPC -> port 8080" ] || fail "synack forward list printed '$out'"
"$SYNACK" forward add "127.0.0.1:$HPC:80" --pid "$A2" 2>/dev/null && fail "synack forward add of a port forwarded already succeeded"
"$SYNACK" forward add "nonsense" --pid "$A2" 2>/dev/null && fail "synack forward add nonsense succeeded"
"$SYNACK" forward remove 2 --pid "$A2" >/dev/null || fail "synack forward remove 2"
"$SYNACK" forward remove 2 --pid "$A2" 2>/dev/null && fail "synack forward remove of a removed forward succeeded"
if ss -Hltn "sport = :$HPC" | grep -q .; then fail "127.0.0.1:$HPC still listening after synack forward remove"; fi
echo "control socket: synack forward add (100000 bytes through it), list, remove; a duplicate, a bad spec and an unknown id refused"

# UDP at run time over the control socket: a datagram to 127.0.0.1:HU reaches the echo on
# port 7 inside and comes back; after the remove the port is closed (refused on the host).
udp_ask() { timeout "$STEP_TIMEOUT" python3 "$HERE/udp_echo.py" ask 127.0.0.1 "$@"; }
HU=$(free_udp_port)
out=$("$SYNACK" forward add -u "127.0.0.1:$HU:7" --pid "$A2") || fail "synack forward add -u: $out"
[ "$out" = "forward 3: udp 127.0.0.1:$HU -> port 7" ] || fail "synack forward add -u printed '$out'"
ss -Hlun "sport = :$HU" | grep -q "127.0.0.1:$HU" || fail "forward add -u: 127.0.0.1:$HU is not bound"
ans=$(udp_ask "$HU" "through forward add -u") || fail "a datagram through forward add -u 127.0.0.1:$HU:7: $ans"
[ "$ans" = "through forward add -u" ] || fail "the UDP echo through forward add -u answered '$ans'"
out=$("$SYNACK" forward list --pid "$A2")
[ "$out" = "forward 1: tcp 127.0.0.1:$HP -> port 8080
forward 3: udp 127.0.0.1:$HU -> port 7" ] || fail "synack forward list (with UDP) printed '$out'"
"$SYNACK" forward add "127.0.0.1:$HU:9/udp" --pid "$A2" 2>/dev/null && fail "a UDP forward of a port forwarded already succeeded"
"$SYNACK" forward add -u "0.0.0.0:$HU:7" --pid "$A2" 2>/dev/null && fail "a UDP forward overlapping 127.0.0.1:$HU succeeded"
"$SYNACK" forward add -u "127.0.0.1:$HU:7/tcp" --pid "$A2" 2>/dev/null && fail "forward add -u SPEC/tcp succeeded"
"$SYNACK" forward remove 3 --pid "$A2" >/dev/null || fail "synack forward remove 3 (UDP)"
if ss -Hlun "sport = :$HU" | grep -q .; then fail "127.0.0.1:$HU still bound after synack forward remove"; fi
ans=$(udp_ask "$HU" "after remove") && fail "a datagram to 127.0.0.1:$HU was answered after the forward was removed"
[ "$ans" = refused ] || fail "after synack forward remove: '$ans', want refused"
echo "control socket, UDP: forward add -u 127.0.0.1:$HU:7 (echoed from inside), list shows udp, remove closes it (the next datagram refused); a duplicate, an overlap and -u with /tcp refused"

# Bad input: each gets an error reply, and the socket keeps serving.
check_error() {  # check_error WHAT ANSWER
  case "$2" in '{"error":{"desc":'*) echo "  $1 -> $2" ;; *) fail "$1: answered '$2', want an error" ;; esac
}
check_error "malformed JSON" "$(api --raw '{"execute": "add_hostfwd", ')"
check_error "not an object" "$(api --raw '[1, 2, 3]')"
check_error "unknown execute" "$(api '{"execute": "reboot"}')"
check_error "no execute" "$(api '{"arguments": {}}')"
check_error "bad port" "$(api '{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_port": 70000, "guest_port": 80}}')"
check_error "port as text" "$(api '{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_port": "80", "guest_port": 80}}')"
check_error "no proto" "$(api '{"execute": "add_hostfwd", "arguments": {"host_port": 8081, "guest_port": 80}}')"
check_error "foreign guest_addr" "$(api '{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_port": 8081, "guest_addr": "198.18.9.9", "guest_port": 80}}')"
check_error "the same host port twice" "$(api '{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr": "127.0.0.1", "host_port": '"$HP"', "guest_port": 80}}')"
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)' >"$WORK/busy.out" &
BUSY=$!
PIDS+=("$BUSY")
wait_for '[ -s "$WORK/busy.out" ]' "no busy port"
BUSY_PORT=$(cat "$WORK/busy.out")
check_error "host port in use" "$(api '{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr": "127.0.0.1", "host_port": '"$BUSY_PORT"', "guest_port": 80}}')"
check_error "remove an unknown id" "$(api '{"execute": "remove_hostfwd", "arguments": {"id": 99}}')"
check_error "remove with a bad id" "$(api '{"execute": "remove_hostfwd", "arguments": {"id": "x"}}')"
check_error "request too long" "$(api --raw "$(head -c 5000 /dev/zero | tr '\0' ' ')")"
# A complete request without shutting down the writing side is answered too.
ans=$(api --no-shutdown '{"execute": "list_hostfwd"}')
[ "$ans" = "$want" ] || fail "list_hostfwd without a shutdown answered '$ans'"
# A client that connects and never writes: dropped after the client timeout (5 s); another
# client is served meanwhile.
python3 - "$API" >"$WORK/silent.out" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); t0 = time.monotonic()
s.settimeout(20)
try:
    data = s.recv(100)
    print(f"closed after {time.monotonic() - t0:.1f} s, {len(data)} bytes")
except socket.timeout:
    print("still open after 20 s")
PY
SILENT=$!
PIDS+=("$SILENT")
ans=$(api '{"execute": "list_hostfwd"}')
[ "$ans" = "$want" ] || fail "list_hostfwd while a silent client is connected answered '$ans'"
wait_exit "$SILENT" >/dev/null
case "$(cat "$WORK/silent.out")" in "closed after "[4-9]*) echo "  a client that never writes: $(cat "$WORK/silent.out")" ;;
  *) fail "a client that never writes: $(cat "$WORK/silent.out")" ;; esac
# Clients that never read their answer: 50 of them at once; the socket keeps serving.
# Beyond the socket's 16 clients at once a connection is closed as it is accepted: a request
# sent after that close fails (EPIPE/ECONNRESET), one sent before it is simply dropped.
python3 - "$API" <<'PY' || fail "clients that never read"
import socket, sys
held, refused = [], 0
for _ in range(50):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
    try:
        s.sendall(b'{"execute": "list_hostfwd"}'); held.append(s)
    except (BrokenPipeError, ConnectionResetError):
        refused += 1
print(f"  {len(held)} clients sent a request and never read the answer ({refused} refused at once)")
PY
# UDP over the API socket, as podman's slirp4netns port handler sends it for -p .../udp.
HU2=$(free_udp_port)
ans=$(api '{"execute": "add_hostfwd", "arguments": {"proto": "udp", "host_addr": "127.0.0.1", "host_port": '"$HU2"', "guest_port": 7}}')
[ "$ans" = '{"return":{"id":4}}' ] || fail "add_hostfwd proto udp answered '$ans'"
ans=$(udp_ask "$HU2" "through add_hostfwd udp") || fail "a datagram through add_hostfwd udp: $ans"
[ "$ans" = "through add_hostfwd udp" ] || fail "the UDP echo through add_hostfwd udp answered '$ans'"
ans=$(api '{"execute": "list_hostfwd"}')
want_udp='{"return":{"entries":[{"guest_addr":"'"$PEER"'","guest_port":8080,"host_addr":"127.0.0.1","host_port":'"$HP"',"id":1,"proto":"tcp"},{"guest_addr":"'"$PEER"'","guest_port":7,"host_addr":"127.0.0.1","host_port":'"$HU2"',"id":4,"proto":"udp"}]}}'
[ "$ans" = "$want_udp" ] || fail "list_hostfwd with a UDP forward answered '$ans', want '$want_udp'"
check_error "the same UDP port twice" "$(api '{"execute": "add_hostfwd", "arguments": {"proto": "udp", "host_addr": "127.0.0.1", "host_port": '"$HU2"', "guest_port": 9}}')"
check_error "a UDP forward overlapping another" "$(api '{"execute": "add_hostfwd", "arguments": {"proto": "udp", "host_addr": "0.0.0.0", "host_port": '"$HU2"', "guest_port": 7}}')"
host_py udpbusy "$HERE/udp_echo.py" serve 127.0.0.1 0
check_error "UDP port in use" "$(api '{"execute": "add_hostfwd", "arguments": {"proto": "udp", "host_addr": "127.0.0.1", "host_port": '"$HOST_PORT"', "guest_port": 7}}')"
ans=$(api '{"execute": "remove_hostfwd", "arguments": {"id": 4}}')
[ "$ans" = '{"return":{}}' ] || fail "remove_hostfwd (UDP) answered '$ans'"
if ss -Hlun "sport = :$HU2" | grep -q .; then fail "127.0.0.1:$HU2 still bound after remove_hostfwd"; fi
ans=$(udp_ask "$HU2" "after remove_hostfwd") && fail "a datagram to 127.0.0.1:$HU2 was answered after remove_hostfwd"
[ "$ans" = refused ] || fail "after remove_hostfwd (UDP): '$ans', want refused"
echo "API, UDP: add_hostfwd proto udp 127.0.0.1:$HU2 -> 7 (echoed from inside), list_hostfwd shows proto udp, remove_hostfwd closes it; a duplicate, an overlap and a port in use refused"
ans=$(api '{"execute": "remove_hostfwd", "arguments": {"id": 1}}')
[ "$ans" = '{"return":{}}' ] || fail "remove_hostfwd answered '$ans'"
if ss -Hltn "sport = :$HP" | grep -q .; then fail "127.0.0.1:$HP still listening after remove_hostfwd"; fi
ans=$(api '{"execute": "list_hostfwd"}')
[ "$ans" = '{"return":{"entries":[]}}' ] || fail "list_hostfwd after remove answered '$ans'"
echo "API: bad input answered with errors, still serving; remove_hostfwd closed 127.0.0.1:$HP"
kill -0 "$A2" 2>/dev/null || { cat "$WORK/a2.err" >&2; fail "synack attach died"; }

# --- 3. the TUN deleted: status 1 ----------------------------------------------------------
ip -n "$NS" link del synack0
wait_exit "$A2"; status=$?
[ "$status" = 1 ] || { cat "$WORK/a2.err" >&2; fail "TUN deleted: status $status, want 1"; }
[ ! -e "$API" ] || fail "the API socket file is left behind"
grep -q "is gone" "$WORK/a2.err" || fail "TUN deleted: no message"
echo "the TUN deleted: synack attach exited with 1 ($(grep 'is gone' "$WORK/a2.err"))"

# --- 4. --exit-fd, SIGTERM -----------------------------------------------------------------
mkfifo "$WORK/exitfifo"
sleep 600 >"$WORK/exitfifo" &   # the writer: its exit closes the pipe
WRITER=$!
PIDS+=("$WRITER")
"$SYNACK" attach "/run/netns/$NS" --exit-fd 3 --ready-fd 4 3<"$WORK/exitfifo" 4>"$WORK/ready3" \
  >/dev/null 2>"$WORK/a3.err" &
A3=$!
PIDS+=("$A3")
wait_for '[ "$(cat "$WORK/ready3" 2>/dev/null)" = 1 ]' "synack attach --exit-fd: not ready"
kill "$WRITER"
wait_exit "$A3"; status=$?
[ "$status" = 0 ] || { cat "$WORK/a3.err" >&2; fail "--exit-fd closed: status $status, want 0"; }
echo "--exit-fd closed: synack attach exited with 0"
"$SYNACK" attach "/run/netns/$NS" --ready-fd 3 3>"$WORK/ready4" >/dev/null 2>"$WORK/a4.err" &
A4=$!
PIDS+=("$A4")
wait_for '[ "$(cat "$WORK/ready4" 2>/dev/null)" = 1 ]' "synack attach (4): not ready"
kill -TERM "$A4"
wait_exit "$A4"; status=$?
[ "$status" = 143 ] || { cat "$WORK/a4.err" >&2; fail "SIGTERM: status $status, want 143 (killed by SIGTERM)"; }
ip -n "$NS" link show synack0 >/dev/null 2>&1 && fail "synack0 left in the namespace after SIGTERM"
echo "SIGTERM: synack attach killed by it (143), synack0 gone"

# --- 4a. by PATH: served until its last process is gone --------------------------------------
# A namespace from `ip netns add` starts empty: served (no process seen yet); a process enters
# and leaves; then synack ends with 0 and says why (its TUN would keep the namespace alive).
NSB="$NS-last"
ip netns add "$NSB"
eval "lib_$(declare -f cleanup)"
cleanup() { ip netns delete "$NSB" 2>/dev/null; lib_cleanup; }
"$SYNACK" attach "/run/netns/$NSB" --ready-fd 3 3>"$WORK/ready6" >/dev/null 2>"$WORK/a6.err" &
A6=$!
PIDS+=("$A6")
wait_for '[ "$(cat "$WORK/ready6" 2>/dev/null)" = 1 ]' "synack attach (empty namespace by path): not ready"
sleep 2  # two of synack's checks (1 s apart) of an empty namespace
kill -0 "$A6" 2>/dev/null || { cat "$WORK/a6.err" >&2; fail "synack attach left a namespace no process had entered yet"; }
ip netns exec "$NSB" sleep 4  # seen by one of synack's checks, 1 s apart, even when one is late
wait_exit "$A6"; status=$?
[ "$status" = 0 ] || { cat "$WORK/a6.err" >&2; fail "last process gone: status $status, want 0"; }
grep -q "its last process is gone" "$WORK/a6.err" || fail "last process gone: no message"
ip netns delete "$NSB"
echo "by path: served while empty, ended with 0 once its last process left ($(cat "$WORK/a6.err"))"

# --- 4b. synack run --netns NAME|PID -- CMD ----------------------------------------------------
got=$(timeout "$STEP_TIMEOUT" "$SYNACK" run --netns "$NS" --allow-host-loopback -- \
  curl -sS --max-time 20 "http://$ADDR:$HTTP_PORT/bytes/100000" 2>"$WORK/r1.err" | sha256sum | cut -d' ' -f1)
[ "$got" = "$(pattern_sha256 100000)" ] || { cat "$WORK/r1.err" >&2; fail "synack run --netns $NS -- curl: SHA-256 differs"; }
timeout "$STEP_TIMEOUT" "$SYNACK" run --netns "/run/netns/$NS" -- sh -c 'exit 7' 2>/dev/null; status=$?
[ "$status" = 7 ] || fail "synack run --netns PATH -- sh -c 'exit 7': status $status, want 7"
unshare --net sleep 600 &
T2=$!
PIDS+=("$T2")
timeout "$STEP_TIMEOUT" "$SYNACK" run --netns "$T2" -- sh -c 'ip -4 -br addr show synack0; kill -TERM $$' >"$WORK/r2.out" 2>&1; status=$?
[ "$status" = 143 ] || fail "synack run --netns PID: CMD killed by SIGTERM gave status $status, want 143"
grep -q "$PEER/24" "$WORK/r2.out" || fail "synack run --netns PID: CMD did not see synack0 ($(cat "$WORK/r2.out"))"
timeout "$STEP_TIMEOUT" "$SYNACK" run --netns /nonexistent/ns -- true 2>/dev/null; status=$?
[ "$status" = 125 ] || fail "synack run --netns /nonexistent/ns: status $status, want 125"
ip -n "$NS" link show synack0 >/dev/null 2>&1 && fail "synack0 left in $NS after synack run --netns"
echo "synack run --netns NAME|PATH|PID -- CMD: 100000 bytes through the gateway, CMD's status (7, 143), 125 for a missing namespace"

# synack forward reaches a plain `synack run` too.
"$SYNACK" run -- sleep 60 >/dev/null 2>&1 &
RUNP=$!
PIDS+=("$RUNP")
wait_for '"$SYNACK" forward list --pid "$RUNP" >/dev/null 2>&1' "synack run: no control socket"
HPR=$(free_port)
out=$("$SYNACK" forward add "$HPR:80" --pid "$RUNP") || fail "synack forward add to synack run: $out"
ss -Hltn "sport = :$HPR" | grep -q "127.0.0.1:$HPR" || fail "synack run: forward added at run time does not listen"
"$SYNACK" forward remove 1 --pid "$RUNP" >/dev/null || fail "synack forward remove (synack run)"
if ss -Hltn "sport = :$HPR" | grep -q .; then fail "synack run: 127.0.0.1:$HPR still listening after remove"; fi
HUR=$(free_udp_port)
out=$("$SYNACK" forward add -u "$HUR:53" --pid "$RUNP") || fail "synack forward add -u to synack run: $out"
[ "$out" = "forward 2: udp 127.0.0.1:$HUR -> port 53" ] || fail "synack run: forward add -u printed '$out'"
ss -Hlun "sport = :$HUR" | grep -q "127.0.0.1:$HUR" || fail "synack run: UDP forward added at run time is not bound"
"$SYNACK" forward remove 2 --pid "$RUNP" >/dev/null || fail "synack forward remove 2 (synack run, UDP)"
if ss -Hlun "sport = :$HUR" | grep -q .; then fail "synack run: UDP 127.0.0.1:$HUR still bound after remove"; fi
kill -TERM "$RUNP"
wait_exit "$RUNP" >/dev/null
echo "synack forward add/remove on a running synack run: 127.0.0.1:$HPR (TCP) and 127.0.0.1:$HUR (UDP) opened and closed"

# --- 5. rootless -----------------------------------------------------------------------------
# Debian's /dev/net/tun is 0666; where it is not, it is opened to other users for this part
# and its mode restored on exit.
TUN_MODE=$(stat -c %a /dev/net/tun)
if [ "$TUN_MODE" != 666 ]; then
  trap 'chmod "$TUN_MODE" /dev/net/tun; cleanup' EXIT
  chmod 0666 /dev/net/tun
fi
if ! setpriv --reuid=nobody --regid=nogroup --clear-groups unshare -U -r -n true 2>/dev/null; then
  echo "rootless part SKIPPED: unprivileged user namespaces are not allowed"
else
  # setpriv execs (no child in between): $! is the namespace's process.
  setpriv --reuid=nobody --regid=nogroup --clear-groups unshare -U -r -n sleep 600 &
  RTARGET=$!
  PIDS+=("$RTARGET")
  wait_for '[ "$(readlink /proc/$RTARGET/ns/net 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ]' "unshare -U -r -n did not start"
  setpriv --reuid=nobody --regid=nogroup --clear-groups "$SYNACK" attach "$RTARGET" --allow-host-loopback \
    --ready-fd 3 3>"$WORK/ready5" >/dev/null 2>"$WORK/a5.err" &
  A5=$!
  PIDS+=("$A5")
  wait_for '[ "$(cat "$WORK/ready5" 2>/dev/null)" = 1 ] || ! kill -0 $A5 2>/dev/null' "rootless attach: not ready"
  [ "$(cat "$WORK/ready5" 2>/dev/null)" = 1 ] || { cat "$WORK/a5.err" >&2; fail "rootless synack attach failed"; }
  got=$(timeout "$STEP_TIMEOUT" nsenter -t "$RTARGET" -U -n --preserve-credentials curl -sS --max-time 20 "http://$ADDR:$HTTP_PORT/bytes/100000" | sha256sum | cut -d' ' -f1)
  [ "$got" = "$(pattern_sha256 100000)" ] || { cat "$WORK/a5.err" >&2; fail "rootless: curl through the gateway: SHA-256 differs"; }
  kill "$RTARGET"
  wait_exit "$A5"; status=$?
  [ "$status" = 0 ] || fail "rootless: status $status after the target exited"
  echo "rootless: user nobody's unshare -U -r -n namespace served by synack attach as nobody; 100000 bytes from the host"
fi
echo "PASS"
