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
  // `timed`: measured in microseconds from a sequence-timed segment (the SYN, or data sent
  // once); false for an RFC 7323 timestamp echo, whole milliseconds, which min_sample() leaves
  // out (an echo of the current millisecond says 0 — taken as 1 µs — on any path under 1 ms).
  void sample(Duration rtt, std::uint32_t expected_samples = 1, bool timed = true) {
    if (rtt < Duration{1}) rtt = Duration{1};
    const auto us = static_cast<std::uint32_t>(std::min<Duration::rep>(rtt.count(), 0xffffffff));
    if (timed && (min_sample_us_ == 0 || us < min_sample_us_)) min_sample_us_ = us;
    const auto n = static_cast<std::int64_t>(std::max<std::uint32_t>(expected_samples, 1));
    if (srtt_ == Duration{0} || restart_) {
      srtt_ = rtt;
      rttvar_ = rtt / 2;
      restart_ = false;
    } else {
      Duration err = srtt_ > rtt ? srtt_ - rtt : rtt - srtt_;
      // RTTVAR = (1 - beta') RTTVAR + beta' |SRTT - R'|, SRTT = (1 - alpha') SRTT + alpha' R'
      rttvar_ = (rttvar_ * (4 * n - 1) + err) / (4 * n);
      srtt_ = (srtt_ * (8 * n - 1) + rtt) / (8 * n);
    }
    recompute();
  }

  // RFC 6298 §5.5: back the timer off by doubling, bounded by the maximum.
  void backoff() { rto_ = std::min(rto_ * 2, max_); }

  // New data was acknowledged although no sample could be taken from it (a timestamp echo
  // discarded as implausible, or an RTO's retransmission judged delivered): the path delivers
  // again, so the backed-off RTO collapses to the one SRTT and RTTVAR give, as a fresh sample
  // would make it (RFC 6298 §5, note after rule 5.7). Without an SRTT it returns to
  // `without_srtt`: the initial RTO (RFC 6298 §2.1), or §5.7's 3 s after a SYN timed out.
  void reset_backoff(Duration without_srtt) {
    if (srtt_ > Duration{0})
      recompute();
    else
      rto_ = without_srtt;
  }

  // RFC 4015 §2 after a spurious timeout: SRTT <- max(SRTT_prev, RTT), RTTVAR <-
  // max(RTTVAR_prev, RTT / 2), RTO recomputed (the backoff goes), with SRTT_prev and
  // RTTVAR_prev saved when the timeout struck and RTT the delayed segment's round trip.
  // Without an SRTT then, nothing is known to restore.
  void adapt_after_spurious_timeout(std::optional<Duration> srtt_prev, Duration rttvar_prev,
                                    std::optional<Duration> rtt) {
    if (!srtt_prev || srtt_ == Duration{0}) return;
    Duration r = rtt.value_or(Duration{0});
    srtt_ = std::max(*srtt_prev, r);
    rttvar_ = std::max(rttvar_prev, r / 2);
    recompute();
  }

  // RFC 6298 §5.7: "the RTO MUST be re-initialized to 3 seconds when data transmission
  // begins" after a SYN timed out; not when the handshake gave a sample (with timestamps),
  // since §2.2 has set the RTO from it (as Linux's tcp_init_metrics did, srtt_us == 0).
  void syn_timeout_fallback(Duration fallback) {
    if (srtt_ == Duration{0}) rto_ = fallback;
  }

  // A handshake during which our SYN or SYN,ACK timed out gave its sample from a timestamp
  // echo (RFC 7323 §4.1), and the peer may have been backing off as well: a SYN,ACK it
  // retransmitted echoes our SYN's TSval, so the sample spans the peer's timeouts (seen: 3 s
  // on a 4 ms path, whose RTO then stayed near 10 s for some twenty samples). The sample is
  // kept as provisional. Its RTO is no more than the RFC 6298 §5.7 fallback (3 s, which §5.7
  // asks for after a SYN timeout), and the first sample of the data transfer starts SRTT and
  // RTTVAR afresh per §2.2 — as RFC 6298 §5 (note after rule 5.7) allows after repeated
  // backoffs, "as it is likely that the current SRTT and RTTVAR are bogus in this situation".
  void treat_as_provisional(Duration fallback) {
    if (srtt_ == Duration{0}) return;
    restart_ = true;
    rto_ = std::min(rto_, std::max(fallback, min_));
  }

  // The smallest timed sample taken, the handshake's included (none: zero). RFC 8985 §6.2
  // step 2 judges an ACK of a retransmitted segment that arrives sooner than min_RTT after the
  // retransmission to be for an earlier copy.
  Duration min_sample() const { return Duration{min_sample_us_}; }

  Duration rto() const { return rto_; }
  std::optional<Duration> srtt() const {
    return srtt_ > Duration{0} ? std::optional<Duration>(srtt_) : std::nullopt;
  }
  Duration rttvar() const { return rttvar_; }

 private:
  // RFC 6298 §2.4 (minimum, configurable) and §2.5 (maximum, configurable).
  void recompute() {
    rto_ = min_in_variance_ ? std::min(srtt_ + std::max(min_, rttvar_ * 4), max_)
                            : std::clamp(srtt_ + std::max(Duration{1000}, rttvar_ * 4), min_, max_);
  }

  Duration srtt_{0};  // none yet: zero (samples are at least 1 µs)
  Duration rttvar_{0};
  Duration rto_;
  Duration min_;
  Duration max_;
  bool min_in_variance_ = false;
  bool restart_ = false;  // treat_as_provisional(): the next sample starts afresh (§2.2)
  std::uint32_t min_sample_us_ = 0;  // min_sample(), in microseconds (0: none)
};

}  // namespace synack::tcp
