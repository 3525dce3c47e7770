// SPDX-License-Identifier: MIT
// Spurious retransmissions: the state of one loss episode, kept to find out whether its
// retransmissions were needed and to undo its congestion response when they were not.
//   - F-RTO (RFC 5682): after a timeout, the first ACKs are answered with new data instead of
//     retransmissions; an ACK of data sent before the timeout and never resent shows the timeout
//     spurious (§3.1, the SACK-enhanced variant, with SACK; §2.1, the basic one, without).
//   - D-SACK (RFC 3708 with RFC 2883's blocks): every octet the episode retransmitted reported
//     received twice.
//   - The timestamp echo (Eifel detection, RFC 3522): the ACK of a retransmission echoes a
//     TSval older than the first retransmission's, so an original copy reached the peer.
// The response (RFC 4015 §2 after a timeout; Linux's tcp_undo_cwnd_reduction otherwise) gives
// back what the episode's reduction took: cwnd and ssthresh as saved (never more), the
// congestion control's own state, once per episode. The connection drives it from
// spurious_retransmit.cpp; the state is on the heap, made at the first loss episode.
// No clock, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

#include "synack/seqnum.hpp"
#include "synack/time.hpp"
#include "tcp/congestion/congestion_control.hpp"

namespace synack::tcp {

class SpuriousRetransmit {
 public:
  enum class Kind : std::uint8_t { FastRecovery, Timeout };
  // RFC 5682's steps: 2 waits for the first ACK of new data after the timeout's
  // retransmission, 3 for the ACK after the new data it sent.
  enum class Frto : std::uint8_t { Off, Step2, Step3 };

  // A new episode: its reduction (fast recovery or the first timeout) is about to happen.
  // `marker`: SND.UNA (Linux's undo_marker); `prior`: what the reduction will change;
  // `pipe_prev`, `srtt_prev`, `rttvar_prev`: RFC 4015 §2 step (0).
  void begin(Kind kind, SeqNum marker, const CongestionPrior& prior, std::uint32_t pipe_prev,
             std::optional<Duration> srtt_prev, Duration rttvar_prev) {
    // Every field is set anew but undos_ (member by member: a whole-object assignment copies
    // last_dsack_'s disengaged payload, which GCC 12's -O2 with ASan flags as uninitialized).
    last_dsack_.reset();
    retrans_ts_.reset();
    retrans_bytes_ = 0;
    dsacked_bytes_ = 0;
    frto_ = Frto::Off;
    recovery_over_ = false;
    kind_ = kind;
    timeout_ack_pending_ = kind == Kind::Timeout;
    open_ = true;
    marker_ = marker;
    retrans_high_ = marker;
    prior_ = prior;
    pipe_prev_ = pipe_prev;
    srtt_prev_ = srtt_prev;
    rttvar_prev_ = rttvar_prev;
  }
  // A timeout inside the episode (recurring, or during fast recovery) makes it a timeout one.
  void on_timeout() {
    kind_ = Kind::Timeout;
    timeout_ack_pending_ = true;
  }
  // RFC 3522 §3.2 (3)-(4): the first ACK of new data after a timeout is the one whose echo
  // tells; true once, for that ACK.
  bool take_timeout_ack() {
    bool first = timeout_ack_pending_;
    timeout_ack_pending_ = false;
    return first;
  }
  // The episode may still be undone (not undone yet, not replaced).
  bool open() const { return open_; }
  Kind kind() const { return kind_; }
  SeqNum marker() const { return marker_; }
  const CongestionPrior& prior() const { return prior_; }
  std::uint32_t pipe_prev() const { return pipe_prev_; }
  std::optional<Duration> srtt_prev() const { return srtt_prev_; }
  Duration rttvar_prev() const { return rttvar_prev_; }

  // Every retransmission of [start, end) with the TSval it carried (RFC 3522 §3.2 (1):
  // RetransmitTS is the first one's).
  void on_retransmit(SeqNum start, SeqNum end, std::uint32_t tsval) {
    if (!open_ || !(start < end)) return;
    if (!retrans_ts_) retrans_ts_ = tsval;
    // Saturating: an episode that resent 4 GiB is not undone by D-SACKs anyway.
    std::uint32_t n = static_cast<std::uint32_t>(end - start);
    retrans_bytes_ = retrans_bytes_ > UINT32_MAX - n ? UINT32_MAX : retrans_bytes_ + n;
    if (retrans_high_ < end) retrans_high_ = end;
  }
  // RFC 3708 §3: a D-SACK of [left, right). Counted only for what this episode retransmitted
  // (inside [marker, highest retransmitted octet)), and not when it repeats the last block (a
  // peer's repeats would make one duplicate count many times). Returns whether it counted.
  bool on_dsack(SeqNum left, SeqNum right) {
    if (!open_ || retrans_bytes_ == 0) return false;
    if (last_dsack_ && last_dsack_->first == left && last_dsack_->second == right) return false;
    SeqNum l = seq_max(left, marker_), r = seq_min(right, retrans_high_);
    if (!(l < r)) return false;
    last_dsack_ = std::make_pair(left, right);
    std::uint32_t n = static_cast<std::uint32_t>(r - l);
    dsacked_bytes_ = dsacked_bytes_ > UINT32_MAX - n ? UINT32_MAX : dsacked_bytes_ + n;
    return true;
  }
  // RFC 3708 §3: every retransmitted octet was reported as a duplicate.
  bool all_dsacked() const { return retrans_bytes_ > 0 && dsacked_bytes_ >= retrans_bytes_; }
  // RFC 3522 §3.2 (4): the echo is older than the first retransmission's TSval.
  bool echo_before_retransmit(std::uint32_t tsecr) const {
    return retrans_ts_ && static_cast<std::int32_t>(tsecr - *retrans_ts_) < 0;
  }
  bool retransmitted() const { return retrans_bytes_ > 0; }

  // The episode's recovery ended (SND.UNA reached its recovery point): later, only D-SACKs may
  // still undo it.
  bool recovery_over() const { return recovery_over_; }
  void set_recovery_over() { recovery_over_ = true; }

  Frto frto() const { return frto_; }
  void set_frto(Frto f) { frto_ = f; }

  // Undone, or given up: no second undo for the same episode.
  void close() {
    open_ = false;
    frto_ = Frto::Off;
  }
  // Undos over the connection's life, for its status.
  std::uint64_t undos() const { return undos_; }
  void count_undo() { ++undos_; }

 private:
  CongestionPrior prior_;
  std::optional<Duration> srtt_prev_;
  Duration rttvar_prev_{0};
  std::optional<std::pair<SeqNum, SeqNum>> last_dsack_;
  std::optional<std::uint32_t> retrans_ts_;  // RFC 3522 RetransmitTS
  SeqNum marker_;
  SeqNum retrans_high_;
  std::uint32_t pipe_prev_ = 0;
  std::uint32_t retrans_bytes_ = 0;
  std::uint32_t dsacked_bytes_ = 0;
  std::uint64_t undos_ = 0;
  Kind kind_ = Kind::FastRecovery;
  Frto frto_ = Frto::Off;
  bool open_ = false;
  bool recovery_over_ = false;
  bool timeout_ack_pending_ = false;
};

}  // namespace synack::tcp
