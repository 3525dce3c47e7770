#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The TUN deleted under synack (CMD may: it has every capability in its own namespaces):
#  - `synack run -- sh -c 'ip link del synack0; sleep 3'`: synack stops reading the TUN at once
#    and says so once (before, a deleted TUN stayed readable with EBADFD and the loop printed
#    the error 789,320 times in 2 s on one full CPU); CMD keeps running and its status is run's;
#    synack's CPU time in those 3 s stays small; --stats counts loop_tun_read_failed 1;
#  - the same with --queues 2 (a loop per queue, each says so once);
#  - `synack serve`: the TUN deleted ends it with status 1 and a message, as synack attach.
source "$(dirname "$0")/lib.bash" "$1" || exit 1  # without it nothing below could fail
interop_setup tun_deleted
need awk

# run_deleted NAME ARGS...: synack run ARGS --stats -- CMD that deletes its TUN, sleeps 3 s and
# exits 5; checks status, messages and CPU time (utime + stime of synack and CMD, from bash's
# `times` of this subshell's children).
run_deleted() {
  local name=$1 status cpu lines
  shift
  cpu=$( (timeout "$STEP_TIMEOUT" "$SYNACK" run "$@" --stats -- \
    sh -c 'ip link del synack0 && sleep 3 && exit 5' >"$WORK/$name.out" 2>"$WORK/$name.err"
    echo "status $?" >"$WORK/$name.status"
    times) | awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }')
  status=$(awk '{ print $2 }' "$WORK/$name.status")
  [ "$status" = 5 ] || { head -5 "$WORK/$name.err" >&2; fail "$name: synack run exited $status, want CMD's 5"; }
  lines=$(grep -c "no longer reading it" "$WORK/$name.err")
  want=${WANT_LINES:-1}
  [ "$lines" = "$want" ] || { head -5 "$WORK/$name.err" >&2; fail "$name: $lines lines saying the TUN is no longer read, want $want"; }
  [ "$(wc -l <"$WORK/$name.err")" -lt 200 ] || fail "$name: $(wc -l <"$WORK/$name.err") lines on stderr"
  # One per queue (--stats sums the queues).
  grep -q "^loop_tun_read_failed $want$" "$WORK/$name.err" || fail "$name: no loop_tun_read_failed $want in --stats"
  # Idle for 3 s once the TUN is gone; a spinning loop takes the whole 3 s of a CPU (an ASan
  # build starts in well under 1 s).
  awk -v c="$cpu" 'BEGIN { exit !(c < 1.5) }' || fail "$name: synack and CMD used $cpu s of CPU in 3 s: spinning"
  echo "$name: the TUN deleted: $want message(s), CMD's status 5, $cpu s of CPU over the 3 s"
}

run_deleted run
WANT_LINES=2 run_deleted run-queues-2 --queues 2

start_serve
ip -n "$NS" link del synack0
status=
for _ in $(seq 100); do
  kill -0 "$SERVE_PID" 2>/dev/null || { wait "$SERVE_PID"; status=$?; break; }
  sleep 0.1
done
[ -n "$status" ] || fail "synack serve still running 10 s after its TUN was deleted"
[ "$status" = 1 ] || { cat "$WORK/serve.err" >&2; fail "synack serve: status $status after its TUN was deleted, want 1"; }
grep -q "the TUN synack0 is gone" "$WORK/serve.err" || fail "synack serve: no message ($(head -3 "$WORK/serve.err"))"
echo "synack serve: the TUN deleted: status 1, '$(grep 'is gone' "$WORK/serve.err")'"
echo "PASS"
