#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest package_exports: the shared libraries export their public API and nothing else.
#   test-exports.sh LIBSYNACK.so LIBSYNACK-LINK.so
# Lists each library's defined dynamic symbols (nm -D --defined-only, demangled) and fails on
# any that is not part of the public API: for libsynack.so, what include/synack declares
# (Stack but not Stack::Impl, the profiles, IpAddress/Endpoint/TcpOptions, the interfaces'
# typeinfo); for libsynack-link.so, what its public headers declare (include/synack/
# tun_device.hpp, event_loop.hpp, pcap.hpp, sim_network.hpp). Also fails when an entry point is missing, so that a
# version script that hides everything cannot pass.
set -euo pipefail
core=${1:?libsynack.so} link=${2:?libsynack-link.so}
command -v nm >/dev/null || { echo "SKIP: nm (binutils) not installed"; exit 77; }
fail=0

# Demangled names of defined dynamic symbols, without the version nodes (ABS symbols).
exports() { nm -DC --defined-only "$1" | awk '$2 != "A" { $1 = ""; $2 = ""; sub(/^  /, ""); print }'; }

check() {  # check LIB ALLOWED_REGEX REQUIRED...
  local lib=$1 allowed=$2
  shift 2
  local symbols bad
  symbols=$(exports "$lib")
  echo "$(basename "$lib"): $(wc -l <<<"$symbols") exported symbols"
  bad=$(grep -Ev "$allowed" <<<"$symbols" || true)
  if [ -n "$bad" ]; then
    echo "FAIL: $(basename "$lib") exports symbols outside its public API:"
    sed 's/^/  /' <<<"$bad" | head -40
    fail=1
  fi
  for want in "$@"; do
    grep -qF "$want" <<<"$symbols" || { echo "FAIL: $(basename "$lib") does not export $want"; fail=1; }
  done
}

stack_members='synack::Stack::(Stack|~Stack|[a-z][a-z_]*)\('
check "$core" \
  "^(${stack_members}|synack::(SeededRandom|TraceSink)::|synack::profiles::|synack::wire::(IpAddress|Endpoint|TcpOptions)::|(typeinfo|typeinfo name|vtable) for synack::(Stack|NetworkHost|RandomSource|SeededRandom|TraceSink)$)" \
  'synack::Stack::connect(' 'synack::Stack::Stack(' 'synack::profiles::by_name(' \
  'synack::wire::IpAddress::parse('
link_public='synack::os::(TunDevice|EventLoop|SignalGuard)::|synack::os::(monotonic_now|realtime_offset_us|complete_partial_checksum|ones_complement_sum)\(|synack::capture::|synack::sim::SimNetwork::|synack::sim::to_string\(synack::sim::Fate\)'
check "$link" \
  "^(${link_public}|(typeinfo|typeinfo name) for synack::(os::TunDevice|os::EventLoop|sim::SimNetwork|capture::[A-Za-z]+)$)" \
  'synack::os::EventLoop::run(' 'synack::os::TunDevice::read(' 'synack::sim::SimNetwork::step(' \
  'synack::capture::PcapReader::open(' 'synack::capture::PcapWriter::open(' \
  'synack::os::monotonic_now('

# What must never leak, spelled out (the allow-lists above already exclude it).
if exports "$core" | grep -E '^synack::(Stack::Impl|tcp::|icmp|wire::parse_|wire::build_)'; then
  echo "FAIL: core internals exported (above)"
  fail=1
fi
if exports "$link" | grep -E '^synack::(sim::(SimPair|run_|Chaos|Bulk)|observe::|relay::|os::(Netns|run_command|move_interface|configure_kernel_side|send_with|receive_with)|wire::)'; then
  echo "FAIL: link-layer internals exported (above)"
  fail=1
fi
[ $fail -eq 0 ] && echo "PASS: only the public API is exported"
exit $fail
