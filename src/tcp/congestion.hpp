// Congestion window arithmetic: RFC 5681 slow start / congestion avoidance (NewReno) and
// RFC 9438 CUBIC. Loss detection and recovery live in the connection; this class only
// answers "how big may the window be" as ACKs and congestion events arrive. Bytes throughout.
#pragma once

#include <cstdint>
#include <optional>

#include "synack/config.hpp"
#include "synack/time.hpp"

namespace synack::tcp {

class CongestionControl {
 public:
  CongestionControl(CongestionAlgorithm algorithm, std::uint32_t mss,
                    std::uint32_t initial_window_segments);

  CongestionAlgorithm algorithm() const { return algorithm_; }
  std::uint32_t cwnd() const { return cwnd_; }
  std::uint32_t ssthresh() const { return ssthresh_; }
  bool in_slow_start() const { return cwnd_ < ssthresh_; }

  // MSS became known (after the handshake): RFC 6928 initial window in bytes.
  void set_mss(std::uint32_t mss);
  // `acked` bytes of new data were acknowledged outside loss recovery.
  void on_ack(std::uint32_t acked, Instant now, std::optional<Duration> rtt);
  // Fast retransmit (RFC 5681 §3.2 step 2 / RFC 9438 §4.6): a loss detected by dupacks or SACK.
  void on_congestion_event(std::uint32_t flight_size, Instant now);
  // Leaving fast recovery (RFC 6582 §3.2 step 3): deflate to ssthresh.
  void on_recovery_exit();
  // RTO expired (RFC 5681 §3.1 eq. 4, RFC 9438 §4.8): back to one segment.
  void on_rto(std::uint32_t flight_size, Instant now);
  // RFC 5681 §3.2 step 4: window inflation by one segment per duplicate ACK in recovery
  // when SACK is not in use (NewReno).
  void inflate(std::uint32_t bytes);
  // RFC 6582 §3.2 step 3, partial ACK: deflate by the newly acknowledged bytes, add one SMSS.
  void partial_ack(std::uint32_t acked);

 private:
  void cubic_on_ack(std::uint32_t acked, Instant now, std::optional<Duration> rtt);
  void cubic_reduce(std::uint32_t flight_size, Instant now);

  CongestionAlgorithm algorithm_;
  std::uint32_t mss_;
  std::uint32_t initial_segments_;
  std::uint32_t cwnd_;
  std::uint32_t ssthresh_ = 0x7fffffff;  // RFC 5681 §3.1: arbitrarily high initially
  std::uint32_t bytes_acked_ = 0;        // RFC 5681 §3.1 appropriate byte counting in CA
  // CUBIC state (RFC 9438 §4), in segments and seconds.
  double w_max_ = 0;
  double w_last_max_ = 0;
  double k_ = 0;
  double w_est_ = 0;
  double cubic_increment_ = 0;  // growth not yet applied, in bytes (fractions kept)
  std::optional<Instant> epoch_start_;
};

}  // namespace synack::tcp
