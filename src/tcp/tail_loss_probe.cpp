// SPDX-License-Identifier: MIT
// RFC 8985 §7, the tail loss probe (TLP). A loss among the last segments of a flight leaves
// too few later segments to produce DupAcks or SACKs, and only the RTO (200 ms at least, often
// far more after backoff) would find it. 2 SRTT after the last transmission the last segment is
// sent again; its ACK carries a SACK that shows the hole, and fast recovery repairs it.
// What RFC 8985 §7 asks and what is done here:
// - §7.2 scheduling: after new data goes out or new data is acknowledged, outside recovery,
//   with SACK, at most one probe per episode; PTO = 2 SRTT, + WCDelAckT (200 ms) for a single
//   segment in flight, never later than the RTO (then the probe replaces that RTO).
// - §7.3 the probe: the most recent segment is retransmitted (the RFC's option when no new
//   data may be sent; new data is sent by output() as cwnd allows in any case), then the RTO
//   timer is armed.
// - §7.4 detection: a D-SACK of the probe (RFC 2883) ends the episode with nothing lost; an ACK
//   beyond TLP.end_seq without one means the probe repaired a loss, and the congestion control
//   reduces the window once (§7.4.2). A SACK of the probe while SND.UNA is still missing ends it
//   too: every older segment was sent at least a PTO before the probe and is judged lost as
//   RACK would (§6.2, the probe's delivery is RACK's "later-sent segment delivered"), so fast
//   recovery starts at once.
// Not done: RACK's time-based detection for every segment (§6), which would replace DupThresh.
#include "tcp/connection.hpp"

namespace synack::tcp {

namespace {
// RFC 8985 §7.2: "WCDelAckT stands for worst-case delayed ACK timer ... RECOMMENDED value is
// 200 ms".
constexpr Duration kWorstCaseDelayedAck = std::chrono::milliseconds(200);
// Follows Linux (TCP_TIMEOUT_MIN, 2 jiffies): a floor, so a sub-millisecond SRTT does not
// probe before the peer's ACK could possibly arrive.
constexpr Duration kMinProbeTimeout = std::chrono::milliseconds(10);
}  // namespace

void Connection::schedule_loss_probe(Instant now) {
  disarm(Timer::Probe);
  // §7.2: "the connection has SACK enabled", "is not in loss recovery", no TLP episode in
  // progress ("TLP.end_seq is None"), something in flight; and an RTT measured (without one
  // the initial RTO is the better guess).
  // Nor after an RTO until new data is acknowledged (Linux schedules probes only in its Open
  // state): the RTO is backed off then, and a probe in its place would push the next
  // retransmission out by a whole backed-off RTO. (Going back N is checked when the PTO fires:
  // here, called from send_data_segment(), SND.NXT is not yet moved.)
  if (!config_->tail_loss_probe || !sack_ok_ || in_recovery() || tlp_end_ || flight_size() == 0 ||
      !rtt_.srtt() || snd_una_ == iss_ || snd_wnd_ == 0 || retries_ > 0)
    return;
  Duration pto = 2 * *rtt_.srtt();
  // §7.2: "If FlightSize is equal to one segment, add WCDelAckT": the peer may hold its ACK.
  if (flight_size() <= effective_mss()) pto += kWorstCaseDelayedAck;
  pto = std::max(pto, kMinProbeTimeout);
  // §7.2: "PTO = min(PTO, RTO)": due with the RTO, the probe goes first (on_timer()) and the
  // RTO is rearmed from it — as Linux's tcp_schedule_loss_probe(), the probe replaces the RTO.
  Instant at = now + pto;
  if (timer(Timer::Retransmit) && *timer(Timer::Retransmit) < at) at = *timer(Timer::Retransmit);
  arm(Timer::Probe, at);
}

void Connection::on_loss_probe_timeout(Instant now, SegmentSink& out) {
  if (!config_->tail_loss_probe || !sack_ok_ || in_recovery() || tlp_end_ || flight_size() == 0 ||
      retries_ > 0 || snd_nxt_ != snd_max_)
    return;
  // §7.3: "retransmit the highest-sequence segment sent so far" — the last full segment of
  // data (and our FIN, if sent).
  std::uint32_t mss = effective_mss() - sack_option_bytes();
  SeqNum data_end = fin_seq();
  SeqNum start = snd_una_;
  if (data_end > snd_una_ && static_cast<std::uint32_t>(data_end - snd_una_) > mss)
    start = data_end - mss;
  std::uint32_t len = start < data_end ? static_cast<std::uint32_t>(data_end - start) : 0;
  bool fin = fin_sent();
  if (len == 0 && !fin) return;
  tlp_start_ = start;
  tlp_end_ = snd_max_;  // §7.3: TLP.end_seq = SND.NXT
  ++context_.counters->tcp_loss_probes;
  send_data_segment(start, len, fin, now, out, true);
  // §7.3: "the sender MUST arm the RTO timer, not the PTO timer".
  restart_retransmit_timer(now);
}

void Connection::on_loss_probe_ack(const Segment& seg, Instant now, SegmentSink& out) {
  if (!tlp_end_) return;
  // RFC 2883 §4 / RFC 3708 §3: the first block is a D-SACK when it lies below the cumulative
  // ACK or inside the second block. One that covers the probe says both copies arrived.
  std::size_t blocks = std::min<std::size_t>(seg.options.sack_count, wire::kMaxSackBlocks);
  if (sack_ok_ && blocks > 0) {
    SeqNum left(seg.options.sack[0].left), right(seg.options.sack[0].right);
    bool dsack = right <= seg.ack || (blocks > 1 && SeqNum(seg.options.sack[1].left) <= left &&
                                      right <= SeqNum(seg.options.sack[1].right));
    if (dsack && left < right && tlp_start_ <= left && right <= *tlp_end_) {
      tlp_end_.reset();  // §7.4.1: the probe was spurious, nothing to repair
      return;
    }
  }
  if (seg.ack >= *tlp_end_) {
    // §7.4.2: the episode ends without a D-SACK of the probe: the original or the probe was
    // lost, and the probe repaired it. "the congestion control MUST be invoked" — once, as
    // for a fast retransmit (Linux: tcp_process_tlp_ack, cwnd to ssthresh).
    tlp_end_.reset();
    if (!in_recovery()) {
      ++context_.counters->tcp_loss_probe_repairs;
      cc_.on_congestion_event(flight_size(), now);
      cc_.on_recovery_exit();
    }
    return;
  }
  // The probe (the last segment) is SACKed and SND.UNA is not: §6.2's rule for the older
  // segments, sent a PTO or more before the probe, is met (see the top of the file).
  if (!in_recovery() && sack_ok_ && loss_.scoreboard().is_sacked(*tlp_end_ - 1) &&
      !loss_.scoreboard().is_sacked(snd_una_) && snd_una_ >= loss_.recover()) {
    tlp_end_.reset();
    enter_recovery(now, out);
  }
}

}  // namespace synack::tcp
