// SPDX-License-Identifier: MIT
// Whether the congestion window is in use, so that only a window in use grows (cwnd
// validation). draft-ietf-ccwg-ratelimited-increase §3 (which updates RFC 5681 and RFC 9438):
// "When FlightSize < cwnd ... senders ... MUST constrain the growth of cwnd", growth being
// bounded by the largest FlightSize since cwnd last fell (maxFS); RFC 9438 §4.6 asks the same
// of a CUBIC that takes its ssthresh from cwnd, and RFC 7661 describes the framework. As Linux
// applies it (tcp_cwnd_validate(), tcp_is_cwnd_limited()): per round trip, the window counts as
// used when the sender stopped because it was full; in slow start it may also grow up to twice
// the largest flight of the round.
#pragma once

#include <algorithm>
#include <cstdint>

#include "synack/seqnum.hpp"

namespace synack::tcp {

class CwndUse {
 public:
  // After the sender has sent what it may: `in_flight` bytes (pipe during a SACK recovery),
  // the window, the SMSS, and SND.UNA / SND.MAX. A round ends when what was outstanding at
  // its start is acknowledged; the next output starts a new one.
  void after_output(std::uint32_t in_flight, std::uint32_t cwnd, std::uint32_t mss, SeqNum snd_una,
                    SeqNum snd_max) {
    const bool full = static_cast<std::uint64_t>(in_flight) + mss > cwnd;  // no room for a segment
    const std::uint32_t flight = std::min(in_flight, kFlightMask);
    if (!(state_ & kStarted) || snd_una >= round_end_) {
      state_ = kStarted | (full ? kFull : 0) | flight;
      round_end_ = snd_max;
      return;
    }
    // Within a round a full window is the strongest sign and holds; otherwise the round
    // remembers its largest flight.
    state_ = kStarted | (state_ & kFull) | (full ? kFull : 0) | std::max(max_flight(), flight);
  }

  // May an ACK grow a window of `cwnd` bytes? Yes when it was full this round, or, in slow
  // start, while it is under twice the round's largest flight.
  bool allows_growth(std::uint32_t cwnd, bool slow_start) const {
    if (!(state_ & kStarted) || full()) return true;
    return slow_start && cwnd < 2 * static_cast<std::uint64_t>(max_flight());
  }

  bool full() const { return (state_ & kFull) != 0; }
  std::uint32_t max_flight() const { return state_ & kFlightMask; }

 private:
  // One word for a connection's 1 KiB (issue 14): the flight in the low 30 bits (a window is
  // at most 2^30 - 2^14 octets, RFC 7323 §2.3), the two flags above.
  static constexpr std::uint32_t kStarted = 1u << 31;
  static constexpr std::uint32_t kFull = 1u << 30;
  static constexpr std::uint32_t kFlightMask = kFull - 1;
  std::uint32_t state_ = 0;
  SeqNum round_end_{};
};

}  // namespace synack::tcp
