#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest package_install: install into a temporary prefix, then use it as an outsider would.
#   test-install.sh BUILD_DIR SOURCE_DIR
# Checks: the install tree (binary, shared libraries with SONAME, static libraries, headers,
# CMake and pkg-config files, man pages, completion); every installed header compiles on its own
# with only the prefix's include/ (nothing of src/ is installed); the shared libraries export only
# the public API; the examples build with find_package(synack) (shared and static), (a) and (d)
# with pkg-config, and (a), (c) and (d) run (with the libraries found through the installed tree
# only). (d) is an embedder's program on libsynack-link: the simulated network and pcap through
# their public headers; (b), the TUN echo server on the event loop, is built but needs root and
# a client to run.
set -euo pipefail
build=$(realpath "$1") src=$(realpath "$2")
work=$(mktemp -d /tmp/synack-package-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(cd "$prefix" && find . -name libsynack.a -printf '%h\n' | sed 's|^\./||' | head -1)
[ -n "$libdir" ] || fail "no libsynack.a under $prefix"
L=$prefix/$libdir
for f in bin/synack include/synack/stack.hpp include/synack/version.hpp \
         include/synack/event_loop.hpp include/synack/tun_device.hpp include/synack/pcap.hpp \
         include/synack/sim_network.hpp include/synack/system_random.hpp \
         "$libdir/libsynack.a" "$libdir/libsynack-link.a" "$libdir/libsynack.so" \
         "$libdir/libsynack-link.so" "$libdir/cmake/synack/synackConfig.cmake" \
         "$libdir/cmake/synack/synackConfigVersion.cmake" "$libdir/pkgconfig/synack.pc" \
         "$libdir/pkgconfig/synack-link.pc" share/man/man1/synack.1.gz \
         share/man/man1/synack-demo.1.gz share/man/man1/synack-run.1.gz \
         share/bash-completion/completions/synack share/doc/synack/copyright; do
  [ -e "$prefix/$f" ] || fail "missing $f"
done
soname=$(readelf -d "$L/libsynack.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[[ $soname =~ ^libsynack\.so\.[0-9]+\.[0-9]+$ ]] || fail "libsynack.so SONAME is '$soname'"
echo "   $(find "$prefix" -type f | wc -l) files; SONAME $soname"

step "the installed binary"
"$prefix/bin/synack" --version | grep -E '^synack [0-9]+\.[0-9]+\.[0-9]+ \(commit ' ||
  fail "synack --version"
"$prefix/bin/synack" demo --no-color >/dev/null || fail "synack demo"
[[ $(man -l "$prefix/share/man/man1/synack-connect.1.gz" 2>/dev/null) == *"EXIT STATUS"* ]] ||
  fail "synack-connect(1) has no EXIT STATUS"

step "exports: only the public API"
"$src/packaging/test-exports.sh" "$L/libsynack.so" "$L/libsynack-link.so" || fail "exports"
# Nothing of src/ is installed: include/synack is self-contained (Stack is a pimpl; the link
# headers name public types only).
[ ! -e "$prefix/include/synack/internal" ] || fail "include/synack/internal installed"

step "every installed header compiles on its own"
cflags=(-std=c++20 -Wall -Wextra -Werror -I"$prefix/include")
while read -r h; do
  rel=${h#"$prefix/include/"}
  printf '#include "%s"\n' "$rel" > "$work/h.cpp"
  c++ "${cflags[@]}" -fsyntax-only "$work/h.cpp" || fail "header $rel is not self-contained"
done < <(find "$prefix/include" -name '*.hpp')

export LD_LIBRARY_PATH=  # the examples must find libsynack through what the build put in them
step "examples with find_package(synack), shared libraries"
cmake -S "$src/examples" -B "$work/ex" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/ex" >/dev/null
[[ $(ldd "$work/ex/two_stacks") == *"$L/libsynack.so"* ]] || fail "two_stacks does not use $L/libsynack.so"
"$work/ex/two_stacks"
"$work/ex/poll_http_client" --self-test
[[ $(ldd "$work/ex/sim_network") == *"$L/libsynack-link.so"* ]] ||
  fail "sim_network does not use $L/libsynack-link.so"
"$work/ex/sim_network"

step "examples with find_package(synack), static libraries"
cmake -S "$src/examples" -B "$work/ex-static" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
      -DSYNACK_EXAMPLES_STATIC=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/ex-static" >/dev/null
if [[ $(ldd "$work/ex-static/two_stacks") == *libsynack* ]]; then fail "static two_stacks uses a .so"; fi
"$work/ex-static/two_stacks" >/dev/null
"$work/ex-static/poll_http_client" --self-test >/dev/null
if [[ $(ldd "$work/ex-static/sim_network") == *libsynack* ]]; then fail "static sim_network uses a .so"; fi
"$work/ex-static/sim_network" >/dev/null

step "example (a) with pkg-config"
export PKG_CONFIG_PATH=$L/pkgconfig
echo "   pkg-config --cflags --libs synack: $(pkg-config --cflags --libs synack)"
# shellcheck disable=SC2046
c++ -O2 -Wall -Wextra -Werror "$src/examples/two_stacks.cpp" -o "$work/two_stacks_pc" \
    $(pkg-config --cflags --libs synack) -Wl,-rpath,"$(pkg-config --variable=libdir synack)"
"$work/two_stacks_pc" >/dev/null
step "example (d) with pkg-config synack-link"
echo "   pkg-config --cflags --libs synack-link: $(pkg-config --cflags --libs synack-link)"
# shellcheck disable=SC2046
c++ -O2 -Wall -Wextra -Werror "$src/examples/sim_network.cpp" -o "$work/sim_network_pc" \
    $(pkg-config --cflags --libs synack-link) -Wl,-rpath,"$(pkg-config --variable=libdir synack)"
"$work/sim_network_pc" >/dev/null
echo "package install test: all passed"
