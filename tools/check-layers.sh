#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The house rules, checked: every folder of src/ includes only the folders it may use (arrows point
# downward; src/*/README.md says the same in words), and the sans-I/O core (wire, tcp, stack)
# references no socket, clock, file or entropy function — read from its archive with nm, so that
# no include trick hides a call.
#   tools/check-layers.sh [libsynack_core.a]
set -u
cd "$(dirname "$0")/.."
declare -A may=(
  [wire]="wire"
  [tcp]="tcp wire"
  [stack]="stack tcp wire"
  [capture]="capture stack tcp wire"
  [os]="os capture stack tcp wire"
  [observe]="observe stack tcp wire"
  [sim]="sim observe capture stack tcp wire"
  [decode]="decode observe stack tcp wire"
  [control]="control os stack tcp wire"
  [relay]="relay os stack tcp wire"
  [apps]="apps stack tcp wire"
  [packetdrill]="packetdrill stack tcp wire"
  [cli]="cli apps relay control decode sim observe os capture stack tcp wire"
)
# The public link headers live in include/synack/ but belong to a layer above the core: the layer
# whose library implements them. Including one counts as using that layer.
declare -A public_layer=(
  [synack/tun_device.hpp]=os [synack/event_loop.hpp]=os [synack/system_random.hpp]=os
  [synack/pcap.hpp]=capture [synack/sim_network.hpp]=sim
)
bad=0
for dir in src/*/; do
  layer=$(basename "$dir")
  allowed=${may[$layer]:-}
  if [ -z "$allowed" ]; then
    echo "src/$layer: a folder the layering rules do not know; add it to tools/check-layers.sh"
    bad=1
    continue
  fi
  while IFS=: read -r file _ target; do
    used=${target%%/*}
    [ "$used" = synack ] && used=${public_layer[$target]:-}
    [ -z "$used" ] && continue  # the core's public headers
    [[ " $allowed " == *" $used "* ]] && continue
    echo "$file: src/$layer may not include $target (it may use: $allowed)"
    bad=1
  done < <(grep -rHnoE '#include "[a-z_]+/[^"]+"' "$dir" | sed -E 's/#include "([^"]+)"/\1/')
done
# include/synack/ itself: the core's public headers include no link header, and a link header
# only those of the layers its own may use (sim_network.hpp may include pcap.hpp, not the reverse).
for header in include/synack/*.hpp; do
  name=synack/$(basename "$header")
  layer=${public_layer[$name]:-stack}
  while IFS= read -r target; do
    used=${public_layer[$target]:-}
    [ -z "$used" ] && continue
    [[ " ${may[$layer]} " == *" $used "* ]] && continue
    echo "$header: a header of src/$layer may not include $target (it may use: ${may[$layer]})"
    bad=1
  done < <(grep -oE '#include "synack/[^"]+"' "$header" | sed -E 's/#include "([^"]+)"/\1/')
done
archive=${1:-}
if [ -n "$archive" ]; then
  # Undefined symbols the core must never reference: sockets, clocks, files, entropy, sleep.
  forbidden='^(socket|connect|bind|listen|accept4?|send|sendto|sendmsg|recv|recvfrom|recvmsg|read|write|open|open64|openat|fopen|fopen64|close|ioctl|epoll_[a-z_]+|poll|select|clock_gettime|gettimeofday|time|getrandom|rand|random|srand|arc4random|usleep|nanosleep|sleep)$'
  found=$(nm -u --format=posix "$archive" 2>/dev/null | awk '{print $1}' | sed 's/@.*//' | sort -u |
          grep -E "$forbidden")
  chrono=$(nm -C -u "$archive" 2>/dev/null | grep -E 'std::chrono::(_V2::)?(steady|system)_clock::now|std::random_device' | sort -u)
  if [ -n "$found$chrono" ]; then
    echo "the core ($archive) references I/O, a clock or entropy:"
    printf '  %s\n' $found
    [ -n "$chrono" ] && echo "$chrono" | sed 's/^/  /'
    bad=1
  fi
fi
[ "$bad" = 0 ] && echo "layers: every include points downward${archive:+; the core is sans-I/O (nm $archive)}"
exit "$bad"
