// SPDX-License-Identifier: MIT
// RFC 6298 retransmission timer computation, with RFC 7323 Appendix G's gains for samples
// taken from timestamps on many ACKs per round trip.
#pragma once

#include <algorithm>
#include <cstdint>
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
  // K = 4, clock granularity G folded into the minimum. `expected_samples` is RFC 7323
  // Appendix G's ExpectedSamples (samples per RTT): alpha and beta are divided by it, so that
  // timestamp samples on every ACK weigh as much per RTT as one sequence sample.
  void sample(Duration rtt, std::uint32_t expected_samples = 1) {
    if (rtt < Duration{1}) rtt = Duration{1};
    const auto n = static_cast<std::int64_t>(std::max<std::uint32_t>(expected_samples, 1));
    if (!srtt_) {
      srtt_ = rtt;
      rttvar_ = rtt / 2;
    } else {
      Duration err = *srtt_ > rtt ? *srtt_ - rtt : rtt - *srtt_;
      // RTTVAR = (1 - beta') RTTVAR + beta' |SRTT - R'|, SRTT = (1 - alpha') SRTT + alpha' R'
      rttvar_ = (rttvar_ * (4 * n - 1) + err) / (4 * n);
      srtt_ = (*srtt_ * (8 * n - 1) + rtt) / (8 * n);
    }
    recompute();
  }

  // RFC 6298 §5.5: back the timer off by doubling, bounded by the maximum.
  void backoff() { rto_ = std::min(rto_ * 2, max_); }

  // New data was acknowledged although no sample could be taken from it (a timestamp echo
  // discarded as implausible): the path delivers again, so the backed-off RTO collapses to
  // the one SRTT and RTTVAR give, as a fresh sample would make it (RFC 6298 §5, note after
  // rule 5.7). Without an SRTT the initial RTO's backoff stays (RFC 6298 §5.7).
  void reset_backoff() {
    if (srtt_) recompute();
  }

  // RFC 4015 §2 after a spurious timeout: SRTT <- max(SRTT_prev, RTT), RTTVAR <-
  // max(RTTVAR_prev, RTT / 2), RTO recomputed (the backoff goes), with SRTT_prev and
  // RTTVAR_prev saved when the timeout struck and RTT the delayed segment's round trip.
  // Without an SRTT then, nothing is known to restore.
  void adapt_after_spurious_timeout(std::optional<Duration> srtt_prev, Duration rttvar_prev,
                                    std::optional<Duration> rtt) {
    if (!srtt_prev || !srtt_) return;
    Duration r = rtt.value_or(Duration{0});
    srtt_ = std::max(*srtt_prev, r);
    rttvar_ = std::max(rttvar_prev, r / 2);
    recompute();
  }

  // RFC 6298 §5.7: "the RTO MUST be re-initialized to 3 seconds when data transmission
  // begins" after a SYN timed out; not when the handshake gave a sample (with timestamps),
  // since §2.2 has set the RTO from it (as Linux's tcp_init_metrics did, srtt_us == 0).
  void syn_timeout_fallback(Duration fallback) {
    if (!srtt_) rto_ = fallback;
  }

  Duration rto() const { return rto_; }
  std::optional<Duration> srtt() const { return srtt_; }
  Duration rttvar() const { return rttvar_; }

 private:
  // RFC 6298 §2.4 (minimum, configurable) and §2.5 (maximum, configurable).
  void recompute() {
    rto_ = min_in_variance_
               ? std::min(*srtt_ + std::max(min_, rttvar_ * 4), max_)
               : std::clamp(*srtt_ + std::max(Duration{1000}, rttvar_ * 4), min_, max_);
  }

  std::optional<Duration> srtt_;
  Duration rttvar_{0};
  Duration rto_;
  Duration min_;
  Duration max_;
  bool min_in_variance_ = false;
};

}  // namespace synack::tcp
