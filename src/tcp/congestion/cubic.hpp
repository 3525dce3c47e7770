// SPDX-License-Identifier: MIT
// CUBIC's window (RFC 9438): W_cubic(t) in congestion avoidance with the Reno-friendly
// estimate, beta_cubic = 0.7 and fast convergence after a loss.
#pragma once

#include <cmath>

#include "tcp/congestion/congestion_control.hpp"

namespace synack::tcp {

class Cubic final : public CongestionControl {
 public:
  static constexpr double kC = 0.4;     // RFC 9438 §5.1
  static constexpr double kBeta = 0.7;  // RFC 9438 §4.6

  Cubic(std::uint32_t mss, std::uint32_t initial_window_segments)
      : CongestionControl(mss, initial_window_segments) {}
  CongestionAlgorithm algorithm() const override { return CongestionAlgorithm::Cubic; }

 private:
  void congestion_avoidance(std::uint32_t acked, Instant now,
                            std::optional<Duration> rtt) override {
    double cwnd_seg = static_cast<double>(cwnd_) / mss_;
    double acked_seg = static_cast<double>(acked) / mss_;
    if (held_) {
      // RFC 9438 §5.8: "t ... MUST NOT include any periods during which cwnd has not been
      // updated due to application-limited behavior": the epoch moves on by the time growth
      // was held (growth_held()); W_cubic(t) resumes where it stopped. (Linux shifts its
      // epoch by an idle period, bictcp_cwnd_event(CA_EVENT_TX_START); this also covers a
      // sender that is application-limited with data in flight.)
      held_ = false;
      if (in_epoch_) epoch_start_ += now - held_since_;
    }
    if (!in_epoch_) {
      // RFC 9438 §4.2: a new congestion-avoidance epoch starts with this ACK.
      in_epoch_ = true;
      epoch_start_ = now;
      if (w_max_ < cwnd_seg) w_max_ = cwnd_seg;
      k_ = static_cast<float>(std::cbrt(w_max_ * (1 - kBeta) / kC));
      w_est_ = cwnd_seg;
    }
    double t = std::chrono::duration<double>(now - epoch_start_).count();
    double rtt_s = rtt ? std::chrono::duration<double>(*rtt).count() : 0.1;
    // RFC 9438 §4.2 eq. 1, evaluated one RTT ahead as §4.4 prescribes, at most 1.5 cwnd.
    double target = kC * std::pow(t + rtt_s - k_, 3) + w_max_;
    target = std::clamp(target, cwnd_seg, 1.5 * cwnd_seg);
    // RFC 9438 §4.3: the Reno-friendly estimate with alpha = 3(1-beta)/(1+beta) below W_max.
    double alpha = w_est_ < w_max_ ? 3 * (1 - kBeta) / (1 + kBeta) : 1.0;
    w_est_ += alpha * acked_seg / cwnd_seg;
    // RFC 9438 §4.3-§4.5: cwnd grows by (goal - cwnd) / cwnd per acknowledged segment.
    double goal = w_est_ > target ? w_est_ : target;
    double increment_seg = (goal - cwnd_seg) * acked_seg / cwnd_seg;
    // Accumulated in fractions of a byte; only whole bytes move cwnd. At a large window each
    // ACK's share is below one byte, and truncating it per ACK lost the growth §4.4/§4.5
    // prescribe (the window lagged W_cubic(t) ever further).
    increment_ += static_cast<float>(std::max(0.0, increment_seg) * mss_);
    if (increment_ >= 1.0f) {
      float whole = std::floor(increment_);
      cwnd_ += static_cast<std::uint32_t>(whole);
      increment_ -= whole;
    }
  }

  std::uint32_t ssthresh_after_loss(std::uint32_t flight_size, Instant) override {
    double cwnd_seg = static_cast<double>(cwnd_) / mss_;
    // RFC 9438 §4.7 fast convergence.
    if (cwnd_seg < w_last_max_) {
      w_last_max_ = cwnd_seg;
      w_max_ = cwnd_seg * (1 + kBeta) / 2;
    } else {
      w_last_max_ = cwnd_seg;
      w_max_ = cwnd_seg;
    }
    in_epoch_ = false;
    held_ = false;
    increment_ = 0;
    // RFC 9438 §4.6: ssthresh = flight_size * beta_cubic, at least 2 segments; after a fast
    // retransmit the connection passes cwnd instead where it validates cwnd's growth, as
    // §4.6 allows (Connection::reduction_basis(), TcpConfig::cwnd_validation).
    return std::max(static_cast<std::uint32_t>(flight_size * kBeta), 2 * mss_);
  }

  // RFC 9438 §4.9: a spurious congestion event gives back W_max, K, W_est and the epoch as
  // they were before the reduction (with cwnd and ssthresh, CongestionControl::undo()).
  void save_model(CongestionPrior& p) const override {
    p.model[0] = w_max_;
    p.model[1] = w_last_max_;
    p.model[2] = k_;
    p.model[3] = w_est_;
    p.epoch = epoch_start_;
    p.in_epoch = in_epoch_;
  }
  void restore_model(const CongestionPrior& p) override {
    w_max_ = p.model[0];
    w_last_max_ = p.model[1];
    k_ = static_cast<float>(p.model[2]);
    w_est_ = p.model[3];
    epoch_start_ = p.epoch;
    in_epoch_ = p.in_epoch;
    held_ = false;
    increment_ = 0;
  }

  // The first ACK since the last growth that could not grow the window: the epoch's clock
  // stops there (congestion_avoidance() moves the epoch on). Outside an epoch (slow start)
  // there is no clock to stop.
  void growth_held(Instant now) override {
    if (in_epoch_ && !held_) {
      held_ = true;
      held_since_ = now;
    }
  }

  // RFC 9438 §4 state, in segments and seconds.
  double w_max_ = 0;
  double w_last_max_ = 0;
  double w_est_ = 0;
  // Two floats, not doubles, so that the held clock's instant fits in a connection's 840
  // bytes (issue 14: memory per idle connection): K is seconds (a float keeps it to a few
  // microseconds at 100 s), the increment a fraction of a byte between whole bytes.
  float k_ = 0;
  float increment_ = 0;  // growth not yet applied, in bytes (fractions kept)
  // (A flag, not std::optional: GCC 12 warns of a maybe-uninitialized Instant inside one.)
  bool in_epoch_ = false;
  bool held_ = false;  // growth held since held_since_ (growth_held())
  Instant epoch_start_{};
  Instant held_since_{};
};

}  // namespace synack::tcp
