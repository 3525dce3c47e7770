// SPDX-License-Identifier: MIT
// Loss recovery's state, one type (issue 12 §4): the phase, RFC 6582's "recover" point (RFC 6675
// RecoveryPoint), the SACK scoreboard, HighRxt, the log of SACK recovery's retransmissions (RFC
// 8985 §6.2), the duplicate-ACK count and Proportional Rate Reduction's state (RFC 6937 §3). The
// connection drives it (connection_input.cpp for ACKs, connection.cpp for the RTO,
// connection_output.cpp for NextSeg); the phase is one value instead of flags tested in
// combination. No clock, no I/O: plain state with its invariants.
#pragma once

#include <algorithm>
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
  // (Saturates: only "fewer than 3" and "at least 3" matter, RFC 5681 §3.2 / RFC 3042 §2.)
  std::uint32_t dup_acks() const { return dup_acks_; }
  void count_dup_ack() {
    if (dup_acks_ < UINT16_MAX) ++dup_acks_;
  }
  void reset_dup_acks() { dup_acks_ = 0; }

  // --- Proportional Rate Reduction (RFC 6937), the sending rate in Phase::Sack ---
  // RFC 6937 §3, "at the beginning of recovery": prr_delivered = 0, prr_out = 0,
  // RecoverFS = snd.nxt - snd.una (FlightSize; our SND.MAX - SND.UNA). ssthresh is the
  // congestion control's (CongCtrlAlg(): NewReno's FlightSize/2, CUBIC's 0.7 FlightSize, or 0.7
  // cwnd with TcpConfig::cwnd_validation).
  void start_prr(std::uint32_t recover_fs) {
    prr_delivered_ = 0;
    prr_out_ = 0;
    recover_fs_ = std::max<std::uint32_t>(recover_fs, 1);
  }
  // RFC 6937 §3, "on any data transmission or retransmission: prr_out += (data sent)".
  void on_prr_sent(std::uint32_t bytes) { prr_out_ += bytes; }
  // RFC 6937 §3, "on every ACK during recovery": adds DeliveredData (change_in(snd.una) +
  // change_in(SACKd)) to prr_delivered and returns sndcnt, the bytes this ACK may send; the
  // connection sets cwnd = pipe + sndcnt (RFC 6937 §3, for a sender whose transmissions are
  // governed by RFC 6675's pipe < cwnd; Linux's tcp_cwnd_reduction() does the same).
  std::uint32_t prr_sndcnt(std::uint32_t delivered, std::uint32_t pipe, std::uint32_t ssthresh,
                           std::uint32_t mss) {
    prr_delivered_ += delivered;
    std::int64_t sndcnt;
    if (pipe > ssthresh) {
      // RFC 6937 §3 Proportional Rate Reduction:
      // sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out.
      // The CEIL is taken in whole segments, as Linux counts packets: a share below one MSS
      // would send nothing (a segment goes out whole), and PRR would lag the proportion by up
      // to a segment on every ACK.
      std::uint64_t target =
          (static_cast<std::uint64_t>(prr_delivered_) * ssthresh + recover_fs_ - 1) / recover_fs_;
      target = (target + mss - 1) / mss * mss;
      sndcnt = static_cast<std::int64_t>(target) - prr_out_;
    } else {
      // RFC 6937 §3 reduction bound, PRR-SSRB (the variant RFC 6937 recommends, and the one
      // Linux first shipped): limit = MAX(prr_delivered - prr_out, DeliveredData) + MSS;
      // sndcnt = MIN(ssthresh - pipe, limit) — slow start back up to ssthresh, at most one
      // segment more than was delivered per ACK. (The connection calls this only for ACKs
      // that delivered data.) Linux today, and RFC 9937 which obsoletes RFC 6937, add the MSS
      // only on a "safe" ACK (SND.UNA advanced, no new loss); measured here, that bound cost
      // CUBIC 44 % more time at 10 % loss in the simulator (RTOs 98 -> 163 over 21 seeds):
      // without RACK's reordering timer a lost retransmission in a small window is found by
      // the RTO. See docs/reliability.md.
      std::int64_t limit =
          std::max<std::int64_t>(static_cast<std::int64_t>(prr_delivered_) - prr_out_, delivered) +
          mss;
      sndcnt = std::min<std::int64_t>(static_cast<std::int64_t>(ssthresh) - pipe, limit);
    }
    // Linux (tcp_cwnd_reduction: "force a fast retransmit upon entering fast recovery"): one
    // segment while nothing has been sent in this recovery.
    if (prr_out_ == 0) sndcnt = std::max<std::int64_t>(sndcnt, mss);
    return static_cast<std::uint32_t>(std::max<std::int64_t>(sndcnt, 0));
  }
  std::uint32_t prr_delivered() const { return prr_delivered_; }
  std::uint32_t prr_out() const { return prr_out_; }
  std::uint32_t recover_fs() const { return recover_fs_; }

 private:
  // Ordered to fill the padding: PRR's three counters cost no bytes (sizeof stays 80).
  Phase phase_ = Phase::Open;
  std::uint16_t dup_acks_ = 0;
  SeqNum recover_;
  SeqNum high_rxt_;
  std::uint32_t prr_delivered_ = 0;  // RFC 6937 §3 prr_delivered
  SackScoreboard scoreboard_;
  RetransmitLog retransmit_log_;
  std::uint32_t prr_out_ = 0;     // RFC 6937 §3 prr_out
  std::uint32_t recover_fs_ = 1;  // RFC 6937 §3 RecoverFS
};

}  // namespace synack::tcp
