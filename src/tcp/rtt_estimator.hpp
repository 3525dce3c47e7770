// RFC 6298 retransmission timer computation.
#pragma once

#include <algorithm>
#include <optional>

#include "synack/time.hpp"

namespace synack::tcp {

class RttEstimator {
 public:
  // min_in_variance: follows Linux (tcp_set_rto, tcp_rtt_estimator): the minimum bounds the
  // variance term, RTO = SRTT + max(4 * RTTVAR, min), instead of the RTO as a whole.
  RttEstimator(Duration initial, Duration min, Duration max, bool min_in_variance = false)
      : rto_(initial), min_(min), max_(max), min_in_variance_(min_in_variance) {}

  // RFC 6298 §2.2 (first sample) and §2.3 (later samples), alpha = 1/8, beta = 1/4,
  // K = 4, clock granularity G folded into the minimum.
  void sample(Duration rtt) {
    if (rtt < Duration{1}) rtt = Duration{1};
    if (!srtt_) {
      srtt_ = rtt;
      rttvar_ = rtt / 2;
    } else {
      Duration err = *srtt_ > rtt ? *srtt_ - rtt : rtt - *srtt_;
      rttvar_ = (rttvar_ * 3 + err) / 4;
      srtt_ = (*srtt_ * 7 + rtt) / 8;
    }
    min_rtt_ = min_rtt_ ? std::min(*min_rtt_, rtt) : rtt;
    backoff_ = 0;
    // RFC 6298 §2.4 (minimum, configurable) and §2.5 (maximum).
    base_rto_ = min_in_variance_
                    ? std::min(*srtt_ + std::max(min_, rttvar_ * 4), max_)
                    : std::clamp(*srtt_ + std::max(Duration{1000}, rttvar_ * 4), min_, max_);
    rto_ = base_rto_;
  }

  // RFC 6298 §5.5: back the timer off by doubling, bounded by the maximum.
  void backoff() {
    ++backoff_;
    rto_ = std::min(rto_ * 2, max_);
  }

  Duration rto() const { return rto_; }
  std::optional<Duration> srtt() const { return srtt_; }
  Duration rttvar() const { return rttvar_; }
  std::optional<Duration> min_rtt() const { return min_rtt_; }
  unsigned backoffs() const { return backoff_; }

 private:
  std::optional<Duration> srtt_;
  Duration rttvar_{0};
  std::optional<Duration> min_rtt_;
  Duration rto_;
  Duration base_rto_{0};
  Duration min_;
  Duration max_;
  unsigned backoff_ = 0;
  bool min_in_variance_ = false;
};

}  // namespace synack::tcp
