#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Signals and cleanup of synack run. SIGTERM to synack run reaches CMD (which traps it and exits
# 7): synack run exits 7. SIGINT likewise (CMD exits 8). Afterwards nothing is left: not CMD,
# no process in CMD's network namespace (so the namespace is gone), not synack's control socket
# /run/synack/PID.sock, not its temporary resolv.conf. SIGKILL to synack run takes CMD with it.
# A process CMD leaves running in the background must not outlive synack run either.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup run_signals --no-netns
need python3 readlink

# start_run NAME SCRIPT: synack run -- sh -c SCRIPT in the background, until it prints "ready";
# $RUN_PID, and CMD's pid, network namespace and resolv.conf file in $CMD_PID $CMD_NETNS $RESOLV.
start_run() {
  local name=$1
  "$SYNACK" run -- sh -c "$2" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  RUN_PID=$!
  PIDS+=("$RUN_PID")
  for _ in $(seq 100); do
    grep -q "^ready" "$WORK/$name.out" && break
    kill -0 "$RUN_PID" 2>/dev/null || { cat "$WORK/$name.err" >&2; fail "$name: synack run exited early"; }
    sleep 0.1
  done
  grep -q "^ready" "$WORK/$name.out" || fail "$name: CMD not ready after 10 s"
  read -r CMD_PID CMD_NETNS RESOLV < <(awk '$1 == "cmd" { print $2, $3, $4 }' "$WORK/$name.out")
  [ -n "$CMD_PID" ] && [ -n "$CMD_NETNS" ] || fail "$name: CMD did not report itself"
  # CMD runs in a PID namespace of its own: $$ is its pid there; find it as the host sees it.
  CMD_PID=$(host_pid "$CMD_NETNS" "$CMD_PID")
  [ -n "$CMD_PID" ] || fail "$name: CMD's process not found among the host's"
  [ "$(readlink /proc/self/ns/net)" != "$CMD_NETNS" ] || fail "$name: CMD runs in the host's network namespace"
  [ -e "/run/synack/$RUN_PID.sock" ] || echo "note: no /run/synack/$RUN_PID.sock while running"
}
# The CMD part that reports: its pid, its network namespace, the file behind its resolv.conf.
REPORT='echo "cmd $$ $(readlink /proc/self/ns/net) $(awk "\$5 == \"/etc/resolv.conf\" { print \$4 }" /proc/self/mountinfo | sed "s|.*/||")"'

# finished NAME WANT_STATUS [SECONDS]: synack run must exit with WANT_STATUS, then no trace left.
finished() {
  local name=$1 want=$2 status=
  for _ in $(seq $((${3:-10} * 10))); do
    kill -0 "$RUN_PID" 2>/dev/null || { wait "$RUN_PID"; status=$?; break; }
    sleep 0.1
  done
  [ -n "$status" ] || fail "$name: synack run still running after ${3:-10} s"
  [ "$status" = "$want" ] || { cat "$WORK/$name.out" "$WORK/$name.err" >&2; fail "$name: synack run exited $status, want $want"; }
  leftovers "$name"
  echo "$name: synack run exited $status; CMD, its namespace, the control socket and resolv.conf are gone"
}
# host_pid NS NSPID: the host's pid of the process in network namespace NS whose pid in its own
# PID namespace is NSPID (the last field of NSpid in /proc/PID/status).
host_pid() {
  python3 - "$1" "$2" <<'PY'
import os, sys
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        if os.readlink(f"/proc/{pid}/ns/net") != sys.argv[1]:
            continue
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("NSpid:") and line.split()[-1] == sys.argv[2]:
                print(pid)
    except OSError:
        pass
PY
}
# in_netns NS: "pid:command" of every process whose network namespace is NS (as readlink shows it).
in_netns() {
  python3 - "$1" <<'PY'
import os, sys
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        if os.readlink(f"/proc/{pid}/ns/net") == sys.argv[1]:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            print(f"{pid}:{cmd.strip()}", end=" ")
    except OSError:
        pass
PY
}
# leftovers NAME [killed]: CMD, any process in CMD's namespace, the control socket and the
# resolv.conf file (these two only when synack run could clean up, i.e. was not SIGKILLed).
leftovers() {
  local name=$1 left
  for _ in $(seq 20); do
    left=$(in_netns "$CMD_NETNS")
    [ -z "$left" ] && ! kill -0 "$CMD_PID" 2>/dev/null && break
    sleep 0.25
  done
  ! kill -0 "$CMD_PID" 2>/dev/null || fail "$name: CMD (pid $CMD_PID) still running after synack run exited"
  [ -z "$left" ] || fail "$name: processes left in CMD's network namespace $CMD_NETNS after synack run exited: $left"
  if [ "${2:-}" = killed ]; then
    # A SIGKILLed process cannot remove its files: ours to tidy up.
    rm -f "/run/synack/$RUN_PID.sock" "/tmp/${RESOLV:-synack-resolv-none}"
    return
  fi
  [ ! -e "/run/synack/$RUN_PID.sock" ] || fail "$name: /run/synack/$RUN_PID.sock left behind"
  if [ -n "$RESOLV" ] && [ -e "/tmp/$RESOLV" ]; then fail "$name: /tmp/$RESOLV (CMD's resolv.conf) left behind"; fi
}

start_run term "$REPORT"'; trap "exit 7" TERM; echo ready; while :; do sleep 0.1; done'
kill -TERM "$RUN_PID"
finished term 7

start_run int "$REPORT"'; trap "exit 8" INT; echo ready; while :; do sleep 0.1; done'
kill -INT "$RUN_PID"
finished int 8

# An untrapped SIGTERM kills CMD: 128 + 15.
start_run untrapped "$REPORT"'; echo ready; while :; do sleep 0.1; done'
kill -TERM "$RUN_PID"
finished untrapped 143

# synack run killed outright: CMD must not outlive it (it would hang on a dead interface).
start_run kill "$REPORT"'; echo ready; while :; do sleep 0.1; done'
kill -KILL "$RUN_PID"
wait "$RUN_PID" 2>/dev/null
leftovers kill killed
echo "kill: synack run SIGKILLed; CMD and its namespace went with it"

# CMD exits and leaves a child running in the namespace.
# CMD exits once told to (a file appears), not after a fixed delay: on a loaded machine the
# child had been ended with CMD before this script could find it.
start_run background "$REPORT"'; sleep 300 </dev/null >/dev/null 2>&1 & echo "child $!"; echo ready; i=0; while [ ! -e '"$WORK/go"' ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; exit 0'
child=$(awk '$1 == "child" { print $2 }' "$WORK/background.out")
child=$(host_pid "$CMD_NETNS" "$child")  # its pid as the host sees it (CMD has a PID namespace)
[ -n "$child" ] || fail "background: CMD's child not found among the host's processes"
PIDS+=("$child")  # killed at the end in any case
touch "$WORK/go"
for _ in $(seq 100); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.1; done
sleep 1
if kill -0 "$child" 2>/dev/null; then
  fail "background: CMD exited 0 and synack run returned, but CMD's child (pid $child: $(tr '\0' ' ' <"/proc/$child/cmdline")) still runs in CMD's network namespace $(readlink "/proc/$child/ns/net"), whose link synack no longer serves (the init of CMD's PID namespace should have ended it)"
fi
finished background 0
echo "PASS"
