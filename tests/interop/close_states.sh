#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Connection close against the kernel, with the kernel socket's states read by `ss -tan` in the
# namespace and synack's from its --trace: the side that closes first ends in TIME-WAIT, the
# other passes CLOSE-WAIT and LAST-ACK; in both roles (synack serve, synack connect) and with
# either side closing first; and a simultaneous close whose FINs cross (both pass CLOSING).
#
# LAST-ACK and FIN-WAIT-1 last a round trip (microseconds here): to observe them, synack is held
# with SIGSTOP while the kernel sends its FIN, and released with SIGCONT once ss has seen the
# state. The simultaneous close uses the same trick: synack is stopped, its standard input
# ends (its FIN is due), the kernel closes (its FIN waits in the TUN queue); on SIGCONT synack
# sends its FIN before it reads the kernel's, so the two FINs cross.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup close_states
# No router solicitations from the namespace's kernel (it sends them on synack0 when it comes up
# and again 4 and 8 s later): the simultaneous close below needs the TUN to stay quiet while
# synack is stopped, or its first read after SIGCONT takes the kernel's FIN before its own
# stdin's EOF (CLOSE-WAIT instead of CLOSING).
ip netns exec "$NS" sysctl -qw net.ipv6.conf.default.router_solicitations=0 \
  net.ipv6.conf.all.router_solicitations=0
need python3 ss mkfifo tshark

# wait_kernel_state STATE FILTER: polls (at most 10 s) until a kernel socket matching the ss
# FILTER is in STATE (ss's names: close-wait, last-ack, time-wait, fin-wait-1, ...).
wait_kernel_state() {
  for _ in $(seq 100); do
    [ -n "$(in_ns ss -Htan state "$1" "$2")" ] && { echo "kernel: $2 in ${1^^}"; return 0; }
    sleep 0.1
  done
  in_ns ss -tan >&2
  fail "kernel socket $2 never reached ${1^^}"
}

# wait_kernel_gone FILTER: at most 10 s until no kernel socket matches (CLOSED).
wait_kernel_gone() {
  for _ in $(seq 100); do
    [ -z "$(in_ns ss -Htan "$1")" ] && { echo "kernel: $1 CLOSED"; return 0; }
    sleep 0.1
  done
  in_ns ss -tan >&2
  fail "kernel socket $1 still there after 10 s"
}

# synack_states TRACE PORT: the states synack's connection with the kernel port PORT passed,
# from the --trace JSON lines, as "A>B>C".
synack_states() {
  python3 - "$1" "$2" <<'PY'
import json, sys
path = []
for line in open(sys.argv[1]):
    event = json.loads(line)
    if event.get("type") != "transition" or not event["remote"].endswith(":" + sys.argv[2]):
        continue
    if not path:
        path.append(event["from"])
    path.append(event["to"])
print(">".join(path))
PY
}

# expect_states TRACE PORT WANT: synack's path must be exactly WANT.
expect_states() {
  local got
  got=$(synack_states "$1" "$2")
  # A TIME-WAIT ended by the kernel's RST is TIME-WAIT all the same: while synack was stopped the
  # kernel retransmitted its FIN; synack ACKs the FIN, then the copy (RFC 9293 §3.10.7.4,
  # TIME-WAIT: "acknowledge it"); the first ACK closes the kernel's socket, so the second meets
  # no socket and draws an RST, which ends TIME-WAIT ("If the RST bit is set, then enter the
  # CLOSED state", as Linux does with tcp_rfc1337 = 0). Whether synack reads that RST before it
  # exits is a race (it does when it writes its ACKs while still reading the batch).
  if [[ $3 == *">TIME-WAIT" && $got == "$3>CLOSED" ]] &&
    grep -q '"from":"TIME-WAIT","to":"CLOSED","cause":"rcv RST' "$1"; then
    echo "synack: TIME-WAIT then an RST from the kernel (its FIN was retransmitted meanwhile)"
    got=$3
  fi
  [ "$got" = "$3" ] || fail "synack's connection with port $2: states $got, want $3"
  echo "synack: $got"
}

# go FIFO: tells a waiting kernel peer to go on (it reads one line from FIFO).
go() {
  timeout 10 bash -c 'echo go >"$1"' _ "$1" || fail "the kernel peer did not wait on $1"
}

# --- synack serve closes first (HTTP, Connection: close) ----------------------------------
start_serve --http 80 --echo 7 --trace "$WORK/serve.jsonl" --pcap "$WORK/serve.pcap"
mkfifo "$WORK/go_http"
ip netns exec "$NS" python3 - "$ADDR" "$WORK/go_http" >"$WORK/http_client.out" 2>&1 <<'PY' &
import socket, sys
s = socket.create_connection((sys.argv[1], 80), timeout=10)
print(s.getsockname()[1], flush=True)
s.sendall(b"GET /bytes/1000 HTTP/1.1\r\nHost: synack\r\nConnection: close\r\n\r\n")
reply = bytearray()
while chunk := s.recv(65536):  # to synack's FIN: now in CLOSE-WAIT
    reply += chunk
assert reply.startswith(b"HTTP/1.1 200") and len(reply.partition(b"\r\n\r\n")[2]) == 1000, reply[:200]
open(sys.argv[2]).readline()
s.close()  # our FIN: LAST-ACK
PY
CLIENT_PID=$!
PIDS+=("$CLIENT_PID")
for _ in $(seq 100); do [ -s "$WORK/http_client.out" ] && break; sleep 0.1; done
port=$(head -1 "$WORK/http_client.out")
[ -n "$port" ] || fail "HTTP client did not start: $(cat "$WORK/http_client.out")"
wait_kernel_state close-wait "sport = :$port"
kill -STOP "$SERVE_PID"
go "$WORK/go_http"
wait "$CLIENT_PID" || { cat "$WORK/http_client.out" >&2; fail "HTTP client failed"; }
wait_kernel_state last-ack "sport = :$port"
kill -CONT "$SERVE_PID"
wait_kernel_gone "sport = :$port"
# Listed in TIME-WAIT, unless the kernel's RST has ended TIME-WAIT already (expect_states).
timeout 10 "$SYNACK" ss --pid "$SERVE_PID" | grep -q "^TIME-WAIT .* $PEER:$port " ||
  { [[ $(synack_states "$WORK/serve.jsonl" "$port") == *">TIME-WAIT>CLOSED" ]] &&
    grep -q '"from":"TIME-WAIT","to":"CLOSED","cause":"rcv RST' "$WORK/serve.jsonl"; } ||
  fail "synack ss does not list the connection in TIME-WAIT"
expect_states "$WORK/serve.jsonl" "$port" "LISTEN>SYN-RECEIVED>ESTABLISHED>FIN-WAIT-1>FIN-WAIT-2>TIME-WAIT"

# --- the kernel closes first (echo) ----------------------------------------------------------
cat >"$WORK/echo_client.py" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], 7), timeout=10)
s.sendall(b"ping")
assert s.recv(100) == b"ping"
print(s.getsockname()[1])
s.close()  # our FIN first: the kernel ends in TIME-WAIT
PY
port=$(in_ns python3 "$WORK/echo_client.py" "$ADDR") || fail "echo client failed"
wait_kernel_state time-wait "sport = :$port"
for _ in $(seq 100); do
  [ "$(synack_states "$WORK/serve.jsonl" "$port")" = "${want:=LISTEN>SYN-RECEIVED>ESTABLISHED>CLOSE-WAIT>LAST-ACK>CLOSED}" ] && break
  sleep 0.1
done
expect_states "$WORK/serve.jsonl" "$port" "$want"

stop_serve
check_capture "$WORK/serve.pcap"

# --- synack connect: kernel servers ---------------------------------------------------------
# start_kernel_server PORT MODE: a python3 server in the namespace, one connection. MODE:
#   read-then-wait: read to EOF (CLOSE-WAIT), wait for go, send "bye", close (LAST-ACK)
#   send-and-close: send "hello" and close at once (FIN-WAIT-1/2, then TIME-WAIT)
#   wait-then-close: wait for go, then close (for the simultaneous close)
start_kernel_server() {
  mkfifo "$WORK/go_$1"
  ip netns exec "$NS" python3 - "$1" "$2" "$WORK/go_$1" >"$WORK/server_$1.out" 2>&1 <<'PY' &
import socket, sys
port, mode, go = int(sys.argv[1]), sys.argv[2], sys.argv[3]
srv = socket.socket(socket.AF_INET6)
srv.bind(("::", port))
srv.listen()
srv.settimeout(30)
c, _ = srv.accept()
if mode == "read-then-wait":
    while c.recv(65536):
        pass
    open(go).readline()
    c.sendall(b"bye\n")
elif mode == "send-and-close":
    c.sendall(b"hello\n")
elif mode == "wait-then-close":
    open(go).readline()
c.close()
print("server done", flush=True)
PY
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 100); do
    in_ns ss -Hltn "sport = :$1" | grep -q . && return 0
    sleep 0.1
  done
  fail "kernel server on port $1 not listening"
}

# synack connect runs without `timeout` around it: SIGSTOP must reach synack itself. wait_exit
# bounds it instead, and the cleanup ends it if need be.
# wait_exit PID WHAT: its exit status must be 0, within 15 s.
wait_exit() {
  for _ in $(seq 150); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$1" 2>/dev/null && fail "$2 still running after 15 s"
  wait "$1" || fail "$2 exited with $?"
}

# synack closes first: its standard input is empty.
start_kernel_server 9001 read-then-wait
"$SYNACK" connect --netns "$NS" --timeout 10 --trace "$WORK/c1.jsonl" \
  --pcap "$WORK/c1.pcap" "$PEER" 9001 </dev/null >"$WORK/c1.out" &
CONNECT_PID=$!
PIDS+=("$CONNECT_PID")
wait_kernel_state close-wait "sport = :9001"
kill -STOP "$CONNECT_PID"
go "$WORK/go_9001"
wait_kernel_state last-ack "sport = :9001"
kill -CONT "$CONNECT_PID"
wait_exit "$CONNECT_PID" "synack connect (closing first)"
wait_kernel_gone "sport = :9001"
[ "$(cat "$WORK/c1.out")" = bye ] || fail "synack connect: got '$(cat "$WORK/c1.out")' after its FIN, want 'bye'"
expect_states "$WORK/c1.jsonl" 9001 "CLOSED>SYN-SENT>ESTABLISHED>FIN-WAIT-1>FIN-WAIT-2>TIME-WAIT"
check_capture "$WORK/c1.pcap"

# The kernel closes first: synack connect's standard input stays open (a FIFO we hold) until
# the kernel is seen in FIN-WAIT-2.
start_kernel_server 9002 send-and-close
mkfifo "$WORK/in2"
exec 3<>"$WORK/in2"
"$SYNACK" connect --netns "$NS" --timeout 10 --trace "$WORK/c2.jsonl" \
  --pcap "$WORK/c2.pcap" "$PEER" 9002 <"$WORK/in2" >"$WORK/c2.out" 3>&- &
CONNECT_PID=$!
PIDS+=("$CONNECT_PID")
wait_kernel_state fin-wait-2 "sport = :9002"
exec 3>&-  # end of synack's input: its FIN
wait_exit "$CONNECT_PID" "synack connect (closing second)"
wait_kernel_state time-wait "sport = :9002"
[ "$(cat "$WORK/c2.out")" = hello ] || fail "synack connect: got '$(cat "$WORK/c2.out")', want 'hello'"
expect_states "$WORK/c2.jsonl" 9002 "CLOSED>SYN-SENT>ESTABLISHED>CLOSE-WAIT>LAST-ACK>CLOSED"
check_capture "$WORK/c2.pcap"

# Simultaneous close.
start_kernel_server 9003 wait-then-close
mkfifo "$WORK/in3"
exec 4<>"$WORK/in3"
"$SYNACK" connect --netns "$NS" --timeout 10 --trace "$WORK/c3.jsonl" \
  --pcap "$WORK/c3.pcap" "$PEER" 9003 <"$WORK/in3" >"$WORK/c3.out" 4>&- &
CONNECT_PID=$!
PIDS+=("$CONNECT_PID")
wait_kernel_state established "sport = :9003"
sleep 0.2  # synack's side is ESTABLISHED too, and idle
kill -STOP "$CONNECT_PID"
exec 4>&-          # synack's FIN is due...
go "$WORK/go_9003"  # ...and the kernel sends its own
wait_kernel_state fin-wait-1 "sport = :9003"
kill -CONT "$CONNECT_PID"
wait_exit "$CONNECT_PID" "synack connect (simultaneous close)"
wait_kernel_state time-wait "sport = :9003"
expect_states "$WORK/c3.jsonl" 9003 "CLOSED>SYN-SENT>ESTABLISHED>FIN-WAIT-1>CLOSING>TIME-WAIT"
# In the capture the FINs cross: neither acknowledges the other's FIN.
tshark -r "$WORK/c3.pcap" -n -o tcp.relative_sequence_numbers:FALSE -Y "tcp.flags.fin == 1" \
    -T fields -e ip.src -e tcp.seq -e tcp.ack 2>/dev/null >"$WORK/fins"
python3 - "$WORK/fins" "$ADDR" "$PEER" <<'PY' || fail "the FINs did not cross"
import sys
fins = {}
for line in open(sys.argv[1]):
    src, seq, ack = line.split()
    fins.setdefault(src, (int(seq), int(ack)))  # the first FIN from each side
ours, theirs = fins[sys.argv[2]], fins[sys.argv[3]]
assert ours[1] == theirs[0] and theirs[1] == ours[0], f"synack FIN seq/ack {ours}, kernel FIN {theirs}"
print("capture: FINs crossed (each FIN's ACK is the other FIN's sequence number)")
PY
check_capture "$WORK/c3.pcap"

# The kernel, for both roles, observes its own path: for the record, its TIME-WAIT sockets.
in_ns ss -tan state time-wait
echo "PASS"
