// SPDX-License-Identifier: MIT
// RFC 8985 §7, the tail loss probe (TLP). A loss among the last segments of a flight leaves
// too few later segments to produce DupAcks or SACKs, and only the RTO (200 ms at least, often
// far more after backoff) would find it. 2 SRTT after the last transmission the last segment is
// sent again; its ACK carries a SACK that shows the hole, and fast recovery repairs it.
// What RFC 8985 §7 asks and what is done here:
// - §7.2 scheduling: after new data (or our FIN, as Linux) goes out or new data is
//   acknowledged, outside recovery, with SACK, at most one probe per episode; PTO = 2 SRTT,
//   + WCDelAckT (200 ms) for a single segment in flight (else + TcpConfig::loss_probe_slack,
//   200 µs; Linux's 2 ms in the linux profile) — not for a FIN sent after the peer's, which
//   it acknowledges at once (TcpConfig::prompt_fin_probe) — never later than the RTO (then
//   the probe replaces that RTO). Beyond the RFC
//   (TcpConfig::recovery_probe, off in the linux profile): during SACK recovery too,
//   restarted by each ACK and retransmission, so that a recovery whose last retransmission or
//   its ACK was lost does not wait for the RTO. And beyond "at most one probe per episode",
//   in or out of a recovery (TcpConfig::loss_probes_per_episode, 3; the linux profile's 1):
//   a probe that draws no ACK is followed by another, each after twice the last one's PTO,
//   while they come before the RTO the first one armed (never moving it): with a few segments
//   in flight and a fifth of every direction lost, a probe and all the ACKs it draws are lost
//   often enough that one probe per episode left 2.3 RTOs in every 2 MiB transfer (`synack
//   sim bulk --loss 0.2 --delay 0.1 --cc bbr --server-profile linux`, 25 seeds;
//   docs/performance.md, the nineteenth and twentieth sessions). RFC 9002 §6.2 probes so in
//   QUIC (a PTO doubled each time, no separate RTO).
// - §7.3 the probe: the most recent segment is retransmitted (the RFC's option when no new
//   data may be sent; new data is sent by output() as cwnd allows in any case) — during a
//   recovery the segment at SND.UNA — then the RTO timer is armed.
// - §7.4 detection: a D-SACK of the probe (RFC 2883) ends the episode with nothing lost; an ACK
//   beyond TLP.end_seq without one means the probe repaired a loss, and the congestion control
//   reduces the window once (§7.4.2). A SACK of the probe while SND.UNA is still missing ends it
//   too: every older segment was sent at least a PTO before the probe and is judged lost as
//   RACK would (§6.2, the probe's delivery is RACK's "later-sent segment delivered"), so fast
//   recovery starts at once.
// - §7.3 new data: when unsent data fits the peer's window, the probe is a new segment
//   (TLP.is_retrans = FALSE; its ACK ends the episode with nothing to account for) — two of
//   them by default (TcpConfig::loss_probe_segments), one as RFC 8985 and Linux send.
// With RACK (rack.cpp, the default) the probe's SACK makes RACK mark the older segments lost
// after the reordering window; with DupThresh the rule above does it at once.
#include "tcp/connection.hpp"

namespace synack::tcp {

namespace {
// RFC 8985 §7.2: "WCDelAckT stands for worst-case delayed ACK timer ... RECOMMENDED value is
// 200 ms".
constexpr Duration kWorstCaseDelayedAck = std::chrono::milliseconds(200);
// TcpConfig::loss_probes_per_episode's upper bound.
constexpr std::uint8_t kMaxEpisodeProbes = 3;
}  // namespace

// RFC 8985 §7.2 allows one probe per episode ("TLP.end_seq is None"); TcpConfig::
// loss_probes_per_episode more.
bool Connection::may_probe_again() const {
  // At most kMaxEpisodeProbes whatever the configuration: the PTO doubles with each.
  return episode_probes_ < std::min(config_->loss_probes_per_episode, kMaxEpisodeProbes);
}

// RFC 8985 §7.2 "is not in loss recovery", unless TcpConfig::recovery_probe allows a probe
// in SACK recovery (not after an RTO, nor in NewReno's recovery without SACK).
bool Connection::may_probe_in_recovery() const {
  return !in_recovery() || (config_->recovery_probe && loss_.phase() == Recovery::Sack);
}

void Connection::schedule_loss_probe(Instant now) {
  disarm(Timer::Probe);
  // §7.2: "the connection has SACK enabled", "is not in loss recovery", no TLP episode in
  // progress ("TLP.end_seq is None"), something in flight; and an RTT measured (without one
  // the initial RTO is the better guess).
  // Nor after an RTO until new data is acknowledged (Linux schedules probes only in its Open
  // state): the RTO is backed off then, and a probe in its place would push the next
  // retransmission out by a whole backed-off RTO. (Going back N is checked when the PTO fires:
  // here, called from send_data_segment(), SND.NXT is not yet moved.)
  // Nor into a zero window (ours): a segment beyond RCV.NXT is unacceptable to a receiver
  // whose window is zero (RFC 9293 §3.10.7.4); the persist timer's probes do that job.
  if (!config_->tail_loss_probe || !sack_ok_ || !may_probe_in_recovery() ||
      (tlp_end_ && !may_probe_again()) || flight_size() == 0 || !rtt_.srtt() || snd_una_ == iss_ ||
      snd_wnd_ == 0 || retries_ > 0)
    return;
  Duration pto = 2 * *rtt_.srtt();
  // An episode's later probes back off: 4, then 8 SRTT after the last (RFC 9002 §6.2.1's
  // doubling). episode_probes_ < loss_probes_per_episode here (may_probe_again()).
  const bool again = tlp_end_.has_value();
  if (again) pto *= 1 << episode_probes_;
  // §7.2: "If FlightSize is equal to one segment, add WCDelAckT": the peer may hold its ACK —
  // but not its ACK of our FIN when its own came first (TcpConfig::prompt_fin_probe): in
  // FIN-WAIT-1/2 or CLOSING it acknowledges a FIN at once (RFC 9293 §3.10.7.4).
  const bool fin_after_peers =
      (state_ == State::LastAck || state_ == State::Closing) && fin_sent() && snd_una_ == fin_seq();
  if (flight_size() <= effective_mss() && !(config_->prompt_fin_probe && fin_after_peers))
    pto += kWorstCaseDelayedAck;
  else
    pto += config_->loss_probe_slack;  // TcpConfig::loss_probe_slack (Linux: 2 ms)
  // §7.2: "PTO = min(PTO, RTO)": due with the RTO, the probe goes first (on_timer()) and the
  // RTO is rearmed from it — as Linux's tcp_schedule_loss_probe(), the probe replaces the RTO.
  Instant at = now + pto;
  // An episode's later probe only before the RTO: that one is not moved (after_probe()), so a
  // probe due with it or after would duplicate its retransmission.
  if (again && timer(Timer::Retransmit) && *timer(Timer::Retransmit) <= at) return;
  if (timer(Timer::Retransmit) && *timer(Timer::Retransmit) < at) at = *timer(Timer::Retransmit);
  arm(Timer::Probe, at);
}

void Connection::on_loss_probe_timeout(Instant now, SegmentSink& out) {
  if (!config_->tail_loss_probe || !sack_ok_ || !may_probe_in_recovery() ||
      (tlp_end_ && !may_probe_again()) || flight_size() == 0 || retries_ > 0 ||
      snd_nxt_ != snd_max_ || snd_wnd_ == 0)  // (the window closed meanwhile)
    return;
  const bool again = tlp_end_.has_value();  // an episode's second or third probe
  std::uint32_t mss = effective_mss() - sack_option_bytes();
  // §7.3: "If a previously unsent segment exists AND the receive window allows new data to be
  // sent: Transmit that new segment; FlightSize += SMSS" (cwnd may be exceeded by it until
  // the next ACK). Up to TcpConfig::loss_probe_segments of them (2 by default, RFC 9002
  // §6.2.4's two probe datagrams; see config.hpp): two in-order segments draw an ACK at once
  // from a receiver that would hold the ACK of one (RFC 9293 §3.8.6.3 SHLD-19).
  unsigned probes = 0;
  while (probes < std::max<unsigned>(1, config_->loss_probe_segments) && snd_nxt_ < fin_seq() &&
         snd_una_ + snd_wnd_ > snd_nxt_) {
    std::uint32_t room = static_cast<std::uint32_t>(snd_una_ + snd_wnd_ - snd_nxt_);
    std::uint32_t avail = static_cast<std::uint32_t>(fin_seq() - snd_nxt_);
    std::uint32_t len = std::min({mss, room, avail});
    if (len != mss && len != avail) break;
    bool fin = fin_queued_ && snd_nxt_ + len == fin_seq();
    if (probes++ == 0) {
      tlp_start_ = snd_nxt_;
      tlp_is_retrans_ = false;  // §7.3 "TLP.is_retrans = FALSE"
      ++context_.counters->tcp_loss_probes;
    }
    send_data_segment(snd_nxt_, len, fin, now, out, false);
    snd_nxt_ += len + (fin ? 1 : 0);
    snd_max_ = seq_max(snd_max_, snd_nxt_);
  }
  if (probes > 0) {
    tlp_end_ = snd_max_;   // §7.3: TLP.end_seq = SND.NXT
    disarm(Timer::Probe);  // send_data_segment() rescheduled it; the RTO follows instead
    after_probe(again, now);
    return;
  }
  // §7.3: otherwise "retransmit the highest-sequence segment sent so far" — the last full
  // segment of data (and our FIN, if sent). Sent so far: below SND.MAX, not the end of the
  // send buffer — data the peer's window kept back was never sent, lies beyond the window and
  // would be dropped as unacceptable (Linux: tcp_send_loss_probe takes the last skb of its
  // retransmission queue, which holds sent data only).
  // During a recovery (TcpConfig::recovery_probe) the segment at SND.UNA instead: the hole
  // whose retransmission (or its ACK) was lost is most likely the oldest, and a copy the peer
  // already holds is answered at once as a duplicate (RFC 9293 §3.10.7.4).
  SeqNum data_end = seq_min(fin_seq(), snd_max_);
  SeqNum start = snd_una_;
  if (!in_recovery() && data_end > snd_una_ &&
      static_cast<std::uint32_t>(data_end - snd_una_) > mss)
    start = data_end - mss;
  if (in_recovery() && data_end > snd_una_ + mss) data_end = snd_una_ + mss;
  std::uint32_t len = start < data_end ? static_cast<std::uint32_t>(data_end - start) : 0;
  // Our FIN rides only on a copy that ends where the data does (not on SND.UNA's segment of
  // a recovery probe with more data after it).
  bool fin = fin_sent() && start + len == fin_seq();
  if (len == 0 && !fin) return;
  tlp_start_ = start;
  tlp_end_ = snd_max_;     // §7.3: TLP.end_seq = SND.NXT
  tlp_is_retrans_ = true;  // §7.3: "TLP.is_retrans = TRUE"
  tlp_in_recovery_ = in_recovery();
  ++context_.counters->tcp_loss_probes;
  send_data_segment(start, len, fin, now, out, true);
  after_probe(again, now);
}

void Connection::after_probe(bool again, Instant now) {
  // §7.3: "the sender MUST arm the RTO timer, not the PTO timer" — armed by an episode's first
  // probe and left where it is by the later ones (TcpConfig::loss_probes_per_episode), which
  // come before it or not at all (schedule_loss_probe()).
  if (!again) {
    restart_retransmit_timer(now);
    episode_probes_ = 0;  // a new episode
  }
  ++episode_probes_;
  disarm(Timer::Probe);
  schedule_loss_probe(now);
}

void Connection::on_loss_probe_ack(const Segment& seg, std::uint32_t cwnd_before, Instant now,
                                   SegmentSink& out) {
  if (!tlp_end_) return;
  // §7.4: "If TLP.is_retrans is FALSE" (a probe of new data) the episode ends when the ACK
  // covers it: the probe carried no repair to account for.
  if (!tlp_is_retrans_) {
    if (seg.ack >= *tlp_end_) tlp_end_.reset();
    return;
  }
  // RFC 2883 §4 / RFC 3708 §3: a D-SACK that covers the probe says both copies arrived.
  if (sack_ok_ && has_dsack(seg)) {
    SeqNum left(seg.options.sack[0].left), right(seg.options.sack[0].right);
    if (tlp_start_ <= left && right <= *tlp_end_) {
      tlp_end_.reset();  // §7.4.1: the probe was spurious, nothing to repair
      return;
    }
  }
  if (seg.ack >= *tlp_end_) {
    // §7.4.2: the episode ends without a D-SACK of the probe: the original or the probe was
    // lost, and the probe repaired it. "the congestion control MUST be invoked" — once, as
    // for a fast retransmit (Linux: tcp_process_tlp_ack, cwnd to ssthresh).
    tlp_end_.reset();
    // A probe sent during a recovery repaired a loss of that recovery, whose reduction is
    // made (the ACK may have ended the recovery just before this runs).
    if (!in_recovery() && !tlp_in_recovery_) {
      ++context_.counters->tcp_loss_probe_repairs;
      // From the window as it was before this ACK, not FlightSize: the ACK has just
      // acknowledged the probe, the episode's tail, so what is still in flight is nearly
      // always nothing, and a reduction from it left 2 SMSS. Linux's tcp_process_tlp_ack()
      // takes its ssthresh from cwnd too, before the ACK grows it (ca_ops->ssthresh: 0.7 cwnd
      // for CUBIC, half of it for Reno).
      cc_.on_congestion_event(std::max(flight_size(), cwnd_before), now);
      cc_.on_recovery_exit();
    }
    return;
  }
  // The probe (the last segment) is SACKed and SND.UNA is not: §6.2's rule for the older
  // segments, sent a PTO or more before the probe, is met (see the top of the file).
  // With RACK this is RACK's own rule (§6.2), applied on every ACK (rack_detect_loss()).
  if (!use_rack() && !in_recovery() && sack_ok_ && loss_.scoreboard().is_sacked(*tlp_end_ - 1) &&
      !loss_.scoreboard().is_sacked(snd_una_) && snd_una_ >= loss_.recover()) {
    tlp_end_.reset();
    enter_recovery(now, out);
  }
}

}  // namespace synack::tcp
