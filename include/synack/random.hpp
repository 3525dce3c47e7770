// SPDX-License-Identifier: MIT
// Randomness enters the core only through this interface (ISN keys, ephemeral ports,
// timestamp offsets), so tests and the simulator are reproducible from a seed.
#pragma once

#include <cstdint>

namespace synack {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual std::uint64_t next_u64() = 0;
};

// SplitMix64: tiny, fast, fine for seeding and for non-cryptographic choices. Drivers that
// face real networks inject a RandomSource backed by getrandom(2) instead.
class SeededRandom final : public RandomSource {
 public:
  explicit SeededRandom(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next_u64() override {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

}  // namespace synack
