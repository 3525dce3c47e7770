// SPDX-License-Identifier: MIT
// The connection's side of delivery rate estimation and pacing, used when the congestion
// control is model-based (BBR): the hooks connection*.cpp call, each one line there.
// Nothing here runs for CUBIC or NewReno (rate_ is null).
#include "tcp/connection.hpp"

namespace synack::tcp {

void Connection::rate_on_send(SeqNum seq, SeqNum end, Instant now, bool retransmission) {
  if (!rate_ || !(seq < end)) return;
  // draft-cheng-iccrg-delivery-rate-estimation §3.2: snapshot C at each transmission; the
  // bytes in flight before it (pipe with SACK, RFC 6675 §4).
  std::uint32_t mss = effective_mss();
  std::uint32_t in_flight = sack_ok_ ? recovery_pipe(mss) : flight_size();
  rate_->delivery.on_send(seq, end, in_flight, now, retransmission);
  // draft-ietf-ccwg-bbr §5.6.2: the next transmission waits len / pacing_rate.
  rate_->pacer.on_sent(static_cast<std::uint32_t>(end - seq), now, cc_.pacing_rate());
}

void Connection::rate_on_ack(SeqNum una_before, std::uint32_t sacked_before, Instant now) {
  if (!rate_) return;
  // RFC 6937 §3 DeliveredData: what this ACK delivered, cumulatively or by SACK.
  std::int64_t newly = static_cast<std::int64_t>(snd_una_ - una_before) +
                       static_cast<std::int64_t>(loss_.scoreboard().sacked_bytes()) -
                       static_cast<std::int64_t>(sacked_before);
  const Bbr* bbr = cc_.bbr();
  RateSample rs = rate_->delivery.on_ack(
      snd_una_, loss_.scoreboard(), static_cast<std::uint64_t>(std::max<std::int64_t>(newly, 0)),
      now, bbr ? bbr->min_rtt() : std::nullopt);
  std::uint32_t mss = effective_mss();
  BbrAck ack{.now = now,
             .inflight = sack_ok_ ? recovery_pipe(mss) : flight_size(),
             .in_recovery = in_recovery(),
             // The sender had filled cwnd: what was in flight before this ACK reached it.
             .cwnd_limited = static_cast<std::uint32_t>(snd_max_ - una_before) + mss > cc_.cwnd(),
             .srtt = rtt_.srtt()};
  cc_.on_rate_sample(rs, ack, rate_->delivery);
}

bool Connection::pacing_holds(Instant now) {
  if (!rate_) return false;
  if (rate_->pacer.may_send(now)) return false;
  // draft-ietf-ccwg-bbr §5.6.2: not before the pacing time; the driver calls on_timer() then.
  rate_->pacer.deadline = rate_->pacer.next_send();
  return true;
}

void Connection::rate_after_output() {
  if (!rate_) return;
  // draft-cheng §3.4: "if (C.write_seq - C.pending_transmissions ... < SMSS and
  // C.inflight < cwnd and no lost packets are waiting to be retransmitted)": less than a
  // segment left to send, window not full, not repairing a loss.
  std::uint32_t mss = effective_mss();
  std::uint32_t unsent =
      snd_nxt_ < fin_seq() ? static_cast<std::uint32_t>(fin_seq() - snd_nxt_) : 0;
  std::uint32_t in_flight = sack_ok_ ? recovery_pipe(mss) : flight_size();
  // The same when the peer's receive window, not cwnd, leaves less than a segment to send: the
  // rate the peer's reader allows (a zero window opened by a few octets at a time) is no bound
  // on the path's, and the persist timer's probes go out under the same mark. Unmarked, such
  // samples filled BBR's whole max_bw filter (two ProbeBW cycles of a slow reader) and took
  // the pacing rate to ~2 bytes/s: soak seed 344861, the next segment paced 1,026 s away.
  // (Linux's BBR counts a delivery in packets, a one-octet probe as a whole one, and so is not
  // taken that low.)
  SeqNum window_end = snd_una_ + snd_wnd_;
  std::uint32_t room =
      window_end > snd_nxt_ ? static_cast<std::uint32_t>(window_end - snd_nxt_) : 0;
  bool peer_limited = unsent >= mss && room < mss;
  if ((unsent < mss || peer_limited) && in_flight < cc_.cwnd() && !in_recovery())
    rate_->delivery.on_app_limited(in_flight);
}

}  // namespace synack::tcp
