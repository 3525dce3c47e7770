// SPDX-License-Identifier: MIT
// BBR (version 3) as draft-ietf-ccwg-bbr-01 specifies it ("the draft" below; section numbers
// are that revision's): a model of the path — the bottleneck bandwidth (BBR.max_bw, a windowed
// max of delivery-rate samples) and the round-trip propagation time (BBR.min_rtt) — from which
// it sets the pacing rate and cwnd, with the state machine Startup, Drain, ProbeBW (DOWN,
// CRUISE, REFILL, UP) and ProbeRTT, and the v3 bounds inflight_hi / inflight_lo / bw_lo that
// respond to loss (a loss rate over BBRLossThresh = 2 %).
//
// It is driven by rate samples (tcp/delivery_rate.hpp) on every ACK, not by on_ack(): the
// connection allocates a RateState for a BBR connection and calls on_rate_sample(). The
// CongestionControl entry points RFC 5681's frame uses (on_congestion_event, on_rto, PRR's
// set_recovery_cwnd, NewReno's inflate) are hidden here with BBR's own responses
// (AnyCongestionControl calls the algorithm's own member). The model lives on the heap, so the
// variant in the connection stays the size of CUBIC's.
#pragma once

#include <memory>

#include "tcp/congestion/congestion_control.hpp"
#include "tcp/delivery_rate.hpp"

namespace synack::tcp {

// What the connection knows at an ACK, beside the rate sample.
struct BbrAck {
  Instant now;
  std::uint32_t inflight = 0;  // bytes in flight after the ACK (pipe with SACK)
  bool in_recovery = false;    // fast recovery or RTO recovery
  bool cwnd_limited = false;   // the sender filled cwnd before this ACK
  std::optional<Duration> srtt;
};

class Bbr final : public CongestionControl {
 public:
  enum class State : std::uint8_t {
    Startup,
    Drain,
    ProbeBwDown,
    ProbeBwCruise,
    ProbeBwRefill,
    ProbeBwUp,
    ProbeRtt
  };

  // The draft §2.6 / §5.6 parameters.
  static constexpr double kStartupPacingGain = 2.77;  // 4 ln 2
  static constexpr double kStartupCwndGain = 2.0;
  static constexpr double kDrainPacingGain = 0.35;
  static constexpr double kLossThresh = 0.02;  // BBRLossThresh
  static constexpr double kBeta = 0.7;         // BBRBeta
  static constexpr double kHeadroom = 0.15;    // BBRHeadroom
  static constexpr double kPacingMargin = 0.01;
  static constexpr int kFullBwCount = 3;  // rounds without 25 % growth end Startup
  static constexpr double kFullBwThresh = 1.25;
  static constexpr int kStartupFullLossCount = 6;
  static constexpr Duration kMinRttFilterLen = std::chrono::seconds(10);
  static constexpr Duration kProbeRttInterval = std::chrono::seconds(5);
  static constexpr Duration kProbeRttDuration = std::chrono::milliseconds(200);
  static constexpr double kProbeRttCwndGain = 0.5;

  Bbr(std::uint32_t mss, std::uint32_t initial_window_segments);
  ~Bbr() override;
  Bbr(Bbr&&) noexcept;
  Bbr& operator=(Bbr&&) noexcept;
  CongestionAlgorithm algorithm() const override { return CongestionAlgorithm::Bbr; }

  // --- the CongestionControl entry points, BBR's way (hiding the base's) ---
  // The initial window (§5.6.4.1 InitialCwnd) follows the MSS the handshake settled.
  void set_mss(std::uint32_t mss);
  // BBR's window follows its model on every rate sample, not RFC 5681's growth per ACK.
  void on_ack(std::uint32_t, Instant, std::optional<Duration>) {}
  // Fast recovery starts: the draft §5.6.4.4 (save cwnd, packet conservation), applied at the
  // rate sample of the same ACK.
  void on_congestion_event(std::uint32_t flight_size, Instant now);
  // The draft §5.6.4.4: "Upon exiting loss recovery ... BBRRestoreCwnd()".
  void on_recovery_exit();
  // The draft §5.6.4.4: on a retransmission timeout, save cwnd and set cwnd to what is in
  // flight (nothing, after the timeout) plus one segment.
  void on_rto(std::uint32_t flight_size, Instant now);
  // A loss response proved spurious (tcp/spurious_retransmit.hpp). The draft has no undo;
  // follows Linux (bbr_undo_cwnd): the full-bandwidth detector and the lower bounds the loss
  // set (bw_lo, inflight_lo) are reset, and recovery ends with cwnd restored (§5.6.4.4
  // BBRRestoreCwnd), at most to the cwnd saved before the response.
  void undo(const CongestionPrior& p, std::uint32_t cwnd, std::uint32_t ssthresh);
  // PRR (RFC 6937) and NewReno's inflation do not apply: BBR bounds the window itself.
  void inflate(std::uint32_t) {}
  void set_recovery_cwnd(std::uint32_t) {}
  void partial_ack(std::uint32_t) {}

  // The draft §5.2 BBRUpdateOnACK(): the model, the state machine, then pacing rate and cwnd.
  void on_rate_sample(const RateSample& rs, const BbrAck& ack, DeliveryRate& rate);
  // BBR.pacing_rate in bytes per second.
  std::uint64_t pacing_rate() const;

  // --- observers (tests, status) ---
  State state() const;
  double max_bw() const;  // BBR.max_bw, bytes/s
  double bw() const;      // BBR.bw = min(max_bw, bw_lo)
  std::optional<Duration> min_rtt() const;
  double pacing_gain() const;
  double cwnd_gain() const;
  bool filled_pipe() const;
  std::uint64_t bdp() const;  // BBRBDPMultiple(1.0)
  std::uint64_t inflight_hi() const;
  std::uint64_t inflight_lo() const;
  std::uint64_t round_count() const;

 private:
  void congestion_avoidance(std::uint32_t, Instant, std::optional<Duration>) override {}
  std::uint32_t ssthresh_after_loss(std::uint32_t, Instant) override { return ssthresh_; }

  struct Model;
  std::unique_ptr<Model> m_;
  friend struct Model;
};

std::string_view to_string(Bbr::State s);

}  // namespace synack::tcp
