// SPDX-License-Identifier: MIT
// What a driver (simulator, TUN event loop, fuzzer) needs from something that speaks IP:
// packets in, packets out, and when to call back. No I/O happens behind this interface.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "synack/time.hpp"

namespace synack {

class NetworkHost {
 public:
  virtual ~NetworkHost() = default;
  // An IP packet (IPv4 or IPv6, starting at the IP header) arrived at time `now`.
  virtual void receive_packet(std::span<const std::byte> packet, Instant now) = 0;
  // Runs whatever timers are due at `now`. Safe to call early or repeatedly.
  virtual void on_timer(Instant now) = 0;
  // When on_timer next has work to do; nullopt when nothing is pending.
  virtual std::optional<Instant> next_deadline() const = 0;
  // Moves the next packet to transmit into `out` (reusing its capacity); false when none.
  virtual bool pop_packet(std::vector<std::byte>& out) = 0;
  // Optional: the packets received between begin_batch() and end_batch(now) arrived together
  // (one read of a TUN, one instant of a simulation), and the host may answer them together
  // at the end (Stack: TcpConfig::batch_output). Default: nothing.
  virtual void begin_batch() {}
  virtual void end_batch(Instant /*now*/) {}
};

}  // namespace synack
