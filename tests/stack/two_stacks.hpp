// SPDX-License-Identifier: MIT
// What tests of two stacks joined in one process share: their addresses, a byte pattern
// whose every offset differs from its neighbours, so a byte moved or lost shows, and a
// scripted wire between them in virtual time.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "synack/address.hpp"
#include "synack/stack.hpp"

namespace synack::two_stacks {

inline const wire::IpAddress kA = wire::IpAddress::v4(198, 18, 0, 1);
inline const wire::IpAddress kB = wire::IpAddress::v4(198, 18, 0, 2);

inline std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 13 + 5) & 0xff);
  return v;
}

// Stack a (kA) and stack b (kB) joined by a lossless wire without delay. A test may watch
// every packet each one sends (on_a, on_b, called whether or not it is delivered) and cut the
// wire (connected = false: packets vanish, as when the peer is gone).
struct Wire {
  explicit Wire(const StackConfig& config = StackConfig{}) : a(config, {kA}), b(config, {kB}) {}
  Wire(const StackConfig& a_config, const StackConfig& b_config)
      : a(a_config, {kA}), b(b_config, {kB}) {}
  Stack a;
  Stack b;
  Instant now{};
  bool connected = true;
  std::function<void(std::span<const std::byte>)> on_a, on_b;

  // Moves packets both ways until neither stack has one left (at most 256 rounds).
  void shuttle() {
    std::vector<std::byte> buf;
    for (int round = 0; round < 256; ++round) {
      bool moved = false;
      while (a.pop_packet(buf)) {
        moved = true;
        if (on_a) on_a(buf);
        if (connected) b.receive_packet(buf, now);
      }
      while (b.pop_packet(buf)) {
        moved = true;
        if (on_b) on_b(buf);
        if (connected) a.receive_packet(buf, now);
      }
      if (!moved) return;
    }
  }
  // Advances virtual time to `until`, running both stacks' timers on the way and moving the
  // packets each one sends.
  void run_until(Instant until) {
    for (int guard = 0; guard < 100000; ++guard) {
      shuttle();
      std::optional<Instant> next = a.next_deadline();
      if (auto nb = b.next_deadline(); nb && (!next || *nb < *next)) next = nb;
      if (!next || *next > until) break;
      now = std::max(now, *next);
      a.on_timer(now);
      b.on_timer(now);
    }
    now = std::max(now, until);
    shuttle();
  }
};

}  // namespace synack::two_stacks
