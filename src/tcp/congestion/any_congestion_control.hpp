// SPDX-License-Identifier: MIT
// The connection's congestion control, held in place (no allocation per connection): one
// of the algorithms, chosen by CongestionAlgorithm, used through the CongestionControl
// interface. A new algorithm joins the variant and make()'s switch.
#pragma once

#include <variant>

#include "tcp/congestion/bbr.hpp"
#include "tcp/congestion/cubic.hpp"
#include "tcp/congestion/new_reno.hpp"

namespace synack::tcp {

class AnyCongestionControl {
 public:
  AnyCongestionControl(CongestionAlgorithm algorithm, std::uint32_t mss,
                       std::uint32_t initial_window_segments,
                       std::uint32_t slow_start_limit = TcpConfig{}.slow_start_ack_limit)
      : impl_(make(algorithm, mss, initial_window_segments)) {
    get().set_slow_start_limit(slow_start_limit);
  }

  // The interface, forwarded, so the connection writes cc_.cwnd() whatever the algorithm.
  CongestionAlgorithm algorithm() const { return get().algorithm(); }
  std::uint32_t cwnd() const { return get().cwnd(); }
  std::uint32_t ssthresh() const { return get().ssthresh(); }
  // Each call goes to the algorithm's own member: BBR hides RFC 5681's responses with its own.
  void set_mss(std::uint32_t mss) {
    std::visit([&](auto& cc) { cc.set_mss(mss); }, impl_);
  }
  void on_ack(std::uint32_t acked, Instant now, std::optional<Duration> rtt) {
    std::visit([&](auto& cc) { cc.on_ack(acked, now, rtt); }, impl_);
  }
  void on_congestion_event(std::uint32_t flight_size, Instant now) {
    std::visit([&](auto& cc) { cc.on_congestion_event(flight_size, now); }, impl_);
  }
  void on_growth_held(Instant now) {
    std::visit([&](auto& cc) { cc.on_growth_held(now); }, impl_);
  }
  void restart_after_idle() {
    std::visit([](auto& cc) { cc.restart_after_idle(); }, impl_);
  }
  void on_recovery_exit() {
    std::visit([](auto& cc) { cc.on_recovery_exit(); }, impl_);
  }
  void on_rto(std::uint32_t flight_size, Instant now) {
    std::visit([&](auto& cc) { cc.on_rto(flight_size, now); }, impl_);
  }
  void inflate(std::uint32_t bytes) {
    std::visit([&](auto& cc) { cc.inflate(bytes); }, impl_);
  }
  void set_recovery_cwnd(std::uint32_t bytes) {
    std::visit([&](auto& cc) { cc.set_recovery_cwnd(bytes); }, impl_);
  }
  void partial_ack(std::uint32_t acked) {
    std::visit([&](auto& cc) { cc.partial_ack(acked); }, impl_);
  }
  // Spurious-retransmission undo (CongestionControl::prior() / undo()).
  CongestionPrior prior() const { return get().prior(); }
  void undo(const CongestionPrior& p, std::uint32_t cwnd, std::uint32_t ssthresh) {
    std::visit([&](auto& cc) { cc.undo(p, cwnd, ssthresh); }, impl_);
  }
  // Model-based algorithms (BBR): driven by delivery-rate samples and paced. The others are
  // neither (they allocate no RateState and send as cwnd allows).
  bool uses_rate_samples() const { return std::holds_alternative<Bbr>(impl_); }
  void on_rate_sample(const RateSample& rs, const BbrAck& ack, DeliveryRate& rate) {
    if (auto* bbr = std::get_if<Bbr>(&impl_)) bbr->on_rate_sample(rs, ack, rate);
  }
  // Bytes per second; 0: not paced.
  std::uint64_t pacing_rate() const {
    const auto* bbr = std::get_if<Bbr>(&impl_);
    return bbr ? bbr->pacing_rate() : 0;
  }
  const Bbr* bbr() const { return std::get_if<Bbr>(&impl_); }

  CongestionControl& get() {
    return std::visit([](auto& cc) -> CongestionControl& { return cc; }, impl_);
  }
  const CongestionControl& get() const {
    return std::visit([](const auto& cc) -> const CongestionControl& { return cc; }, impl_);
  }

 private:
  using Impl = std::variant<Cubic, NewReno, Bbr>;
  static Impl make(CongestionAlgorithm algorithm, std::uint32_t mss, std::uint32_t iw) {
    switch (algorithm) {
      case CongestionAlgorithm::NewReno:
        return NewReno(mss, iw);
      case CongestionAlgorithm::Bbr:
        return Bbr(mss, iw);
      case CongestionAlgorithm::Cubic:
        break;
    }
    return Cubic(mss, iw);
  }
  Impl impl_;
};

}  // namespace synack::tcp
