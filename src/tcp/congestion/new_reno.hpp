// SPDX-License-Identifier: MIT
// NewReno's window (RFC 5681 §3.1 congestion avoidance, §3.2 ssthresh after a loss); its fast
// recovery (RFC 6582) is the connection's Recovery::NewReno phase.
#pragma once

#include "tcp/congestion/congestion_control.hpp"

namespace synack::tcp {

class NewReno final : public CongestionControl {
 public:
  NewReno(std::uint32_t mss, std::uint32_t initial_window_segments)
      : CongestionControl(mss, initial_window_segments) {}
  CongestionAlgorithm algorithm() const override { return CongestionAlgorithm::NewReno; }

 private:
  // RFC 5681 §3.1 congestion avoidance (eq. 3 with RFC 3465 byte counting): one SMSS per
  // window's worth of acknowledged bytes.
  void congestion_avoidance(std::uint32_t acked, Instant, std::optional<Duration>) override {
    bytes_acked_ += acked;
    if (bytes_acked_ >= cwnd_) {
      bytes_acked_ -= cwnd_;
      cwnd_ += mss_;
    }
  }
  // RFC 5681 §3.2 step 2, eq. 4: ssthresh = max(FlightSize / 2, 2 * SMSS).
  std::uint32_t ssthresh_after_loss(std::uint32_t flight_size, Instant) override {
    bytes_acked_ = 0;
    return std::max(flight_size / 2, 2 * mss_);
  }

  std::uint32_t bytes_acked_ = 0;
};

}  // namespace synack::tcp
