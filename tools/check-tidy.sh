#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs clang-tidy (.clang-tidy at the top of the tree) over the .cpp files of src/ and bench/ with
# the compile commands of a configured build, and fails on any finding: the tree is kept clean.
#   tools/check-tidy.sh BUILD_DIR [FOLDER...]
# BUILD_DIR holds compile_commands.json (build-asan for ctest, build for `make tidy`). FOLDERs
# (src/cli, bench, ...; default: all of src/ and bench/) limit the run to the .cpp files under
# them, subfolders included, so that ctest can run it in shards (tests/CMakeLists.txt,
# structure_tidy_*), each file once. A tracked .cpp the build does not compile (the packetdrill
# shim is not built under the sanitizers) is checked with the project's include directories and
# -std=c++20. JOBS files at a time (default: all cores). TIDY_SKIP: checks to leave out of this
# run, comma-separated (ctest leaves out the costliest one: tests/CMakeLists.txt says why).
# Skips (exit 77) without clang-tidy.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
folders=("$@")
[[ ${#folders[@]} -gt 0 ]] || folders=(src bench)
if ! command -v clang-tidy >/dev/null; then
  echo "SKIP: clang-tidy not installed (apt-get install clang-tidy)"
  exit 77
fi
if [[ ! -f $build/compile_commands.json ]]; then
  echo "no $build/compile_commands.json: configure first (cmake --preset asan or release)" >&2
  exit 2
fi
root=$(pwd)
build=$(realpath "$build")
mapfile -t files < <(git ls-files -- "${folders[@]/%//*.cpp}")
if [[ ${#files[@]} -eq 0 ]]; then
  echo "no .cpp files under ${folders[*]}" >&2
  exit 2
fi
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
db=$build  # where compile_commands.json is read
# A unity build (the asan preset: CMakePresets.json) lists only its batches, Unity/unity_N_cxx.cxx,
# each #including some of a target's .cpp files: every .cpp file is given the command of the batch
# that holds it, so that clang-tidy sees it with the flags it was built with.
if grep -q '/Unity/unity_[0-9]*_cxx\.cxx"' "$build/compile_commands.json"; then
  mkdir -p "$log/db"
  python3 - "$build/compile_commands.json" "$log/db/compile_commands.json" <<'PY'
import json, re, sys
entries = []
for e in json.load(open(sys.argv[1])):
    batch = e["file"]
    if not re.search(r"/Unity/unity_\d+_cxx\.cxx$", batch):
        entries.append(e)
        continue
    for source in re.findall(r'^#include "(.+\.cpp)"$', open(batch).read(), re.M):
        entries.append({"directory": e["directory"], "file": source,
                        "command": e["command"].replace(batch, source)})
json.dump(entries, open(sys.argv[2], "w"), indent=1)
PY
  db=$log/db
fi
# One clang-tidy per file, JOBS at a time. GCC-only warning flags of the build (-Wno-restrict)
# are unknown to clang: not a finding.
tidy_one() {
  local file=$1 out skip=()
  [[ -n ${TIDY_SKIP:-} ]] && skip=("--checks=-${TIDY_SKIP//,/,-}")
  out=$log/$(tr / _ <<<"$file").log
  if grep -qF "\"file\": \"$root/$file\"" "$db/compile_commands.json"; then
    clang-tidy -p "$db" --quiet "${skip[@]}" -extra-arg=-Wno-unknown-warning-option "$root/$file" \
      >"$out" 2>&1 || echo "exit $?" >>"$out"
  else
    clang-tidy --quiet "${skip[@]}" "$root/$file" -- -std=c++20 -I"$root/include" -I"$root/src" \
      -I"$build/generated/include" >"$out" 2>&1 || echo "exit $?" >>"$out"
  fi
}
export -f tidy_one
export log root build db
start=$SECONDS
printf '%s\n' "${files[@]}" | xargs -P "${JOBS:-$(nproc)}" -I{} bash -c 'tidy_one "$@"' _ {}
findings=$(cat "$log"/*.log | grep -E "(warning|error): .*\[[a-z]" | sort -u || true)
[[ -n $findings ]] && echo "$findings"
count=$(grep -c . <<<"$findings" || true)
failed=$(grep -l '^exit ' "$log"/*.log || true)
if [[ -n $failed && $count -eq 0 ]]; then  # clang-tidy failed without a finding: show why
  for f in $failed; do tail -20 "$f"; done
fi
echo "clang-tidy: ${#files[@]} files under ${folders[*]} in $((SECONDS - start)) s: $count findings"
[[ -z $failed && $count -eq 0 ]]
