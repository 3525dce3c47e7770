#include "tcp/congestion.hpp"

#include <algorithm>
#include <cmath>

namespace synack::tcp {
namespace {
constexpr double kCubicC = 0.4;     // RFC 9438 §5.1
constexpr double kCubicBeta = 0.7;  // RFC 9438 §4.6
}  // namespace

CongestionControl::CongestionControl(CongestionAlgorithm algorithm, std::uint32_t mss,
                                     std::uint32_t initial_window_segments)
    : algorithm_(algorithm), mss_(mss), initial_segments_(initial_window_segments) {
  set_mss(mss);
}

void CongestionControl::set_mss(std::uint32_t mss) {
  mss_ = std::max<std::uint32_t>(mss, 1);
  // RFC 6928 §2: IW = min(10*MSS, max(2*MSS, 14600)) for the default of 10 segments;
  // other configured counts are taken as given.
  std::uint32_t iw = initial_segments_ * mss_;
  if (initial_segments_ == 10) iw = std::min(10 * mss_, std::max(2 * mss_, 14600u));
  cwnd_ = std::max(iw, mss_);
}

void CongestionControl::on_ack(std::uint32_t acked, Instant now, std::optional<Duration> rtt) {
  if (cwnd_ < ssthresh_) {
    // RFC 5681 §3.1 slow start, with RFC 3465 byte counting limited to L = 2 SMSS.
    cwnd_ += std::min(acked, 2 * mss_);
    return;
  }
  if (algorithm_ == CongestionAlgorithm::Cubic) {
    cubic_on_ack(acked, now, rtt);
    return;
  }
  // RFC 5681 §3.1 congestion avoidance: one SMSS per window's worth of acknowledged bytes.
  bytes_acked_ += acked;
  if (bytes_acked_ >= cwnd_) {
    bytes_acked_ -= cwnd_;
    cwnd_ += mss_;
  }
}

void CongestionControl::cubic_on_ack(std::uint32_t acked, Instant now,
                                     std::optional<Duration> rtt) {
  double cwnd_seg = static_cast<double>(cwnd_) / mss_;
  if (!epoch_start_) {
    // RFC 9438 §4.2: a new congestion-avoidance epoch starts with this ACK.
    epoch_start_ = now;
    if (w_max_ < cwnd_seg) w_max_ = cwnd_seg;
    k_ = std::cbrt(w_max_ * (1 - kCubicBeta) / kCubicC);
    w_est_ = cwnd_seg;
  }
  double t = std::chrono::duration<double>(now - *epoch_start_).count();
  double rtt_s = rtt ? std::chrono::duration<double>(*rtt).count() : 0.1;
  // RFC 9438 §4.2 eq. 1, evaluated one RTT ahead as §4.4 prescribes.
  double target = kCubicC * std::pow(t + rtt_s - k_, 3) + w_max_;
  target = std::clamp(target, cwnd_seg, 1.5 * cwnd_seg);
  // RFC 9438 §4.3: the Reno-friendly estimate with alpha = 3(1-beta)/(1+beta).
  double alpha = w_est_ < w_max_ ? 3 * (1 - kCubicBeta) / (1 + kCubicBeta) : 1.0;
  w_est_ += alpha * (static_cast<double>(acked) / mss_) / cwnd_seg;
  double increment_seg;
  if (w_est_ > target) {
    increment_seg = (w_est_ - cwnd_seg) * (static_cast<double>(acked) / mss_) / cwnd_seg;
  } else {
    // RFC 9438 §4.4/4.5: cwnd grows by (target - cwnd)/cwnd per acked segment.
    increment_seg = (target - cwnd_seg) * (static_cast<double>(acked) / mss_) / cwnd_seg;
  }
  // The increment is accumulated in fractions of a byte and only whole bytes move cwnd: at
  // a large window each ACK's share is below one byte, and truncating it per ACK lost the
  // growth RFC 9438 §4.4/§4.5 prescribe (the window lagged W_cubic(t) ever further).
  cubic_increment_ += std::max(0.0, increment_seg) * mss_;
  if (cubic_increment_ >= 1.0) {
    double whole = std::floor(cubic_increment_);
    cwnd_ += static_cast<std::uint32_t>(whole);
    cubic_increment_ -= whole;
  }
}

void CongestionControl::cubic_reduce(std::uint32_t flight_size, Instant) {
  double cwnd_seg = static_cast<double>(cwnd_) / mss_;
  // RFC 9438 §4.7 fast convergence.
  if (cwnd_seg < w_last_max_) {
    w_last_max_ = cwnd_seg;
    w_max_ = cwnd_seg * (1 + kCubicBeta) / 2;
  } else {
    w_last_max_ = cwnd_seg;
    w_max_ = cwnd_seg;
  }
  // RFC 9438 §4.6: ssthresh = flight_size * beta_cubic, at least 2 segments.
  ssthresh_ = std::max(static_cast<std::uint32_t>(flight_size * kCubicBeta), 2 * mss_);
  epoch_start_.reset();
  cubic_increment_ = 0;
}

void CongestionControl::on_congestion_event(std::uint32_t flight_size, Instant now) {
  if (algorithm_ == CongestionAlgorithm::Cubic) {
    cubic_reduce(flight_size, now);
  } else {
    // RFC 5681 §3.2 step 2, equation 4.
    ssthresh_ = std::max(flight_size / 2, 2 * mss_);
  }
  // RFC 5681 §3.2 step 3 / RFC 6675 §5: cwnd = ssthresh (+3 SMSS for NewReno's inflation
  // is added by the connection through inflate()).
  cwnd_ = ssthresh_;
  bytes_acked_ = 0;
}

void CongestionControl::on_recovery_exit() {
  cwnd_ = std::max(ssthresh_, mss_);
  bytes_acked_ = 0;
}

void CongestionControl::on_rto(std::uint32_t flight_size, Instant now) {
  if (algorithm_ == CongestionAlgorithm::Cubic) {
    cubic_reduce(flight_size, now);
  } else {
    ssthresh_ = std::max(flight_size / 2, 2 * mss_);
  }
  // RFC 5681 §3.1: LW = 1 SMSS after a retransmission timeout.
  cwnd_ = mss_;
  bytes_acked_ = 0;
}

void CongestionControl::inflate(std::uint32_t bytes) { cwnd_ += bytes; }

void CongestionControl::partial_ack(std::uint32_t acked) {
  cwnd_ = (cwnd_ > acked ? cwnd_ - acked : 0) + mss_;
}

}  // namespace synack::tcp
