// SPDX-License-Identifier: MIT
// An optional Instant in 8 bytes, where std::optional<Instant> takes 16: a connection keeps a
// few "when did X last happen, if ever" times, and its memory is bounded (issue 14: 1 KiB per
// idle connection). The one value it reserves, the earliest representable instant, is no time
// a driver ever gives (the simulator starts at 0, the event loop reads CLOCK_MONOTONIC).
#pragma once

#include <cstdint>
#include <limits>

#include "synack/time.hpp"

namespace synack::tcp {

class MaybeInstant {
 public:
  MaybeInstant() = default;
  MaybeInstant& operator=(Instant t) {
    us_ = to_us(t);
    return *this;
  }
  explicit operator bool() const { return us_ != kNone; }
  Instant operator*() const { return instant_from_us(us_); }
  void reset() { us_ = kNone; }

 private:
  static constexpr std::int64_t kNone = std::numeric_limits<std::int64_t>::min();
  std::int64_t us_ = kNone;
};

}  // namespace synack::tcp
