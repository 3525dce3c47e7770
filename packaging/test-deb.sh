#!/bin/bash
# ctest package_deb: build the two Debian packages (CPack) and check them without installing
# them on this machine: names, control fields, contents (dpkg-deb -c), lintian errors when
# lintian is there, and the command run from a scratch root made with dpkg -x.
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
has "$dev" '^\./usr/include/synack/stack\.hpp$' '^\./usr/include/synack/internal/os/event_loop\.hpp$' \
    '/libsynack\.a$' '/libsynack-link\.a$' '/libsynack\.so$' '/cmake/synack/synackConfig\.cmake$' \
    '/pkgconfig/synack\.pc$' '^\./usr/share/doc/libsynack-dev/copyright$'
lacks "$dev" '^\./usr/bin/' '\.so\.[0-9]' '/include/synack/internal/tcp/'
echo "contents: synack $(dpkg-deb -c "$tool" | wc -l) entries, libsynack-dev $(dpkg-deb -c "$dev" | wc -l)"

root=$(mktemp -d /tmp/synack-deb-root.XXXXXX)
trap 'rm -rf "$root"' EXIT
dpkg -x "$tool" "$root"
dpkg -x "$dev" "$root"
"$root/usr/bin/synack" --version
"$root/usr/bin/synack" demo --no-color | tail -2
readelf -d "$root/usr/bin/synack" | grep -q NEEDED || fail "synack has no NEEDED entries?"

if command -v lintian >/dev/null; then
  out=$(lintian --tag-display-limit 0 "$tool" "$dev" 2>&1 || true)
  echo "$out" | sed 's/^/lintian: /'
  if grep -q '^E:' <<<"$out"; then fail "lintian reports errors"; fi
else
  echo "lintian not installed: not run"
fi
echo "package deb test: all passed"
