// SPDX-License-Identifier: MIT
// Virtual and real time as types. The core never reads a clock: every entry point
// takes `Instant now`, and "no deadline" is std::nullopt, never a magic value.
#pragma once

#include <chrono>
#include <cstdint>

namespace synack {

// A clock tag without now(): instants come from the driver (simulator or event loop).
struct DriverClock {
  using duration = std::chrono::microseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<DriverClock, duration>;
  static constexpr bool is_steady = true;
};

using Duration = std::chrono::microseconds;
using Instant = DriverClock::time_point;

constexpr Instant instant_from_us(std::int64_t us) { return Instant{Duration{us}}; }
constexpr std::int64_t to_us(Instant t) { return t.time_since_epoch().count(); }
constexpr std::int64_t to_us(Duration d) { return d.count(); }

using namespace std::chrono_literals;

}  // namespace synack
