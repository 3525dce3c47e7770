// SPDX-License-Identifier: MIT
// Detection of spurious retransmissions and the undo of their congestion response, driven by
// the connection (see tcp/spurious_retransmit.hpp for the rules and their RFCs):
//   undo_on_reduction()  before cwnd is cut: fast recovery (connection_input.cpp) or a timeout
//                        (connection.cpp); starts an episode or joins the one under way, and
//                        F-RTO's step 1.
//   undo_on_ack()        every ACK, once SND.UNA has moved: D-SACKs counted, the timestamp echo
//                        read, F-RTO's steps 2 and 3, the undo.
// Retransmissions are counted where they leave (send_data_segment()).
#include <algorithm>

#include "tcp/connection.hpp"

namespace synack::tcp {

void Connection::undo_on_reduction(bool timeout, Instant now) {
  (void)now;
  if (!undo_) undo_ = std::make_unique<SpuriousRetransmit>();
  SpuriousRetransmit& u = *undo_;
  // Follows Linux (tcp_enter_loss, tcp_enter_recovery): a timeout during fast recovery, or one
  // recurring before any ACK of new data, belongs to the episode under way, whose undo gives
  // back what was there before its first reduction. Anything else starts an episode
  // (undo_marker = SND.UNA, tcp_init_undo).
  const bool inside = u.open() && snd_una_ < loss_.recover() &&
                      (loss_.phase() == Recovery::Sack || loss_.phase() == Recovery::NewReno ||
                       (timeout && retries_ > 1));
  if (inside) {
    if (timeout) u.on_timeout();
  } else {
    // RFC 4015 §2 step (0): pipe_prev = max(FlightSize, ssthresh); SRTT_prev = SRTT + 2G;
    // RTTVAR_prev = RTTVAR (G: the 1 ms timestamp clock).
    std::optional<Duration> srtt_prev = rtt_.srtt();
    if (srtt_prev) *srtt_prev += 2 * Duration{std::chrono::milliseconds(1)};
    u.begin(timeout ? SpuriousRetransmit::Kind::Timeout : SpuriousRetransmit::Kind::FastRecovery,
            snd_una_, cc_.prior(), std::max(flight_size(), cc_.ssthresh()), srtt_prev,
            rtt_.rttvar());
  }
  if (!timeout) return;
  // RFC 5682 §3.1 step 1 (§2.1 step 1 without SACK): F-RTO after a timeout that strikes no
  // recovery under way, or that recurs on the same SND.UNA (§3.1: "recurring timeouts"; Linux:
  // new_recovery || icsk_retransmits). The timeout's retransmission goes out as usual.
  const bool fresh = loss_.phase() == Recovery::Open && snd_una_ >= loss_.recover();
  u.set_frto(config_->frto && (fresh || retries_ > 1) ? SpuriousRetransmit::Frto::Step2
                                                      : SpuriousRetransmit::Frto::Off);
}

// RFC 5682 §3.1 / §2.1 step 2b: "transmit up to two new (previously unsent) segments" — what
// cwnd would have sent as retransmissions, from SND.MAX and inside the peer's window (Nagle
// overridden, as step 2b allows). Returns the octets sent.
std::uint32_t Connection::frto_send_new_data(Instant now, SegmentSink& out) {
  const std::uint32_t mss = effective_mss() - sack_option_bytes();
  const SeqNum data_end = fin_seq();
  const SeqNum wnd_end = snd_una_ + snd_wnd_;
  std::uint32_t sent = 0;
  for (int i = 0; i < 2 && snd_max_ < data_end && snd_max_ < wnd_end; ++i) {
    std::uint32_t len = std::min({mss, static_cast<std::uint32_t>(data_end - snd_max_),
                                  static_cast<std::uint32_t>(wnd_end - snd_max_)});
    bool fin = fin_queued_ && snd_max_ + len == data_end;
    send_data_segment(snd_max_, len, fin, now, out, false);  // moves SND.MAX
    sent += len;
  }
  // What follows is new data too: without SACK, output() would otherwise go back N from the
  // timeout's retransmission (the retransmissions F-RTO holds back until step 3).
  if (sent > 0) snd_nxt_ = snd_max_;
  return sent;
}

void Connection::undo_on_ack(const Segment& seg, SeqNum una_before, std::uint32_t sacked_before,
                             bool dsack, Instant now, SegmentSink& out) {
  auto& counters = *context_.counters;
  if (!undo_ || !undo_->open()) {
    if (dsack) ++counters.tcp_undo_evidence_ignored;  // no episode to show spurious
    return;
  }
  SpuriousRetransmit& u = *undo_;
  // RFC 3708 §3 with RFC 2883 §4: the first block reports what arrived twice.
  if (dsack && !u.on_dsack(SeqNum(seg.options.sack[0].left), SeqNum(seg.options.sack[0].right)))
    ++counters.tcp_undo_evidence_ignored;
  const bool advanced = snd_una_ > una_before;
  // RFC 3522 §3.2 (4): the echo of an acceptable ACK. One from the future (a lying or confused
  // peer) tells nothing and is ignored.
  std::optional<std::uint32_t> echo;
  if (advanced && ts_ok_ && seg.options.timestamps && seg.options.timestamps->echo != 0) {
    if (static_cast<std::int32_t>(ts_now(now) - seg.options.timestamps->echo) >= 0)
      echo = seg.options.timestamps->echo;
    else
      ++counters.tcp_undo_evidence_ignored;
  }
  const bool echo_old = echo && u.echo_before_retransmit(*echo);
  // Whether this ACK can time the delay that made a timeout spurious (RFC 4015 §2 steps
  // (6)-(7), undo_spurious_timeout()). Not when it reports our retransmission as a duplicate
  // (D-SACK): it answers that retransmission, and from Linux's receiver echoes an older segment
  // (take_rtt_sample()). Nor when it rides on data: a piggybacked acknowledgment may have waited
  // for its data — for the peer's own retransmission timer, when our ACKs were lost too (soak
  // seed 52940: "RTTs" of 12–22 s on a 30 ms path, RTOs of 35–60 s, 1,053 s against 53 s
  // without). Either still detects: its echo shows that the original arrived (RFC 3522).
  const bool times_delay = !dsack && seg.payload.empty();

  if (u.kind() == SpuriousRetransmit::Kind::Timeout && advanced && u.take_timeout_ack() &&
      echo_old) {
    // RFC 3522 §3.2 (5): the first ACK of new data after the timeout answers a copy sent
    // before it: the timeout was spurious (RFC 4015 SPUR_TO).
    ++counters.tcp_eifel_spurious;
    undo_spurious_timeout(una_before, echo, times_delay, now);
    return;
  }
  using Frto = SpuriousRetransmit::Frto;
  // A duplicate ACK for F-RTO: nothing new acknowledged, no data. Unlike RFC 5681 §2, a changed
  // window does not disqualify it: a receiver whose window shrinks as out-of-order data fills
  // its buffer would otherwise hold F-RTO in step 3 until the next (backed-off) timeout —
  // the conventional recovery is the safe answer to an ACK F-RTO cannot read.
  const bool duplicate = !advanced && seg.ack == una_before && seg.payload.empty();
  const std::uint32_t mss = effective_mss();
  if (u.frto() == Frto::Step2) {
    if (advanced) {
      if (snd_una_ >= loss_.recover() || frto_send_new_data(now, out) == 0) {
        // Step 2a: the ACK covers "recover" (the recovery ends); or step 2b without new data
        // to send: "continue with slow-start retransmissions" (conventional RTO recovery).
        u.set_frto(Frto::Off);
      } else {
        u.set_frto(Frto::Step3);
      }
    } else if (!sack_ok_ && duplicate) {
      u.set_frto(Frto::Off);  // §2.1 step 2a: a duplicate ACK, the loss was real
    }
    // §3.1 step 2: with SACK, duplicate ACKs only update the scoreboard; wait for new data.
  } else if (u.frto() == Frto::Step3) {
    bool spurious = false, real = false;
    if (sack_ok_) {
      // §3.1 step 3a: the ACK acknowledges an octet above "recover" (the new data arrived
      // while older data did not), cumulatively or in a SACK block — or is a duplicate ACK
      // with nothing new below "recover". Step 3b: it acknowledges, below "recover", data not
      // acknowledged before (DeliveredData, RFC 6937: cumulative plus newly SACKed octets).
      bool above = seg.ack > loss_.recover();
      std::size_t blocks = std::min<std::size_t>(seg.options.sack_count, wire::kMaxSackBlocks);
      for (std::size_t i = dsack ? 1 : 0; i < blocks; ++i) {
        SeqNum left(seg.options.sack[i].left), right(seg.options.sack[i].right);
        if (left < right && right <= snd_max_ && right > loss_.recover()) above = true;
      }
      std::int64_t delivered = static_cast<std::int64_t>(snd_una_ - una_before) +
                               static_cast<std::int64_t>(loss_.scoreboard().sacked_bytes()) -
                               static_cast<std::int64_t>(sacked_before);
      real = above || (delivered <= 0 && !advanced && seg.ack == una_before && seg.payload.empty());
      spurious = !real && delivered > 0;
    } else {
      // §2.1 step 3: an ACK of new data was sent before the timeout and never resent (3b); a
      // duplicate ACK says the new data arrived and the old did not (3a).
      spurious = advanced;
      real = duplicate;
    }
    if (spurious) {
      ++counters.tcp_frto_spurious;
      undo_spurious_timeout(una_before, echo, times_delay, now);
      return;
    }
    if (real) {
      // Step 3a: "set the congestion window to no more than 3 * MSS" and go on with
      // conventional RTO recovery — without SACK, back N from SND.UNA.
      u.set_frto(Frto::Off);
      cc_.set_recovery_cwnd(std::min(cc_.cwnd(), 3 * mss));
      if (!sack_ok_) snd_nxt_ = snd_una_;
    }
  }

  // The episode's recovery is over once SND.UNA reaches its recovery point. Follows Linux
  // (tcp_try_undo_recovery, then tcp_try_undo_dsack while it is kept): undo when every
  // retransmission was D-SACKed (RFC 3708 §3), or when the ACK that ends the recovery echoes a
  // TSval older than the first retransmission (RFC 3522 §3.2: TS.Recent only grows, so no
  // retransmission ever filled a hole).
  if (u.frto() != Frto::Off || in_recovery() || snd_una_ < loss_.recover()) return;
  const bool ending = !u.recovery_over();
  u.set_recovery_over();
  if (ending && advanced && echo_old) {
    ++counters.tcp_eifel_spurious;
  } else if (u.all_dsacked()) {
    ++counters.tcp_dsack_spurious;
  } else {
    return;
  }
  // Linux's tcp_undo_cwnd_reduction: cwnd and ssthresh as they were, the algorithm's state too.
  cc_.undo(u.prior(), u.prior().cwnd, u.prior().ssthresh);
  u.count_undo();
  u.close();
  ++counters.tcp_undos;
}

// RFC 4015 §2, the Eifel response to a spurious timeout (F-RTO step 3b or the echo).
void Connection::undo_spurious_timeout(SeqNum una_before, std::optional<std::uint32_t> echo,
                                       bool times_delay, Instant now) {
  SpuriousRetransmit& u = *undo_;
  // Step (4): "resume transmission with previously unsent data: SND.NXT <- SND.MAX". The
  // timeout's recovery ends: nothing it marked lost is lost (Linux: tcp_undo_cwnd_reduction
  // with unmark_loss), and fast recovery may start again from here (RFC 5682 §2.1 step 3b:
  // "set the value of 'recover' variable to SND.UNA").
  snd_nxt_ = snd_max_;
  loss_.set_phase(Recovery::Open);
  loss_.set_recover(snd_una_);
  loss_.reset_dup_acks();
  loss_.retransmit_log().clear();
  loss_.scoreboard().clear_lost_below();
  if (rack_) rack_->clear_lost();
  // Step (5): cwnd <- FlightSize + min(bytes_acked, IW); ssthresh <- pipe_prev (never above
  // what was saved: CongestionControl::undo()).
  const std::uint32_t mss = effective_mss();
  std::uint32_t iw = config_->initial_window_segments * mss;
  if (config_->initial_window_segments == 10) iw = std::min(10 * mss, std::max(2 * mss, 14600u));
  const auto acked = static_cast<std::uint32_t>(snd_una_ - una_before);
  cc_.undo(u.prior(), flight_size() + std::min(acked, iw), u.pipe_prev());
  // Steps (6)-(7): SRTT <- max(SRTT_prev, RTT), RTTVAR <- max(RTTVAR_prev, RTT / 2), with RTT
  // the delayed copy's round trip (its echo, or RACK's latest sample, which is never of a
  // retransmission); the RTO from them, without the backoff.
  // Not from an ACK that cannot time it (`times_delay`, undo_on_ack()): after one that reports
  // our retransmission as a duplicate, the originals were not delayed — they arrived, and their
  // ACKs were lost; its echo and RACK's time since the originals left both span the timeout
  // itself (bench/loss.sh at 5 %: 200 ms on a 50 µs path, an RTO of 0.6 s after it). Then
  // SRTT_prev and RTTVAR_prev come back.
  std::optional<Duration> rtt;
  if (times_delay && echo && ts_now(now) - *echo < 60000)
    rtt = std::chrono::milliseconds(ts_now(now) - *echo);
  else if (times_delay && rack_)
    rtt = rack_->rtt();
  rtt_.adapt_after_spurious_timeout(u.srtt_prev(), u.rttvar_prev(), rtt);
  if (flight_size() > 0) restart_retransmit_timer(now);
  u.count_undo();
  u.close();
  ++context_.counters->tcp_undos;
}

}  // namespace synack::tcp
