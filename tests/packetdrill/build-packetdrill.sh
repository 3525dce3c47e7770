#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds packetdrill into the build tree for the packetdrill tests (ctest -L packetdrill).
# usage: build-packetdrill.sh PACKETDRILL_SOURCE_DIR BUILD_DIR
# Exits 77 (skipped) when the source is absent or the build fails, so that the scripts
# then skip with a message instead of failing.
src=${1:?packetdrill source dir (with build.sh)}
out=${2:?build dir}
if [ ! -x "$src/build.sh" ]; then
  echo "SKIP: no packetdrill at $src (expected ../shared/tools/packetdrill beside the repo)"
  exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: packetdrill tests need root (packetdrill calls mlockall, makes TUN devices)"
  exit 77
fi
if ! JOBS=${JOBS:-2} "$src/build.sh" "$out" >"$out.build.log" 2>&1; then
  echo "SKIP: packetdrill did not build; see $out.build.log"
  tail -5 "$out.build.log"
  exit 77
fi
echo "packetdrill: $out/packetdrill"
