// SPDX-License-Identifier: MIT
// The congestion-control interface: how big the window may be as ACKs and congestion events
// arrive. Loss detection and recovery live in the connection (its Recovery phase); an
// algorithm only answers for cwnd and ssthresh. Bytes throughout.
//
// What is common to every algorithm here is RFC 5681's frame — the initial window, slow start,
// cwnd = 1 SMSS after an RTO, NewReno's inflation and partial-ACK deflation (RFC 6582) — and
// lives in this base. An algorithm supplies two things: its growth in congestion avoidance
// and its ssthresh after a loss (see new_reno.hpp, cubic.hpp). Adding a third is one header
// with those two functions, listed in any_congestion_control.hpp.
// (The build globs src/tcp/congestion/*.cpp too: BBR keeps its model in bbr.cpp.)
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

#include "synack/config.hpp"
#include "synack/time.hpp"

namespace synack::tcp {

// What a loss response is about to change, kept to be undone if the loss proves spurious
// (RFC 3708, RFC 4015; Linux's prior_cwnd / prior_ssthresh and ca_ops->undo_cwnd; RFC 9438 §4.9
// for CUBIC's own state). The connection keeps it (tcp/spurious_retransmit.hpp).
struct CongestionPrior {
  std::uint32_t cwnd = 0;
  std::uint32_t ssthresh = 0;
  // The algorithm's own state: CUBIC's W_max, W_last_max, K and W_est (RFC 9438 §4.9 lists
  // them with the epoch's start); unused by the others.
  double model[4] = {};
  Instant epoch{};
  bool in_epoch = false;
};

class CongestionControl {
 public:
  virtual ~CongestionControl() = default;

  virtual CongestionAlgorithm algorithm() const = 0;
  std::uint32_t cwnd() const { return cwnd_; }
  std::uint32_t ssthresh() const { return ssthresh_; }

  // MSS became known (after the handshake): RFC 6928 initial window in bytes.
  void set_mss(std::uint32_t mss) {
    mss_ = std::max<std::uint32_t>(mss, 1);
    cwnd_ = initial_window();
  }
  // RFC 6928 §2: IW = min(10*MSS, max(2*MSS, 14600)) for the default of 10 segments; other
  // configured counts are taken as given.
  std::uint32_t initial_window() const {
    std::uint32_t iw = initial_segments_ * mss_;
    if (initial_segments_ == 10) iw = std::min(10 * mss_, std::max(2 * mss_, 14600u));
    return std::max(iw, mss_);
  }

  // Slow start's growth per ACK, in SMSS (TcpConfig::slow_start_ack_limit); 0: no limit.
  void set_slow_start_limit(std::uint32_t segments) {
    slow_start_limit_ = static_cast<std::uint16_t>(std::min<std::uint32_t>(segments, 0xffff));
  }

  // `acked` bytes of new data were acknowledged outside fast recovery.
  void on_ack(std::uint32_t acked, Instant now, std::optional<Duration> rtt) {
    if (cwnd_ < ssthresh_) {
      if (slow_start_limit_ > 0) {
        // RFC 5681 §3.1 slow start, with RFC 3465 §2.2 byte counting limited to L SMSS.
        cwnd_ += std::min(acked, std::uint32_t{slow_start_limit_} * mss_);
        return;
      }
      // Follows Linux (tcp_slow_start): every byte acknowledged, up to ssthresh; the rest
      // of the ACK counts for congestion avoidance (TcpConfig::slow_start_ack_limit).
      const std::uint32_t grow = std::min(acked, ssthresh_ - cwnd_);
      cwnd_ += grow;
      acked -= grow;
      if (acked == 0) return;
    }
    congestion_avoidance(acked, now, rtt);
  }

  // Fast retransmit (RFC 5681 §3.2 step 2 / RFC 9438 §4.6): a loss detected by dupacks or
  // SACK. RFC 5681 §3.2 step 3 / RFC 6675 §5: cwnd = ssthresh (NewReno's +3 SMSS comes from
  // the connection through inflate()).
  void on_congestion_event(std::uint32_t flight_size, Instant now) {
    ssthresh_ = ssthresh_after_loss(flight_size, now);
    cwnd_ = ssthresh_;
  }

  // Leaving fast recovery (RFC 6582 §3.2 step 3): deflate to ssthresh.
  void on_recovery_exit() { cwnd_ = std::max(ssthresh_, mss_); }

  // RTO expired (RFC 5681 §3.1 eq. 4, RFC 9438 §4.8): LW = 1 SMSS.
  void on_rto(std::uint32_t flight_size, Instant now) {
    ssthresh_ = ssthresh_after_loss(flight_size, now);
    cwnd_ = mss_;
  }

  // An ACK that may not grow cwnd (cwnd validation: the window is not in use), or the flight
  // drained (the sender idles): RFC 9438 §5.8 — an algorithm whose growth follows a clock
  // leaves such periods out of it, until the next ACK that grows the window.
  void on_growth_held(Instant now) { growth_held(now); }

  // RFC 5681 §4.1, restarting idle connections: "TCP SHOULD set cwnd to no more than RW
  // before beginning transmission if the TCP has not sent data in an interval exceeding the
  // retransmission timeout", RW = min(IW, cwnd) — the ACK clock is gone and the path may have
  // changed. Follows Linux (tcp_cwnd_restart() through tcp_current_ssthresh()) in keeping the
  // window's memory first: ssthresh = max(ssthresh, 3/4 cwnd), so slow start brings the window
  // back within a few round trips. (Linux halves cwnd once per RTO idle, down to RW; this is
  // RFC 5681's rule, RW at once.) The connection decides when (Connection::restart_after_idle).
  void restart_after_idle() {
    ssthresh_ = std::max(ssthresh_, cwnd_ / 2 + cwnd_ / 4);
    cwnd_ = std::min(cwnd_, initial_window());
  }

  // RFC 5681 §3.2 step 4: NewReno's inflation by one SMSS per duplicate ACK (no SACK).
  void inflate(std::uint32_t bytes) { cwnd_ += bytes; }
  // RFC 6937 §3: during SACK fast recovery the window is PRR's, cwnd = pipe + sndcnt, set per
  // ACK by the connection (tcp/loss_recovery.hpp); ssthresh stays the algorithm's.
  void set_recovery_cwnd(std::uint32_t bytes) { cwnd_ = bytes; }
  // RFC 6582 §3.2 step 3, partial ACK: deflate by the newly acknowledged bytes, add one SMSS.
  void partial_ack(std::uint32_t acked) { cwnd_ = (cwnd_ > acked ? cwnd_ - acked : 0) + mss_; }

  // Before a loss response (on_congestion_event, on_rto): what undo() may give back.
  CongestionPrior prior() const {
    CongestionPrior p;
    p.cwnd = cwnd_;
    p.ssthresh = ssthresh_;
    save_model(p);
    return p;
  }
  // The response to `p`'s episode proved spurious (RFC 3708, RFC 4015 §2, RFC 9438 §4.9):
  // cwnd back up to `cwnd`, never above the saved one; ssthresh up to `ssthresh`; the
  // algorithm's state as it was. Neither is ever lowered (Linux's tcp_undo_cwnd_reduction:
  // max(cwnd, prior_cwnd), max(ssthresh, prior_ssthresh)).
  void undo(const CongestionPrior& p, std::uint32_t cwnd, std::uint32_t ssthresh) {
    cwnd_ = std::max(cwnd_, std::min(cwnd, p.cwnd));
    ssthresh_ = std::max(ssthresh_, ssthresh);
    restore_model(p);
  }

 protected:
  CongestionControl(std::uint32_t mss, std::uint32_t initial_window_segments)
      : initial_segments_(
            static_cast<std::uint16_t>(std::min<std::uint32_t>(initial_window_segments, 0xffff))) {
    set_mss(mss);
  }
  CongestionControl(const CongestionControl&) = default;
  CongestionControl& operator=(const CongestionControl&) = default;

  // The algorithm's growth once cwnd >= ssthresh.
  virtual void congestion_avoidance(std::uint32_t acked, Instant now,
                                    std::optional<Duration> rtt) = 0;
  // The algorithm's ssthresh after a loss (fast retransmit or RTO); it also restarts
  // whatever epoch the algorithm keeps.
  virtual std::uint32_t ssthresh_after_loss(std::uint32_t flight_size, Instant now) = 0;
  // on_growth_held(); nothing by default (NewReno's growth counts ACKs, not time).
  virtual void growth_held(Instant) {}
  // The algorithm's own state for prior() / undo(); none by default.
  virtual void save_model(CongestionPrior&) const {}
  virtual void restore_model(const CongestionPrior&) {}

  std::uint32_t mss_ = 1;
  // Both small counts of segments, kept in 16 bits each (a connection's size: bench/).
  std::uint16_t initial_segments_;
  std::uint16_t slow_start_limit_ = TcpConfig{}.slow_start_ack_limit;
  std::uint32_t cwnd_ = 0;
  std::uint32_t ssthresh_ = 0x7fffffff;  // RFC 5681 §3.1: arbitrarily high initially
};

}  // namespace synack::tcp
