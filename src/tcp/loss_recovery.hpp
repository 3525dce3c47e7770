// SPDX-License-Identifier: MIT
// Loss recovery's state, one type (issue 12 §4): the phase, RFC 6582's "recover" point (RFC 6675
// RecoveryPoint), the SACK scoreboard, HighRxt, the log of SACK recovery's retransmissions (RFC
// 8985 §6.2) and the duplicate-ACK count. The connection drives it (connection_input.cpp for ACKs,
// connection.cpp for the RTO, connection_output.cpp for NextSeg); the phase is one value instead of
// flags tested in combination. No clock, no I/O: plain state with its invariants.
#pragma once

#include <cstdint>

#include "synack/seqnum.hpp"
#include "tcp/sack_scoreboard.hpp"

namespace synack::tcp {

class LossRecovery {
 public:
  enum class Phase : std::uint8_t {
    Open,     // no loss being repaired (RFC 5681 §3.1)
    NewReno,  // fast recovery without SACK (RFC 5681 §3.2, RFC 6582)
    Sack,     // fast recovery driven by the scoreboard (RFC 6675 §5)
    Loss,     // after an RTO with SACK: every unSACKed octet below recover() is lost (RFC 6675
              // §5.1, RFC 8985 §6.3) and resent as NextSeg allows, cwnd in slow start
  };

  // Both points start at the ISN: nothing sent, nothing recovered.
  explicit LossRecovery(SeqNum isn = SeqNum{}) : recover_(isn), high_rxt_(isn) {}

  Phase phase() const { return phase_; }
  void set_phase(Phase p) { phase_ = p; }
  bool in_recovery() const { return phase_ != Phase::Open; }
  // Holes are chosen from the scoreboard (RFC 6675 NextSeg) in these phases.
  bool sack_driven() const { return phase_ == Phase::Sack || phase_ == Phase::Loss; }

  // RFC 6582 "recover" / RFC 6675 RecoveryPoint: SND.MAX when the last recovery began.
  SeqNum recover() const { return recover_; }
  void set_recover(SeqNum s) { recover_ = s; }
  // RFC 6675 HighRxt: the highest sequence number retransmitted in this recovery.
  SeqNum high_rxt() const { return high_rxt_; }
  void set_high_rxt(SeqNum s) { high_rxt_ = s; }

  SackScoreboard& scoreboard() { return scoreboard_; }
  const SackScoreboard& scoreboard() const { return scoreboard_; }
  // SACK recovery's retransmissions, for RFC 8985 §6.2.
  RetransmitLog& retransmit_log() { return retransmit_log_; }
  const RetransmitLog& retransmit_log() const { return retransmit_log_; }

  // RFC 5681 §2 / RFC 6675 §2 duplicate ACKs since the last ACK of new data.
  std::uint32_t dup_acks() const { return dup_acks_; }
  void count_dup_ack() { ++dup_acks_; }
  void reset_dup_acks() { dup_acks_ = 0; }

 private:
  Phase phase_ = Phase::Open;
  SeqNum recover_;
  SeqNum high_rxt_;
  SackScoreboard scoreboard_;
  RetransmitLog retransmit_log_;
  std::uint32_t dup_acks_ = 0;
};

}  // namespace synack::tcp
