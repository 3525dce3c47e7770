// SPDX-License-Identifier: MIT
// A RandomSource for drivers that face real networks: getrandom(2), so ISN keys and ephemeral
// ports cannot be predicted (RFC 6528 §3, RFC 6056 §3.3). Public API (header-only; Linux):
// give one to a Stack that faces a real network, e.g. beside a TunDevice and an EventLoop.
#pragma once

#include <sys/random.h>

#include <cstdint>

#include "synack/random.hpp"

namespace synack::os {

class SystemRandom final : public RandomSource {
 public:
  // Eight bytes from getrandom(2). Cannot fail: it blocks (once, at boot) until the kernel's
  // pool is initialised, and retries when a signal interrupts it.
  std::uint64_t next_u64() override {
    std::uint64_t v = 0;
    auto* p = reinterpret_cast<unsigned char*>(&v);
    std::size_t got = 0;
    while (got < sizeof v) {
      ssize_t n = ::getrandom(p + got, sizeof v - got, 0);
      if (n > 0) got += static_cast<std::size_t>(n);
      // EINTR: try again. getrandom(2) with flags 0 blocks only before the kernel's pool is
      // initialised and never fails otherwise.
    }
    return v;
  }
};

}  // namespace synack::os
