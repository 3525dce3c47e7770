// SPDX-License-Identifier: MIT
// A count of events allowed per second, for replies we did not ask for (RFC 5961 §7).
// Sans-I/O: the caller passes the time.
#pragma once

#include <cstdint>
#include <optional>

#include "synack/time.hpp"

namespace synack::tcp {

// At most `per_second` events in each one-second window (Linux's tcp_challenge_ack_limit
// counts the same way). 0 allows everything.
class PerSecondLimit {
 public:
  explicit PerSecondLimit(std::uint32_t per_second = 0) : per_second_(per_second) {}
  bool allow(Instant now) {
    if (per_second_ == 0) return true;
    if (!window_start_ || now - *window_start_ >= 1s || now < *window_start_) {
      window_start_ = now;
      used_ = 0;
    }
    if (used_ >= per_second_) return false;
    ++used_;
    return true;
  }

 private:
  std::uint32_t per_second_;
  std::optional<Instant> window_start_;
  std::uint32_t used_ = 0;
};

}  // namespace synack::tcp
