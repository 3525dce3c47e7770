#!/bin/bash
# Puts "// SPDX-License-Identifier: MIT" (or "# ..." for shell, CMake and Python) on the first
# line of every tracked source file that lacks one — after a #! line when there is one. It touches
# nearly every file, so it is meant to run once, by the lead, when no branch is in flight:
#   tools/add-spdx.sh          add the lines
#   tools/add-spdx.sh --check  list files without one; exit 1 if any (for CI afterwards)
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
check=false
[ "${1:-}" = "--check" ] && check=true
tag="SPDX-License-Identifier: MIT"
missing=0
while IFS= read -r f; do
  case $f in
    *.cpp|*.hpp|*.h|*.cc) comment="// $tag" ;;
    *.sh|*.bash|*.py|*.cmake|*/CMakeLists.txt|CMakeLists.txt|Makefile) comment="# $tag" ;;
    *) continue ;;
  esac
  case $f in fuzz/corpus/*) continue ;; esac
  head -3 "$f" | grep -q "SPDX-License-Identifier" && continue
  missing=$((missing + 1))
  if $check; then echo "$f"; continue; fi
  if head -1 "$f" | grep -q '^#!'; then
    sed -i "1a $comment" "$f"
  else
    sed -i "1i $comment" "$f"
  fi
done < <(git ls-files)
if $check; then
  [ "$missing" -eq 0 ] || { echo "$missing files without an SPDX line" >&2; exit 1; }
else
  echo "added an SPDX line to $missing files"
fi
