// SPDX-License-Identifier: MIT
// The connection's congestion control, held in place (no allocation per connection): one
// of the algorithms, chosen by CongestionAlgorithm, used through the CongestionControl
// interface. A new algorithm joins the variant and make()'s switch.
#pragma once

#include <variant>

#include "tcp/congestion/cubic.hpp"
#include "tcp/congestion/new_reno.hpp"

namespace synack::tcp {

class AnyCongestionControl {
 public:
  AnyCongestionControl(CongestionAlgorithm algorithm, std::uint32_t mss,
                       std::uint32_t initial_window_segments)
      : impl_(make(algorithm, mss, initial_window_segments)) {}

  // The interface, forwarded, so the connection writes cc_.cwnd() whatever the algorithm.
  CongestionAlgorithm algorithm() const { return get().algorithm(); }
  std::uint32_t cwnd() const { return get().cwnd(); }
  std::uint32_t ssthresh() const { return get().ssthresh(); }
  void set_mss(std::uint32_t mss) { get().set_mss(mss); }
  void on_ack(std::uint32_t acked, Instant now, std::optional<Duration> rtt) {
    get().on_ack(acked, now, rtt);
  }
  void on_congestion_event(std::uint32_t flight_size, Instant now) {
    get().on_congestion_event(flight_size, now);
  }
  void on_recovery_exit() { get().on_recovery_exit(); }
  void on_rto(std::uint32_t flight_size, Instant now) { get().on_rto(flight_size, now); }
  void inflate(std::uint32_t bytes) { get().inflate(bytes); }
  void set_recovery_cwnd(std::uint32_t bytes) { get().set_recovery_cwnd(bytes); }
  void partial_ack(std::uint32_t acked) { get().partial_ack(acked); }

  CongestionControl& get() {
    return std::visit([](auto& cc) -> CongestionControl& { return cc; }, impl_);
  }
  const CongestionControl& get() const {
    return std::visit([](const auto& cc) -> const CongestionControl& { return cc; }, impl_);
  }

 private:
  using Impl = std::variant<Cubic, NewReno>;
  static Impl make(CongestionAlgorithm algorithm, std::uint32_t mss, std::uint32_t iw) {
    switch (algorithm) {
      case CongestionAlgorithm::NewReno:
        return NewReno(mss, iw);
      case CongestionAlgorithm::Cubic:
        break;
    }
    return Cubic(mss, iw);
  }
  Impl impl_;
};

}  // namespace synack::tcp
