#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make bench-usermode`: user-mode networking side by side in one run (issue 5, item 8).
# A client in a network namespace, servers on the host's loopback, carried by
#   veth          the kernel on both sides (a veth pair; the reference)
#   slirp4netns   libslirp's TCP in user space
#   pasta         passt's tap path (the namespace's TCP terminated by pasta)
#   pasta splice  pasta's loopback path (kernel sockets on both sides), once, for context
#   synack splice `synack run -T`: the same path in synack (CMD's 127.0.0.1 spliced to the host's), once
#   synack        `synack run` ($SYNACK, default ./build/synack; "not available" until it exists)
# at MTU 1500 and 65520: iperf3 up and down, wrk against nginx (Connection: close and keep-alive),
# redis-benchmark PING with one client, and the provider process's CPU time (/proc/PID/stat
# utime+stime) per GB and per request. Prints one table and writes it between the
# bench-usermode markers of docs/performance.md (nothing else in the file is touched).
#
#   bench/usermode.sh [OUT.md]      root; needs ip, slirp4netns, pasta, iperf3, wrk, nginx,
#                                   redis-server, redis-benchmark, python3 (make bench-usermode-deps)
# Knobs (environment): SYNACK, SYNACK_ARGS (extra `synack run` options), PROVIDERS ("veth slirp4netns pasta pasta-splice synack synack-q2 synack-splice"),
# MTUS ("1500 65520"), PHASES ("iperf3 wrk redis scaling"), IPERF_SECONDS (10), WRK_SECONDS (10), WRK_THREADS (1),
# WRK_CONNECTIONS (16), REDIS_REQUESTS (10000 per run), REDIS_RUNS (3), VETH_NET (198.19.254: the veth pair's /24,
# the only address this script puts in the host's namespace). OUT=- prints without writing.
#
# The scaling phase (PHASES=scaling runs it alone) is a second pass over the providers at MTU
# SCALING_MTU (65520) only: iperf3 up and down with SCALING_STREAMS parallel streams ("1 4 16
# 64", iperf3 -P) and wrk `Connection: close` with SCALING_CLIENTS concurrent clients ("16 256
# 1024", wrk -c, SCALING_WRK_THREADS threads, default 1), SCALING_SECONDS (5) per point; every
# wrk point gets a fresh namespace and provider, so TIME-WAIT left by one point does not hold
# the next one's ports. It writes its own section (bench-usermode-scaling markers) and the
# curves docs/pictures/bench-usermode-*.svg (bench/plot.sh, gnuplot; PICTURES overrides the
# directory). 7 providers × 11 points of SCALING_SECONDS plus about 1 min of set-up: about 7.5 min
# at the default 5 s (1 min 40 s with SCALING_SECONDS=1, measured on 2 CPUs).
#
# Every server listens on 127.0.0.1 on a free port, except in the veth column: a namespace
# joined by veth reaches the host through the host's veth address, so there the servers
# listen on that address instead (VETH_NET.1; no NAT, no route_localnet). Every command
# runs under a timeout; everything started is stopped by PID and every namespace deleted
# on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
out=${1:-${OUT:-docs/performance.md}}
SYNACK=${SYNACK:-./build/synack}
PROVIDERS=${PROVIDERS:-"veth slirp4netns pasta pasta-splice synack synack-q2 synack-splice"}
MTUS=${MTUS:-"1500 65520"}
PHASES=${PHASES:-"iperf3 wrk redis scaling"}
main_phases=$(for p in $PHASES; do [ "$p" = scaling ] || printf '%s ' "$p"; done)
SCALING_MTU=${SCALING_MTU:-65520}
SCALING_STREAMS=${SCALING_STREAMS:-"1 4 16 64"}
SCALING_CLIENTS=${SCALING_CLIENTS:-"16 256 1024"}
SCALING_SECONDS=${SCALING_SECONDS:-5}
SCALING_WRK_THREADS=${SCALING_WRK_THREADS:-1}
PICTURES=${PICTURES:-$(dirname "$out")/pictures}
IPERF_SECONDS=${IPERF_SECONDS:-10}
WRK_SECONDS=${WRK_SECONDS:-10}
WRK_THREADS=${WRK_THREADS:-1}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-16}
REDIS_REQUESTS=${REDIS_REQUESTS:-10000}
REDIS_RUNS=${REDIS_RUNS:-3}
VETH_NET=${VETH_NET:-198.19.254}

[ "$(id -u)" = 0 ] || { echo "bench/usermode.sh: needs root (network namespaces)" >&2; exit 1; }
for tool in ip ss taskset slirp4netns pasta iperf3 wrk nginx redis-server redis-benchmark python3 timeout; do
  command -v "$tool" >/dev/null || { echo "bench/usermode.sh: $tool missing (make bench-usermode-deps)" >&2; exit 1; }
done
for p in $PHASES; do
  case $p in iperf3 | wrk | redis | scaling) ;; *) echo "bench/usermode.sh: unknown phase $p" >&2; exit 1 ;; esac
done
# wrk -c 1024, and nginx serving it, need a descriptor per connection and then some.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

tmp=$(mktemp -d /tmp/synack-usermode.XXXXXX)
results=$tmp/results.jsonl
: >"$results"
pids=()        # every long-lived process we start, stopped by PID in reverse order
namespaces=()  # every namespace we create
host_links=()  # veth host ends (deleting one deletes its peer)

stop_pid() {  # stop_pid PID: TERM, up to 3 s, then KILL; reap
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
stop_all() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
  pids=()
  for l in "${host_links[@]}"; do ip link del "$l" 2>/dev/null || true; done
  host_links=()
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  namespaces=()
}
cleanup() {
  stop_all
  if [ -n "${KEEP_TMP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# runcpu.py RESULT WATCH TIMEOUT CMD...: runs CMD with a time limit (TERM, then KILL 5 s later)
# and writes {"cpu", "wall", "status", "timed_out"} to RESULT. WATCH is the PID whose CPU time
# (utime+stime, all threads, not its children) is measured across the run, or "self" for CMD's
# own process (synack run): read when it has exited but before it is reaped (waitid WNOWAIT),
# so the time CMD's child spends (cutime) is not counted.
cat >"$tmp/runcpu.py" <<'EOF'
import json, os, signal, subprocess, sys, time
result, watch, limit, cmd = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]
tick = os.sysconf("SC_CLK_TCK")
def cpu(pid):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / tick  # utime, stime (fields 14, 15)
before = 0.0 if watch == "self" else cpu(watch)
start = time.monotonic()
child = subprocess.Popen(cmd)
timed_out = False
while True:
    info = os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    if info is not None:
        break
    elapsed = time.monotonic() - start
    if elapsed > limit and not timed_out:
        timed_out = True
        child.send_signal(signal.SIGTERM)
    if elapsed > limit + 5:
        child.send_signal(signal.SIGKILL)
    time.sleep(0.02)
after = cpu(child.pid if watch == "self" else watch)
status = child.wait()
used = None if before is None or after is None else after - before
json.dump({"cpu": used, "wall": time.monotonic() - start, "status": status, "timed_out": timed_out},
          open(result, "w"))
sys.exit(status if status >= 0 else 128 - status)
EOF

free_ports() {  # free_ports N: N distinct free TCP ports on 127.0.0.1 (and the veth address)
  python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}
wait_listen() {  # wait_listen PORT: until something listens on TCP PORT (≤ 10 s)
  local i
  for i in $(seq 100); do
    [ -n "$(ss -Hltn "sport = :$1")" ] && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2; return 1
}
record() {  # record COLUMN METRIC VALUE (VALUE may be null)
  printf '{"column": "%s", "metric": "%s", "value": %s}\n' "$1" "$2" "$3" >>"$results"
}

# --- servers -------------------------------------------------------------------------------
head -c 1024 /dev/zero | tr '\0' 'x' >"$tmp/small.html"   # the small file nginx serves (1 KiB)
start_servers() {  # start_servers ADDR: nginx and redis-server on ADDR, fresh ports
  local addr=$1 dir=$tmp/servers-$RANDOM
  mkdir -p "$dir/www" "$dir/tmp"
  cp "$tmp/small.html" "$dir/www/small.html"
  cat >"$dir/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server { listen $addr:$nginx_port; root $dir/www; }
}
EOF
  nginx -e "$dir/nginx-error.log" -p "$dir" -c "$dir/nginx.conf" &
  pids+=($!)
  redis-server --bind "$addr" --port "$redis_port" --save '' --appendonly no --protected-mode no \
    --daemonize no --dir "$dir" --logfile "$dir/redis.log" &
  redis_pid=$!
  pids+=($!)
  wait_listen "$nginx_port" && wait_listen "$redis_port"
}

# --- providers -----------------------------------------------------------------------------
# start_provider PROVIDER MTU sets: client (the command prefix that runs a program in the
# namespace), target (the address the client connects to), server_addr (where servers listen),
# watch (the PID whose CPU is the provider's, "self" for synack run, "" for the kernel).
start_provider() {
  local provider=$1 mtu=$2
  local ns=synack-um-$$-$provider-$mtu
  if [ "$provider" != synack ] && [ "$provider" != synack-q2 ]; then
    ip netns add "$ns"
    namespaces+=("$ns")
    ip -n "$ns" link set lo up
    client=(ip netns exec "$ns")
  fi
  case $provider in
    veth)
      local host=umv$$h
      if ip route show | grep -q "^$VETH_NET\.0/24"; then
        echo "$VETH_NET.0/24 is already routed on this host; set VETH_NET" >&2; return 1
      fi
      ip link add "$host" type veth peer name umv0 netns "$ns"
      host_links+=("$host")
      ip addr add "$VETH_NET.1/24" dev "$host"
      ip link set "$host" mtu "$mtu" up
      ip -n "$ns" addr add "$VETH_NET.2/24" dev umv0
      ip -n "$ns" link set umv0 mtu "$mtu" up
      ip -n "$ns" route add default via "$VETH_NET.1"
      target=$VETH_NET.1 server_addr=$VETH_NET.1 watch=
      ;;
    slirp4netns)
      # libslirp's gateway (.2 of --cidr) is the host's loopback unless --disable-host-loopback.
      slirp4netns --configure --mtu="$mtu" --cidr=198.18.0.0/24 --disable-dns \
        --netns-type=path "/run/netns/$ns" tap0 >"$tmp/slirp4netns-$mtu.log" 2>&1 &
      pids+=($!)
      watch=$! target=198.18.0.2 server_addr=127.0.0.1
      ;;
    pasta | pasta-splice)
      # As root pasta would drop to nobody; --runas 0:0 keeps it able to reach the namespace.
      # The gateway address (-g) is mapped to the host's loopback (this version's default;
      # --no-map-gw turns it off). -4: no IPv6 addresses copied from the host. The tap columns
      # forward no ports (-t/-u/-T/-U none); the splice column forwards the servers' ports from
      # the namespace's loopback to the host's (-T), where pasta splices kernel sockets.
      local forward=none
      [ "$provider" = pasta-splice ] && forward="$iperf_port,$nginx_port,$redis_port"
      pasta --runas 0:0 -f -q -4 --config-net -I tap0 -a 198.18.0.2 -n 24 -g 198.18.0.1 -m "$mtu" \
        -t none -u none -T "$forward" -U none --netns "/run/netns/$ns" >"$tmp/pasta-$mtu.log" 2>&1 &
      pids+=($!)
      watch=$! target=198.18.0.1 server_addr=127.0.0.1
      [ "$provider" = pasta-splice ] && target=127.0.0.1
      ;;
    synack)
      # shellcheck disable=SC2206  # SYNACK_ARGS: extra options, split on spaces
      client=("$SYNACK" run --allow-host-loopback --mtu "$mtu" ${SYNACK_ARGS:-} --)
      target=198.18.0.1 server_addr=127.0.0.1 watch=self
      return 0
      ;;
    synack-q2)
      # synack run --queues 2: two TUN queues, a stack and a thread each (both CPUs).
      # shellcheck disable=SC2206
      client=("$SYNACK" run --queues 2 --allow-host-loopback --mtu "$mtu" ${SYNACK_ARGS:-} --)
      target=198.18.0.1 server_addr=127.0.0.1 watch=self
      return 0
      ;;
    synack-splice)
      # synack run -T: the servers' ports on CMD's own loopback, spliced to the host's.
      # shellcheck disable=SC2206
      client=("$SYNACK" run -T "$iperf_port,$nginx_port,$redis_port" --mtu "$mtu" ${SYNACK_ARGS:-} --)
      target=127.0.0.1 server_addr=127.0.0.1 watch=self
      return 0
      ;;
  esac
  local i dev addr
  dev=$( [ "$provider" = veth ] && echo umv0 || echo tap0 )
  for i in $(seq 100); do  # until the namespace's interface has its address and the route
    ip -n "$ns" route show default 2>/dev/null | grep -q . && break
    sleep 0.1
  done
  ip -n "$ns" route show default | grep -q . || { echo "$provider: namespace not configured" >&2; return 1; }
  local got
  got=$(ip netns exec "$ns" cat "/sys/class/net/$dev/mtu")
  [ "$got" = "$mtu" ] || echo "$provider: namespace interface MTU is $got, not $mtu" >&2
  [ "$provider" = pasta-splice ] && wait_listen_ns "$ns" "$nginx_port"
  return 0
}
wait_listen_ns() {  # pasta binds the forwarded ports in the namespace shortly after it starts
  local i
  for i in $(seq 50); do
    [ -n "$(ip netns exec "$1" ss -Hltn "sport = :$2")" ] && return 0
    sleep 0.1
  done
}

# --- phases --------------------------------------------------------------------------------
# run_in_ns NAME LIMIT CMD...: CMD in the namespace (through $client), stdout to $tmp/NAME.out,
# CPU of $watch to $tmp/NAME.cpu; a failure is reported and leaves the figures empty.
run_in_ns() {
  local name=$1 limit=$2; shift 2
  local w=${watch:-self}
  if ! python3 "$tmp/runcpu.py" "$tmp/$name.cpu" "$w" "$limit" "${client[@]}" "$@" \
      >"$tmp/$name.out" 2>"$tmp/$name.err"; then
    echo "  $name failed: $(tail -c 300 "$tmp/$name.err" | tr '\n' ' ')" >&2
    return 1
  fi
}
provider_cpu() {  # provider_cpu NAME: seconds, or null (veth: the kernel's work has no process)
  if [ -z "$watch" ]; then echo null; else python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["cpu"]; print("null" if c is None else c)' "$tmp/$1.cpu"; fi
}

phase_iperf3() {  # phase_iperf3 COLUMN up|down
  local col=$1 dir=$2 name=$1-iperf3-$2 reverse=()
  [ "$dir" = down ] && reverse=(-R)
  iperf3 -s -1 -B "$server_addr" -p "$iperf_port" >"$tmp/$name.server" 2>&1 &
  local server=$!
  pids+=("$server")
  wait_listen "$iperf_port"
  if run_in_ns "$name" $((IPERF_SECONDS + 20)) iperf3 -c "$target" -p "$iperf_port" -t "$IPERF_SECONDS" "${reverse[@]}" -J; then
    python3 - "$tmp/$name.out" "$(provider_cpu "$name")" "$col" "$dir" >>"$results" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); cpu = json.loads(sys.argv[2]); col, dir = sys.argv[3], sys.argv[4]
end = d["end"]; received = end["sum_received"]
rec = lambda m, v: print(json.dumps({"column": col, "metric": m, "value": v}))
rec(f"iperf3_{dir}_gbps", received["bits_per_second"] / 1e9)
rec(f"iperf3_{dir}_cpu_per_gb", None if cpu is None else cpu / (received["bytes"] / 1e9))
if dir == "up": rec("iperf3_up_retransmits", end["sum_sent"].get("retransmits"))
EOF
  else
    record "$col" "iperf3_${dir}_gbps" null
  fi
  stop_pid "$server"
}

phase_wrk() {  # phase_wrk COLUMN close|keepalive
  local col=$1 mode=$2 name=$1-wrk-$2 header=()
  [ "$mode" = close ] && header=(-H "Connection: close")
  # TIME-WAIT sockets left in the namespace are counted inside it right after wrk ends.
  if run_in_ns "$name" $((WRK_SECONDS + 20)) sh -c 'wrk "$@"; rc=$?; echo "time-wait: $(ss -Htan state time-wait | wc -l)"; exit $rc' sh \
      -t "$WRK_THREADS" -c "$WRK_CONNECTIONS" -d "${WRK_SECONDS}s" --latency "${header[@]}" \
      "http://$target:$nginx_port/small.html"; then
    python3 - "$tmp/$name.out" "$(provider_cpu "$name")" "$col" "$mode" >>"$results" <<'EOF'
import json, re, sys
text = open(sys.argv[1]).read(); cpu = json.loads(sys.argv[2]); col, mode = sys.argv[3], sys.argv[4]
rec = lambda m, v: print(json.dumps({"column": col, "metric": m, "value": v}))
requests = int(re.search(r"(\d+) requests in", text).group(1))
errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
rec(f"wrk_{mode}_rps", float(re.search(r"Requests/sec:\s*([\d.]+)", text).group(1)))
rec(f"wrk_{mode}_errors", sum(map(int, errors.groups())) + (int(bad.group(1)) if bad else 0) if errors or bad else 0)
rec(f"wrk_{mode}_cpu_us", None if cpu is None or not requests else cpu / requests * 1e6)
if mode == "close": rec("wrk_close_time_wait", int(re.search(r"time-wait: (\d+)", text).group(1)))
EOF
  else
    record "$col" "wrk_${mode}_rps" null
  fi
}

# PING with one client is a ping-pong of wake-ups, and on a VM a wake-up on another CPU costs
# tens of µs (an IPI through the hypervisor), so p50 depends on where the scheduler puts client,
# provider and server: it is measured REDIS_RUNS times as placed by the scheduler (median and
# range reported), then once with all of them pinned to CPU 0 (the provider's own latency).
phase_redis() {  # phase_redis COLUMN
  local col=$1 i
  for i in $(seq "$REDIS_RUNS"); do
    run_in_ns "$col-redis-$i" 120 redis-benchmark -h "$target" -p "$redis_port" -c 1 -n "$REDIS_REQUESTS" \
      -t ping_mbulk --csv || true
  done
  local saved_client=("${client[@]}") provider_mask='' redis_mask
  redis_mask=$(taskset -p "$redis_pid" | awk '{print $NF}')
  taskset -a -p -c 0 "$redis_pid" >/dev/null
  if [ -n "$watch" ] && [ "$watch" != self ]; then
    provider_mask=$(taskset -p "$watch" | awk '{print $NF}')
    taskset -a -p -c 0 "$watch" >/dev/null
  fi
  client=(taskset -c 0 "${client[@]}")  # synack run: synack and CMD both on CPU 0
  run_in_ns "$col-redis-pinned" 120 redis-benchmark -h "$target" -p "$redis_port" -c 1 -n "$REDIS_REQUESTS" \
    -t ping_mbulk --csv || true
  client=("${saved_client[@]}")
  taskset -a -p "$redis_mask" "$redis_pid" >/dev/null
  [ -n "$provider_mask" ] && taskset -a -p "$provider_mask" "$watch" >/dev/null
  python3 - "$tmp" "$col" "$REDIS_RUNS" "$REDIS_REQUESTS" "${watch:+yes}" >>"$results" <<'EOF'
import csv, json, statistics, sys
tmp, col, runs, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
has_provider = sys.argv[5:] == ["yes"]
rec = lambda m, v: print(json.dumps({"column": col, "metric": m, "value": v}))
def load(name):
    try:
        row = list(csv.DictReader(open(f"{tmp}/{name}.out")))[-1]
        cpu = json.load(open(f"{tmp}/{name}.cpu"))["cpu"] if has_provider else None
        return float(row["rps"]), float(row["p50_latency_ms"]) * 1000, cpu
    except (OSError, IndexError, KeyError, ValueError):
        return None
placed = [r for r in (load(f"{col}-redis-{i}") for i in range(1, runs + 1)) if r]
if placed:
    rec("redis_ping_rps", statistics.median(r[0] for r in placed))
    rec("redis_ping_p50_us", statistics.median(r[1] for r in placed))
    rec("redis_ping_p50_min_us", min(r[1] for r in placed))
    rec("redis_ping_p50_max_us", max(r[1] for r in placed))
    cpus = [r[2] for r in placed]
    rec("redis_ping_cpu_us", None if None in cpus else sum(cpus) / (n * len(placed)) * 1e6)
pinned = load(f"{col}-redis-pinned")
if pinned:
    rec("redis_pinned_rps", pinned[0])
    rec("redis_pinned_p50_us", pinned[1])
EOF
}

synack_available() {  # until `run` exists, CLI11 answers `run --help` with the top-level help
  local help
  [ -x "$SYNACK" ] && help=$("$SYNACK" run --help 2>&1) && [[ $help == *--allow-host-loopback* ]]
}

# --- the scaling phase: iperf3 -P N and wrk -c N at one MTU ---------------------------------
phase_scaling_iperf3() {  # phase_scaling_iperf3 COLUMN up|down STREAMS
  local col=$1 dir=$2 p=$3 name=$1-iperf3-$2-P$3 reverse=()
  name=${name//:/-}
  [ "$dir" = down ] && reverse=(-R)
  iperf3 -s -1 -B "$server_addr" -p "$iperf_port" >"$tmp/$name.server" 2>&1 &
  local server=$!
  pids+=("$server")
  if wait_listen "$iperf_port" &&
      run_in_ns "$name" $((SCALING_SECONDS + 20)) iperf3 -c "$target" -p "$iperf_port" \
        -t "$SCALING_SECONDS" -P "$p" "${reverse[@]}" -J &&
      python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(json.dumps({"column": sys.argv[2], "metric": sys.argv[3],
                  "value": d["end"]["sum_received"]["bits_per_second"] / 1e9}))
' "$tmp/$name.out" "$col" "iperf3_${dir}_P${p}_gbps" >>"$results"; then
    :
  else
    record "$col" "iperf3_${dir}_P${p}_gbps" null
  fi
  stop_pid "$server"
}
phase_scaling_wrk() {  # phase_scaling_wrk COLUMN CLIENTS
  local col=$1 c=$2 name=$1-wrk-c$2 threads=$SCALING_WRK_THREADS
  name=${name//:/-}
  ((threads <= c)) || threads=$c
  if run_in_ns "$name" $((SCALING_SECONDS + 20)) wrk -t "$threads" -c "$c" -d "${SCALING_SECONDS}s" \
      -H "Connection: close" "http://$target:$nginx_port/small.html" &&
      python3 -c '
import json, re, sys
text = open(sys.argv[1]).read(); col, c = sys.argv[2], sys.argv[3]
rec = lambda m, v: print(json.dumps({"column": col, "metric": m, "value": v}))
errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
rps = float(re.search(r"Requests/sec:\s*([\d.]+)", text).group(1))
rec(f"wrk_close_c{c}_rps", rps)
rec(f"wrk_close_c{c}_errors", (sum(map(int, errors.groups())) if errors else 0) + (int(bad.group(1)) if bad else 0))
' "$tmp/$name.out" "$col" "$c" >>"$results"; then
    :
  else
    record "$col" "wrk_close_c${c}_rps" null
  fi
}
# scaling_start COLUMN PROVIDER: the provider at SCALING_MTU and servers on fresh ports;
# returns 1 (recorded, everything stopped) if it did not start.
scaling_start() {
  read -r iperf_port nginx_port redis_port < <(free_ports 3)
  client=() target='' server_addr='' watch=
  if ! start_provider "$2" "$SCALING_MTU" || ! start_servers "$server_addr"; then
    echo "  $1: provider did not start; see $tmp" >&2
    record "$1" failed true
    stop_all
    return 1
  fi
}
scaling_columns=()
run_scaling() {
  local provider col p dir c
  for provider in $PROVIDERS; do
    col=scaling:$provider
    scaling_columns+=("$col")
    if [[ $provider == synack* ]] && ! synack_available; then
      echo "== $col: not available ($SYNACK has no 'run' subcommand yet)" >&2
      record "$col" unavailable true
      continue
    fi
    echo "== $col (MTU $SCALING_MTU)" >&2
    if scaling_start "$col" "$provider"; then
      for p in $SCALING_STREAMS; do
        for dir in up down; do phase_scaling_iperf3 "$col" "$dir" "$p" || true; done
      done
      stop_all
    fi
    for c in $SCALING_CLIENTS; do  # a fresh namespace and provider for each point
      scaling_start "$col" "$provider" || continue
      phase_scaling_wrk "$col" "$c" || true
      stop_all
    done
    grep -F "\"column\": \"$col\"" "$results" | python3 -c '
import json, sys
show = lambda x: f"{x:.4g}" if isinstance(x, float) else str(x)
print("  " + ", ".join(r["metric"] + "=" + show(r["value"]) for r in map(json.loads, sys.stdin)))' >&2
  done
}

# --- the run -------------------------------------------------------------------------------
versions=$(for p in slirp4netns passt iperf3 wrk nginx redis-tools; do
  printf '%s %s, ' "$p" "$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo '?')"; done)
# The load before anything of ours ran: later phases see the load of the earlier ones.
run_load_start=$(cut -d' ' -f1-3 /proc/loadavg)
if [ -n "$main_phases" ]; then
load_start=$run_load_start
columns=()
for mtu in $MTUS; do
  for provider in $PROVIDERS; do
    case $provider in pasta-splice | synack-splice)
      [ "$mtu" != "${MTUS##* }" ] && continue  # once: MTU-independent
      col=$provider ;;
    *) col=$provider-$mtu ;;
    esac
    columns+=("$col")
    if [[ $provider == synack* ]] && ! synack_available; then
      echo "== $col: not available ($SYNACK has no 'run' subcommand yet)" >&2
      record "$col" unavailable true
      continue
    fi
    echo "== $col" >&2
    read -r iperf_port nginx_port redis_port < <(free_ports 3)
    client=() target='' server_addr='' watch=
    if ! start_provider "$provider" "$mtu"; then
      echo "  $col: provider did not start; see $tmp" >&2
      record "$col" failed true
      stop_all
      continue
    fi
    start_servers "$server_addr"
    if [[ " $PHASES " == *" iperf3 "* ]]; then phase_iperf3 "$col" up || true; phase_iperf3 "$col" down || true; fi
    if [[ " $PHASES " == *" wrk "* ]]; then phase_wrk "$col" close || true; phase_wrk "$col" keepalive || true; fi
    if [[ " $PHASES " == *" redis "* ]]; then phase_redis "$col" || true; fi
    if [ -n "$watch" ] && [ "$watch" != self ] && ! kill -0 "$watch" 2>/dev/null; then
      echo "  $col: provider exited during the run" >&2
    fi
    stop_all
    grep "\"column\": \"$col\"" "$results" | python3 -c '
import json, sys
show = lambda x: f"{x:.4g}" if isinstance(x, float) else str(x)
print("  " + ", ".join(r["metric"] + "=" + show(r["value"]) for r in map(json.loads, sys.stdin)))' >&2
  done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$((SECONDS - started))

python3 - "$results" "$out" "${columns[*]}" "$MTUS" "$load_start" "$load_end" "$elapsed" "${versions%, }" \
  "$IPERF_SECONDS" "$WRK_SECONDS" "$WRK_THREADS" "$WRK_CONNECTIONS" "$REDIS_REQUESTS" "$VETH_NET" "$REDIS_RUNS" <<'EOF'
import datetime, json, os, platform, sys
(results, out, columns, mtus, load_start, load_end, elapsed, versions,
 iperf_s, wrk_s, wrk_t, wrk_c, redis_n, veth_net, redis_runs) = sys.argv[1:]
columns, mtus = columns.split(), mtus.split()
data = {}
for r in map(json.loads, filter(str.strip, open(results))):
    data.setdefault(r["column"], {})[r["metric"]] = r["value"]
def v(col, metric):
    x = data.get(col, {}).get(metric)
    return x if isinstance(x, (int, float)) and not isinstance(x, bool) else None
def fmt(x):
    if x is None: return "—"
    if x == 0: return "0"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"
def ratio(a, b): return "—" if a is None or not b else f"{a / b:.2f}×"
names = {"veth": "veth", "slirp4netns": "slirp4netns", "pasta": "pasta", "synack": "synack run",
         "synack-q2": "synack run --queues 2",
         "pasta-splice": "pasta splice (ns loopback)", "synack-splice": "synack run -T (ns loopback)"}
def heading(col):
    if col in ("pasta-splice", "synack-splice"): return names[col]
    provider, mtu = col.rsplit("-", 1)
    return f"{names[provider]} {mtu}"
rows = [
    ("iperf3 up, namespace → host (Gbit/s)", "iperf3_up_gbps"),
    ("iperf3 down, host → namespace (Gbit/s)", "iperf3_down_gbps"),
    ("iperf3 up: retransmitted segments (namespace's kernel)", "iperf3_up_retransmits"),
    ("provider CPU per GB up (s)", "iperf3_up_cpu_per_gb"),
    ("provider CPU per GB down (s)", "iperf3_down_cpu_per_gb"),
    ("wrk `Connection: close`: new connections/s", "wrk_close_rps"),
    ("wrk `Connection: close`: socket errors + non-2xx", "wrk_close_errors"),
    ("TIME-WAIT sockets in the namespace after it", "wrk_close_time_wait"),
    ("provider CPU per short connection (µs)", "wrk_close_cpu_us"),
    ("wrk keep-alive: requests/s", "wrk_keepalive_rps"),
    ("wrk keep-alive: socket errors + non-2xx", "wrk_keepalive_errors"),
    ("provider CPU per keep-alive request (µs)", "wrk_keepalive_cpu_us"),
    ("redis-benchmark PING, 1 client: requests/s (median of runs)", "redis_ping_rps"),
    ("redis-benchmark PING, 1 client: p50 (µs, median of runs)", "redis_ping_p50_us"),
    ("  lowest p50 of the runs (µs)", "redis_ping_p50_min_us"),
    ("  highest p50 of the runs (µs)", "redis_ping_p50_max_us"),
    ("  p50 with client, provider and server on one CPU (µs)", "redis_pinned_p50_us"),
    ("provider CPU per PING (µs)", "redis_ping_cpu_us"),
]
ratio_cols = [(f"synack/{p} {m}", f"synack-{m}", f"{p}-{m}") for p in ("pasta", "slirp4netns") for m in mtus]
ratio_cols += [("synack -T / pasta splice", "synack-splice", "pasta-splice")]
header = "| measure | " + " | ".join(map(heading, columns)) + " | " + " | ".join(r[0] for r in ratio_cols) + " |"
lines = [header, "|---|" + "---:|" * (len(columns) + len(ratio_cols))]
for label, metric in rows:
    cells = [fmt(v(c, metric)) for c in columns]
    cells += [ratio(v(s, metric), v(o, metric)) for _, s, o in ratio_cols]
    lines.append(f"| {label} | " + " | ".join(cells) + " |")
table = "\n".join(lines)

def t(metric, mtu, op, goal, unit, fmt_goal):
    x = v(f"synack-{mtu}", metric)
    if x is None: verdict = "not measured"
    elif (x >= goal if op == "≥" else x <= goal): verdict = "met"
    else: verdict = f"missed ({fmt(x)} {unit}, {x / goal:.2f}× the target)"
    return f"| {fmt_goal} | {mtu} | {fmt(x)} | {verdict} |"
targets = ["| target (issue 5) | MTU | synack | |", "|---|---:|---:|---|"]
for m, goal in (("65520", 15), ("1500", 3)):
    if m in mtus:
        targets += [t("iperf3_up_gbps", m, "≥", goal, "Gbit/s", f"iperf3 up ≥ {goal} Gbit/s"),
                    t("iperf3_down_gbps", m, "≥", goal, "Gbit/s", f"iperf3 down ≥ {goal} Gbit/s")]
for m in mtus:
    targets += [t("wrk_close_rps", m, "≥", 15000, "/s", "≥ 15k new connections/s (default sysctls)"),
                t("wrk_keepalive_rps", m, "≥", 80000, "/s", "≥ 80k keep-alive requests/s"),
                t("redis_ping_p50_us", m, "≤", 70, "µs", "PING p50 ≤ 70 µs"),
                t("iperf3_up_cpu_per_gb", m, "≤", 0.3, "s", "≤ 0.3 CPU-s per GB (up)"),
                t("iperf3_down_cpu_per_gb", m, "≤", 0.3, "s", "≤ 0.3 CPU-s per GB (down)"),
                t("wrk_close_cpu_us", m, "≤", 50, "µs", "≤ 50 µs CPU per short connection")]
targets = "\n".join(targets)

synack_missing = [c for c in columns if c.startswith("synack") and data.get(c, {}).get("unavailable")]
failed = [c for c in columns if data.get(c, {}).get("failed")]
cpu = next((x.split(":", 1)[1].strip() for x in open("/proc/cpuinfo") if x.startswith("model name")), "?")
today = datetime.date.today().isoformat()
partial = ""
if float(load_start.split()[0]) >= os.cpu_count() / 2:
    partial = (f"**Loaded machine:** the load average was {load_start.split()[0]} when the run started, on "
               f"{os.cpu_count()} CPUs: other work shared the CPUs, so these figures are not this "
               "machine's best. Rerun on an idle machine.\n\n")
if synack_missing:
    partial += ("**Partial:** `synack run` did not exist in the binary measured, so the synack columns, "
               "the ratios and the targets are empty. Re-run `make bench-usermode` once it does.\n\n")
if failed:
    partial += f"**Failed to start:** {', '.join(failed)}.\n\n"
body = f"""{partial}Run {today} on {os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}; load average
{load_start} at the start and {load_end} at the end; the script took {int(elapsed) // 60} min {int(elapsed) % 60} s.
Versions: {versions}.

{table}

CPU is the provider process's utime+stime from `/proc/PID/stat` (all its threads), before and
after each phase, divided by the GB iperf3 moved or by the requests wrk / redis-benchmark
completed; veth has no provider process (the kernel's work runs in softirq and is not counted).
For synack each phase is its own `synack run`, so its figure includes that run's start and exit.
Ratios are synack ÷ the other: above 1 is better for rates, below 1 for CPU, latency, errors.
A one-client PING is a chain of wake-ups; on a VM a wake-up on another CPU costs tens of µs (an IPI
through the hypervisor), so its p50 depends on where the scheduler places client, provider and
server and differs from run to run (lowest/highest rows); the pinned row shows the path's own cost.

{targets}
"""
begin, end = "<!-- bench-usermode:begin -->", "<!-- bench-usermode:end -->"
section = f"""{begin}
## User-mode networking: synack run beside veth, slirp4netns and pasta

`make bench-usermode` (`bench/usermode.sh`, root) runs every provider in one run. A client in a
network namespace, servers on the host's loopback (127.0.0.1, fresh ports for each column):
`iperf3 -t {iperf_s}` up and down (`-R`), one stream; `wrk -t {wrk_t} -c {wrk_c} -d {wrk_s}s` against
nginx (1 worker, `access_log off`) serving a 1 KiB file, with `Connection: close` (every request a
new connection) and with keep-alive; `redis-benchmark -c 1 -n {redis_n} -t ping_mbulk` against
redis-server without persistence, {redis_runs} times where the scheduler puts the processes and once with
client, provider and server pinned to CPU 0 (`taskset`). How each namespace is joined:

- **veth**: a veth pair, {veth_net}.2 in the namespace and {veth_net}.1 on the host; the servers
  listen on {veth_net}.1 (the host's end of the pair) instead of 127.0.0.1, the plain way a
  namespace reaches a host service over veth (no NAT or `route_localnet`).
- **slirp4netns** `--configure --mtu=N --cidr=198.18.0.0/24`: the namespace is 198.18.0.100 and
  connects to the gateway 198.18.0.2, which libslirp maps to the host's 127.0.0.1.
- **pasta** `--runas 0:0 --config-net -4 -a 198.18.0.2 -n 24 -g 198.18.0.1 -m N -t none -u none
  -T none -U none --netns PATH`: the tap path; the gateway 198.18.0.1 is mapped to the host's
  loopback (this version's default, `--no-map-gw` turns it off).
- **pasta splice**: the same with `-T PORTS`; the client connects to 127.0.0.1 inside the namespace,
  pasta accepts there and splices to the host's 127.0.0.1 with kernel sockets on both sides (no
  TCP of its own, no MTU): the upper bound for a relay made of kernel sockets.
- **synack run**: `synack run --allow-host-loopback --mtu N -- CMD`, connecting to 198.18.0.1.
- **synack run -T**: `synack run -T PORTS -- CMD`, connecting to 127.0.0.1 inside the namespace:
  synack accepts there and splices to the host's 127.0.0.1 as pasta's splice path does (kernel
  sockets on both sides, `splice(2)` through a pipe each way; no MTU).

{body}{end}"""
if out != "-":
    doc = open(out).read() if os.path.exists(out) else "# Performance\n"
    if begin in doc and end in doc:
        doc = doc[:doc.index(begin)] + section + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip("\n") + "\n\n" + section + "\n"
    open(out, "w").write(doc)
print(table)
print()
print(targets)
EOF
[ "$out" = - ] || echo "wrote $out (section bench-usermode)" >&2
fi

if [[ " $PHASES " == *" scaling "* ]]; then
  scaling_started=$SECONDS
  scaling_load_start=$run_load_start  # what else ran, not our own earlier phases
  run_scaling
  scaling_load_end=$(cut -d' ' -f1-3 /proc/loadavg)
  [ "$out" = - ] || mkdir -p "$PICTURES"
  python3 - "$results" "$out" "${scaling_columns[*]}" "$scaling_load_start" "$scaling_load_end" \
    "$((SECONDS - scaling_started))" "${versions%, }" "$SCALING_MTU" "$SCALING_STREAMS" \
    "$SCALING_CLIENTS" "$SCALING_SECONDS" "$SCALING_WRK_THREADS" "$PICTURES" "$tmp" <<'EOF'
import datetime, json, os, platform, subprocess, sys
(results, out, columns, load_start, load_end, elapsed, versions, mtu, streams, clients, seconds,
 threads, pictures, tmp) = sys.argv[1:]
columns, streams, clients = columns.split(), streams.split(), clients.split()
data = {}
for r in map(json.loads, filter(str.strip, open(results))):
    data.setdefault(r["column"], {})[r["metric"]] = r["value"]
def v(col, metric):
    x = data.get(col, {}).get(metric)
    return x if isinstance(x, (int, float)) and not isinstance(x, bool) else None
def fmt(x):
    if x is None: return "—"
    if x == 0: return "0"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"
names = {"veth": "veth", "slirp4netns": "slirp4netns", "pasta": "pasta", "synack": "synack run",
         "synack-q2": "synack run --queues 2",
         "pasta-splice": "pasta splice", "synack-splice": "synack run -T"}
def heading(col):
    provider = col.split(":", 1)[1]
    return names.get(provider, provider)
def n(k): return f"{int(k):,}"
rows = []
for d, label in (("up", "namespace → host"), ("down", "host → namespace")):
    for p in streams:
        rows.append((f"iperf3 {d} ({label}), {n(p)} stream{'s' if p != '1' else ''} (Gbit/s)",
                     f"iperf3_{d}_P{p}_gbps"))
for c in clients:
    rows.append((f"wrk `Connection: close`, {n(c)} clients: new connections/s", f"wrk_close_c{c}_rps"))
for c in clients:
    rows.append((f"  socket errors + non-2xx, {n(c)} clients", f"wrk_close_c{c}_errors"))
lines = ["| measure | " + " | ".join(map(heading, columns)) + " |",
         "|---|" + "---:|" * len(columns)]
for label, metric in rows:
    lines.append(f"| {label} | " + " | ".join(fmt(v(c, metric)) for c in columns) + " |")
table = "\n".join(lines)

# The curves: one line per provider.
figures = []
if out != "-":
    rel = os.path.relpath(pictures, os.path.dirname(os.path.abspath(out)))
    plots = [(f"bench-usermode-streams-{d}.svg",
              f"iperf3 {d} ({label}), MTU {mtu}, {seconds} s per point",
              "parallel streams (iperf3 -P)", "Gbit/s (all streams)", streams,
              lambda x, d=d: f"iperf3_{d}_P{x}_gbps")
             for d, label in (("up", "namespace to host"), ("down", "host to namespace"))]
    plots.append(("bench-usermode-clients.svg",
                  f"wrk Connection: close, MTU {mtu}, {seconds} s per point",
                  "concurrent clients (wrk -c)", "new connections/s", clients,
                  lambda x: f"wrk_close_c{x}_rps"))
    for svg, title, xlabel, ylabel, xs, metric in plots:
        path = os.path.join(tmp, svg + ".dat")
        with open(path, "w") as f:
            f.write("x " + " ".join(json.dumps(heading(c)) for c in columns) + "\n")
            for x in xs:
                cells = [v(c, metric(x)) for c in columns]
                f.write(x + " " + " ".join("-" if y is None else repr(y) for y in cells) + "\n")
        subprocess.run(["bench/plot.sh", os.path.join(pictures, svg), title, xlabel, ylabel, path],
                       check=True)
        figures.append(f"![{title}]({rel}/{svg})")

notes = ""
if float(load_start.split()[0]) >= os.cpu_count() / 2:
    notes += (f"**Loaded machine:** the load average was {load_start.split()[0]} when the run started, "
              f"on {os.cpu_count()} CPUs: other work shared the CPUs, so these figures are not this "
              "machine's best. Rerun on an idle machine.\n\n")
if float(seconds) < 5:
    notes += (f"**Short points:** {seconds} s each (SCALING_SECONDS; default 5): a check that the phase "
              "works, not a measurement.\n\n")
unavailable = [heading(c) for c in columns if data.get(c, {}).get("unavailable")]
failed = [heading(c) for c in columns if data.get(c, {}).get("failed")]
if unavailable:
    notes += f"**Not available:** {', '.join(unavailable)} (no `synack run` in the binary measured).\n\n"
if failed:
    notes += f"**Failed to start (some or all points):** {', '.join(failed)}.\n\n"
cpu = next((x.split(":", 1)[1].strip() for x in open("/proc/cpuinfo") if x.startswith("model name")), "?")
elapsed = int(elapsed)
begin, end = "<!-- bench-usermode-scaling:begin -->", "<!-- bench-usermode-scaling:end -->"
figures_md = "\n\n".join(figures)
section = f"""{begin}
## User-mode networking: scaling with streams and clients

`PHASES=scaling make bench-usermode` (part of the default `make bench-usermode`) runs every
provider again at MTU {mtu} only, joined to the namespace as in the section above, with the
servers on the host's loopback: `iperf3 -P N -t {seconds}` up and down (`-R`) for N = {", ".join(map(n, streams))}
parallel streams (the sum of all streams), and `wrk -t {threads} -c N -d {seconds}s -H "Connection: close"`
against nginx's 1 KiB file for N = {", ".join(map(n, clients))} concurrent clients (every request a new
connection). Every wrk point has a fresh namespace and provider, so TIME-WAIT sockets left by one
point do not hold the next one's ports; the iperf3 points share one. A point that failed shows "—".

{notes}Run {datetime.date.today().isoformat()} on {os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}; load average
{load_start} at the start and {load_end} at the end; the phase took {elapsed // 60} min {elapsed % 60} s.
Versions: {versions}.

{table}

{figures_md}
{end}"""
if out != "-":
    doc = open(out).read() if os.path.exists(out) else "# Performance\n"
    if begin in doc and end in doc:
        doc = doc[:doc.index(begin)] + section + doc[doc.index(end) + len(end):]
    elif "<!-- bench-tun:begin" in doc:  # after the user-mode section and its notes
        i = doc.index("<!-- bench-tun:begin")
        doc = doc[:i] + section + "\n\n" + doc[i:]
    else:
        doc = doc.rstrip("\n") + "\n\n" + section + "\n"
    open(out, "w").write(doc)
print(table)
EOF
  [ "$out" = - ] || echo "wrote $out (section bench-usermode-scaling)" >&2
fi
