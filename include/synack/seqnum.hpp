// SPDX-License-Identifier: MIT
// RFC 9293 §3.4: sequence numbers live in a 2^32 modular space. SeqNum offers only
// modular comparison; there is deliberately no operator to get at ordering of raw values.
#pragma once

#include <cstdint>

namespace synack {

class SeqNum {
 public:
  constexpr SeqNum() = default;
  constexpr explicit SeqNum(std::uint32_t raw) : value_(raw) {}

  constexpr std::uint32_t raw() const { return value_; }

  constexpr SeqNum operator+(std::uint32_t n) const { return SeqNum(value_ + n); }
  constexpr SeqNum operator-(std::uint32_t n) const { return SeqNum(value_ - n); }
  constexpr SeqNum& operator+=(std::uint32_t n) {
    value_ += n;
    return *this;
  }
  // Signed distance from `other` to this (this - other), valid for |d| < 2^31.
  constexpr std::int32_t operator-(SeqNum other) const {
    return static_cast<std::int32_t>(value_ - other.value_);
  }

  constexpr bool operator==(const SeqNum&) const = default;
  friend constexpr bool operator<(SeqNum a, SeqNum b) { return (a - b) < 0; }
  friend constexpr bool operator<=(SeqNum a, SeqNum b) { return (a - b) <= 0; }
  friend constexpr bool operator>(SeqNum a, SeqNum b) { return (a - b) > 0; }
  friend constexpr bool operator>=(SeqNum a, SeqNum b) { return (a - b) >= 0; }

  // first <= this < first + size (RFC 9293 §3.4 "acceptable" tests use this form).
  constexpr bool in_window(SeqNum first, std::uint32_t size) const {
    return static_cast<std::uint32_t>(value_ - first.value_) < size;
  }

 private:
  std::uint32_t value_ = 0;
};

constexpr SeqNum seq_max(SeqNum a, SeqNum b) { return a < b ? b : a; }
constexpr SeqNum seq_min(SeqNum a, SeqNum b) { return a < b ? a : b; }

}  // namespace synack
