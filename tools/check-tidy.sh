#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs clang-tidy (.clang-tidy at the top of the tree) over every .cpp of src/ and bench/ with
# the compile commands of a configured build (default build/, the release preset; `make tidy`
# configures it), or those matching a second argument. Fails on any finding: the tree is kept clean. Skips (exit 77) without
# clang-tidy. Not a ctest: about 60 files at 5-20 s of CPU each (CLI11 and nlohmann-json are
# heavy headers) is over three minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
only=${2:-}  # optional: a regex limiting the files, e.g. 'src/stack/'
if ! command -v run-clang-tidy >/dev/null || ! command -v clang-tidy >/dev/null; then
  echo "SKIP: clang-tidy not installed (apt-get install clang-tidy)"
  exit 77
fi
if [[ ! -f $build/compile_commands.json ]]; then
  echo "no $build/compile_commands.json: configure first (cmake --preset release)" >&2
  exit 2
fi
root=$(pwd)
# GCC-only warning flags of the build (-Wno-restrict) are unknown to clang: not a finding.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
run-clang-tidy -p "$build" -j "${JOBS:-$(nproc)}" -quiet \
  -extra-arg=-Wno-unknown-warning-option "^$root/(src|bench)/.*${only}.*\\.cpp$" >"$log" 2>&1 ||
  status=$?
grep -E "(warning|error): .*\[[a-z]" "$log" | sort -u || true
findings=$(grep -cE "(warning|error): .*\[[a-z]" "$log" || true)
echo "clang-tidy: $findings findings"
[[ $status -eq 0 && $findings -eq 0 ]]
