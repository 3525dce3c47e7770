#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest package_deb: build the two Debian packages (CPack) and check them without installing
# them on this machine: names, control fields, contents (dpkg-deb -c), lintian errors when
# lintian is there, and, from a scratch root made with dpkg -x, the command, its man page, and
# the examples built against the packages with CMake and pkg-config and run.
#   test-deb.sh BUILD_DIR
set -euo pipefail
build=$(realpath "$1")
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v dpkg-deb >/dev/null || { echo "no dpkg-deb: skipped"; exit 77; }
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
arch=$(dpkg --print-architecture)
rm -rf "$build/deb"
(cd "$build" && cpack -G DEB >/dev/null) || fail "cpack"
tool=$build/deb/synack_${version}_${arch}.deb
dev=$build/deb/libsynack-dev_${version}_${arch}.deb
[ -f "$tool" ] && [ -f "$dev" ] || { ls "$build/deb" >&2; fail "package files not named as expected"; }

field() { dpkg-deb -f "$1" "$2"; }
echo "synack Depends: $(field "$tool" Depends)"
echo "libsynack-dev Depends: $(field "$dev" Depends)"
field "$tool" Depends | grep -q 'libpcap0.8' || fail "synack does not depend on libpcap0.8"
field "$tool" Depends | grep -q 'libstdc++6' || fail "synack does not depend on libstdc++6"
field "$dev" Depends | grep -q "synack (= $version)" || fail "libsynack-dev does not depend on synack (= $version)"

has() {  # PACKAGE REGEX...
  local list; list=$(dpkg-deb -c "$1" | awk '{print $6}')
  shift
  for re in "$@"; do grep -qE "$re" <<<"$list" || fail "no file matching $re"; done
}
lacks() {
  local list; list=$(dpkg-deb -c "$1" | awk '{print $6}')
  shift
  for re in "$@"; do if grep -E "$re" <<<"$list"; then fail "unexpected file matching $re"; fi; done
}
has "$tool" '^\./usr/bin/synack$' '/libsynack\.so\.[0-9]+\.[0-9]+\.[0-9]+$' \
    '/libsynack-link\.so\.[0-9]+\.[0-9]+$' '^\./usr/share/man/man1/synack\.1\.gz$' \
    '^\./usr/share/man/man1/synack-run\.1\.gz$' '^\./usr/share/doc/synack/copyright$' \
    '^\./usr/share/doc/synack/changelog\.gz$' \
    '^\./usr/share/bash-completion/completions/synack$'
lacks "$tool" '\.hpp$' '\.a$' '\.pc$' '\.cmake$' '/libsynack\.so$'
has "$dev" '^\./usr/include/synack/stack\.hpp$' '^\./usr/include/synack/event_loop\.hpp$' \
    '^\./usr/include/synack/sim_network\.hpp$' '^\./usr/include/synack/pcap\.hpp$' \
    '/libsynack\.a$' '/libsynack-link\.a$' '/libsynack\.so$' '/cmake/synack/synackConfig\.cmake$' \
    '/pkgconfig/synack\.pc$' '^\./usr/share/doc/libsynack-dev/copyright$'
lacks "$dev" '^\./usr/bin/' '\.so\.[0-9]' '/include/synack/internal/'
echo "contents: synack $(dpkg-deb -c "$tool" | wc -l) entries, libsynack-dev $(dpkg-deb -c "$dev" | wc -l)"

root=$(mktemp -d /tmp/synack-deb-root.XXXXXX)
trap 'rm -rf "$root"' EXIT
dpkg -x "$tool" "$root"
dpkg -x "$dev" "$root"
"$root/usr/bin/synack" --version
"$root/usr/bin/synack" demo --no-color | tail -2
readelf -d "$root/usr/bin/synack" | grep -q NEEDED || fail "synack has no NEEDED entries?"
[[ $(man -l "$root/usr/share/man/man1/synack.1.gz" 2>/dev/null) == *"synack"* ]] || fail "man synack"

# The examples against the two packages as installed (a scratch root: the CMake and pkg-config
# files are relocatable), as issue 15's "Done when" asks: (a), (c) and (d) with
# find_package(synack), (a) with pkg-config, and run.
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
libdir=$(dirname "$(find "$root/usr/lib" -name 'libsynack.so' | head -1)")
[ -f "$libdir/libsynack.so" ] || fail "no libsynack.so in the packages"
if command -v ninja >/dev/null && [ -d "$src/examples" ]; then
  cmake -S "$src/examples" -B "$root/ex" -G Ninja -DCMAKE_PREFIX_PATH="$root/usr" \
        -DCMAKE_BUILD_TYPE=Release >/dev/null || fail "examples: cmake against the packages"
  cmake --build "$root/ex" >/dev/null || fail "examples: build against the packages"
  LD_LIBRARY_PATH=$libdir "$root/ex/two_stacks" >/dev/null || fail "two_stacks (packages)"
  LD_LIBRARY_PATH=$libdir "$root/ex/poll_http_client" --self-test >/dev/null ||
    fail "poll_http_client (packages)"
  LD_LIBRARY_PATH=$libdir "$root/ex/sim_network" >/dev/null || fail "sim_network (packages)"
  # shellcheck disable=SC2046
  c++ -O2 -Wall -Wextra -Werror "$src/examples/two_stacks.cpp" -o "$root/two_stacks_pc" \
      $(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --cflags --libs synack) ||
    fail "two_stacks with pkg-config (packages)"
  LD_LIBRARY_PATH=$libdir "$root/two_stacks_pc" >/dev/null || fail "two_stacks_pc (packages)"
  echo "examples built against the packages (CMake, pkg-config) and run"
else
  echo "ninja or the examples missing: examples against the packages not built"
fi

if command -v lintian >/dev/null; then
  out=$(lintian --tag-display-limit 0 "$tool" "$dev" 2>&1 || true)
  echo "$out" | sed 's/^/lintian: /'
  if grep -q '^E:' <<<"$out"; then fail "lintian reports errors"; fi
else
  echo "lintian not installed: not run"
fi
echo "package deb test: all passed"
