#!/bin/bash
# SPDX-License-Identifier: MIT
# Every script against synack through a shim built with UBSan (issue 13, bad input and faults:
# a script that misuses the API or ends with connections open must tear down cleanly under
# UBSan). An ASan shim cannot be dlopen()ed with RTLD_DEEPBIND; a UBSan one can.
#
# usage: run-ubsan.sh PACKETDRILL SHIM.so
# PACKETDRILL_JOBS scripts at a time (default 4): a run against the shim has no TUN and no
# namespace, so runs do not delay one another's packets as runs against Linux do
# (CMakeLists.txt here), and most of their time is spent waiting on the scripts' timers. The
# long scripts ("// ctest-cost: SECONDS") start first.
# Exit 77 (skip) without root or packetdrill; 1 when any script fails or UBSan reports.
set -u
pd=${1:?packetdrill}
shim=${2:?shim}
jobs=${PACKETDRILL_JOBS:-4}
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "SKIP: packetdrill needs root"; exit 77; }
[ -x "$pd" ] || { echo "SKIP: packetdrill was not built ($pd missing)"; exit 77; }
[ -f "$shim" ] || { echo "no shim at $shim"; exit 1; }
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=0
out_dir=$(mktemp -d)
trap 'rm -rf "$out_dir"' EXIT

# One script: its output to OUT_DIR/NAME.out, its verdict (pass, fail or skip) to NAME.verdict.
run_one() {
  local script=$1 mode=synack name rc out
  name=$(basename "$script" .pkt)
  grep -q '^// profile: rfc' "$script" && mode=synack-rfc
  out="$out_dir/$name.out"
  "$here/run.sh" "$mode" "$script" "$pd" "$shim" >"$out" 2>&1
  rc=$?
  if [ $rc -eq 77 ]; then
    echo skip >"$out_dir/$name.verdict"
  elif [ $rc -eq 0 ] && ! grep -q "runtime error" "$out"; then
    echo pass >"$out_dir/$name.verdict"
  else
    echo "fail $mode $rc" >"$out_dir/$name.verdict"
  fi
}
export -f run_one
export here pd shim out_dir

# Costliest first, then the rest in name order. ($1 in single quotes is the inner shell's.)
# shellcheck disable=SC2016
for script in "$here"/scripts/*.pkt; do
  cost=$(sed -n 's|^// ctest-cost: \([0-9]*\).*|\1|p' "$script" | head -1)
  printf '%s %s\n' "${cost:-0}" "$script"
done | sort -k1,1nr -k2,2 | cut -d' ' -f2- |
  xargs -P "$jobs" -I{} bash -c 'run_one "$1"' _ {}

pass=0 fail=0 skip=0
for script in "$here"/scripts/*.pkt; do
  name=$(basename "$script" .pkt)
  verdict=$(cat "$out_dir/$name.verdict" 2>/dev/null || echo "fail ? none")
  case "$verdict" in
    pass) pass=$((pass + 1)) ;;
    skip) skip=$((skip + 1)) ;;
    *)
      fail=$((fail + 1))
      read -r _ mode rc <<<"$verdict"
      echo "FAIL: $name.pkt ($mode, exit $rc)"
      grep -m5 -E "runtime error|error|assert" "$out_dir/$name.out" 2>/dev/null
      ;;
  esac
done
echo "UBSan shim: $pass passed, $fail failed, $skip skipped ($jobs at a time)"
[ $fail -eq 0 ]
