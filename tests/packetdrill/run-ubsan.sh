#!/bin/bash
# SPDX-License-Identifier: MIT
# Every script against synack through a shim built with UBSan (issue 13, bad input and faults:
# a script that misuses the API or ends with connections open must tear down cleanly under
# UBSan). An ASan shim cannot be dlopen()ed with RTLD_DEEPBIND; a UBSan one can.
#
# usage: run-ubsan.sh PACKETDRILL SHIM.so
# Exit 77 (skip) without root or packetdrill; 1 when any script fails or UBSan reports.
set -u
pd=${1:?packetdrill}
shim=${2:?shim}
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "SKIP: packetdrill needs root"; exit 77; }
[ -x "$pd" ] || { echo "SKIP: packetdrill was not built ($pd missing)"; exit 77; }
[ -f "$shim" ] || { echo "no shim at $shim"; exit 1; }
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=0
pass=0 fail=0 skip=0
for script in "$here"/scripts/*.pkt; do
  mode=synack
  grep -q '^// profile: rfc' "$script" && mode=synack-rfc
  out=$("$here/run.sh" "$mode" "$script" "$pd" "$shim" 2>&1)
  rc=$?
  if [ $rc -eq 77 ]; then
    skip=$((skip + 1))
  elif [ $rc -eq 0 ] && ! grep -q "runtime error" <<<"$out"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: $(basename "$script") ($mode, exit $rc)"
    grep -m5 -E "runtime error|error|assert" <<<"$out"
  fi
done
echo "UBSan shim: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
