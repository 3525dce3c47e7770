// SPDX-License-Identifier: MIT
// A relayed connection whose one side failed hands the other side's socket its last bytes
// before the RST (Splice, LoopbackForwarder) and looks, by polling its send queue (SIOCOUTQ),
// when its peer has acknowledged them. How long it waits between looks: 10 ms at first, then
// a quarter of the time spent so far, at most 1 s. A peer that reads is done within
// milliseconds and is seen as soon as before; one that never reads costs about 80 looks in
// the 60 s a flush may take instead of 6,000 (10,000 such connections at once: some 13,000
// looks a second instead of a million).
#pragma once

#include <algorithm>
#include <chrono>

#include "synack/time.hpp"

namespace synack::relay {

constexpr Duration flush_poll_delay(Duration elapsed) {
  using namespace std::chrono_literals;
  return std::clamp<Duration>(elapsed / 4, 10ms, 1s);
}

}  // namespace synack::relay
