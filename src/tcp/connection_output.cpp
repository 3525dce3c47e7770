// SPDX-License-Identifier: MIT
// What a connection sends: SYNs, data with Nagle and SWS avoidance, FINs, ACKs, RSTs.
#include <algorithm>
#include <vector>

#include "tcp/connection.hpp"

namespace synack::tcp {

constexpr Duration kSwsOverride = 200ms;  // sender SWS override timeout (MUST-38)
// TcpConfig::batch_output: the most new data one held ACK may cover (Linux's GRO limit).
constexpr std::int32_t kBatchAckLimit = 64 * 1024;
// ... and how many answers after an ACK owed at once leave at once (output_or_hold()).
constexpr std::uint8_t kUnbatchedAfterLoss = 16;
// compress_sack(): duplicate ACKs sent at once for one RCV.NXT before out-of-order segments'
// ACKs may wait (Linux's TCP_FASTRETRANS_THRESH), and the most out-of-order segments one held
// ACK answers (Linux's net.ipv4.tcp_comp_sack_nr is 44, but its timer, RTT/20, lets a few
// segments of a fast path gather; a batch can hold 64).
constexpr std::uint8_t kDupAcksBeforeCompression = 3;
constexpr std::uint32_t kMaxCompressedSacks = 8;

// RFC 9293 §3.7.1: Eff.snd.MSS = min(SendMSS+20, MMS_S) - TCPhdrsize - IPoptionsize; the
// timestamp option is in every segment once negotiated, so it comes off the MSS.
std::uint32_t Connection::effective_mss() const {
  std::uint32_t mss = std::min<std::uint32_t>(peer_mss_, announced_mss());
  if (ts_ok_) mss -= 12;
  return std::max<std::uint32_t>(mss, 64);
}

// TcpConfig::mss is for IPv4; IPv6's header is 20 bytes longer (RFC 9293 §3.7.1, MUST-67).
std::uint16_t Connection::announced_mss() const {
  return local_.addr.is_v4() ? config_->mss : static_cast<std::uint16_t>(config_->mss - 20);
}

// Bytes the SACK option will take in the next ACK, which come off the payload (MUST-16).
std::uint32_t Connection::sack_option_bytes() const {
  if (!sack_ok_ || !rcv_buf_.has_out_of_order()) return 0;
  std::size_t blocks = std::min<std::size_t>(rcv_buf_.out_of_order_ranges(), ts_ok_ ? 3 : 4);
  return static_cast<std::uint32_t>(4 + 8 * blocks);  // NOP, NOP, kind, length, blocks
}

// RFC 7323 §5.4: a 1 ms timestamp clock, offset per connection so it leaks no uptime.
std::uint32_t Connection::ts_now(Instant now) const {
  return static_cast<std::uint32_t>(to_us(now) / 1000) + ts_offset_;
}

bool Connection::fin_sent() const { return fin_queued_ && snd_max_ > fin_seq(); }

// RFC 9293 §3.8.6.2.2 receiver SWS avoidance: the right edge moves only when it can move
// by min(buffer/2, MSS); it never moves left (the window is not shrunk, §3.8.6.2.2 SHLD-14).
std::uint16_t Connection::window_to_advertise() {
  std::uint32_t room = rcv_buf_.free_space();
  std::uint32_t offered = rcv_adv_ > rcv_nxt_ ? static_cast<std::uint32_t>(rcv_adv_ - rcv_nxt_) : 0;
  std::uint32_t threshold = std::min<std::uint32_t>(rcv_buf_.capacity() / 2, effective_mss());
  if (room >= offered + threshold || (room > offered && room == rcv_buf_.capacity()))
    offered = room;
  std::uint32_t max_window = 0xffffu << rcv_wscale_;
  offered = std::min(offered, max_window);
  // Rounded up, so the right edge never moves left on the wire (SHLD-14): the octets this
  // offers past the buffer land in its slack (ReceiveBuffer). But never past what insert() can
  // store — octets it cut off would be taken for lost by the sender (a hole, a retransmission,
  // a halved window: iperf3 into `synack run` lost 233 segments in 3 s this way). RCV.NXT moving
  // by less than 2^Rcv.Wind.Shift while the edge is kept can creep the rounded-up edge forward
  // ACK after ACK (RFC 7323 Appendix F); once that reaches the end of the slack the field is
  // rounded down instead: a window retracted by fewer than 2^Rcv.Wind.Shift octets, which the
  // field's granularity makes possible (RFC 7323 §2.4, Appendix F) and which a sender must
  // bear (RFC 9293 MUST-34). (An edge already beyond storage is the memory budget's doing: it
  // keeps the rounded-up field, and what does not fit is dropped and counted.)
  const std::uint32_t storable = rcv_buf_.storable();
  std::uint32_t field =
      std::min<std::uint32_t>((offered + (1u << rcv_wscale_) - 1) >> rcv_wscale_, 0xffff);
  if (offered <= storable && (field << rcv_wscale_) > storable) field = storable >> rcv_wscale_;
  SeqNum edge = rcv_nxt_ + (field << rcv_wscale_);
  if (edge > rcv_adv_) rcv_adv_ = edge;
  return static_cast<std::uint16_t>(field);
}

void Connection::emit(Segment& seg, Instant now, SegmentSink& out) {
  bool syn = seg.has(SYN);
  if (seg.has(ACK)) {
    // An ACK of new data spends one quick ACK (Linux tcp_dec_quickack_mode).
    if (quick_acks_left_ > 0 && rcv_nxt_ != last_ack_sent_) --quick_acks_left_;
    seg.ack = rcv_nxt_;
    if (!syn) seg.window = window_to_advertise();
    last_ack_sent_ = rcv_nxt_;
    ack_pending_ = 0;
    ack_now_ = false;
    ack_urgent_ = false;
    sack_compressed_ = false;
    pushed_ = false;
    disarm(Timer::DelayedAck);
  }
  if (!syn && !seg.has(RST)) {
    if (ts_ok_) seg.options.timestamps = wire::Timestamps{ts_now(now), ts_recent_};
    // RFC 2018 §4: report out-of-order data in every ACK while holes remain; RFC 2883 §4:
    // a duplicate range goes first (once).
    std::size_t first = 0;
    if (sack_ok_ && seg.has(ACK) && dsack_) {
      seg.options.sack[0] = wire::SackBlock{dsack_->first.raw(), dsack_->second.raw()};
      first = 1;
    }
    if (seg.has(ACK)) dsack_.reset();
    if (sack_ok_ && seg.has(ACK) && rcv_buf_.has_out_of_order()) {
      std::size_t max_blocks = ts_ok_ ? 3 : 4;
      first +=
          rcv_buf_.sack_blocks(rcv_nxt_.raw(), seg.options.sack.data() + first, max_blocks - first);
    }
    if (config_->sack_fin && sack_ok_ && seg.has(ACK) && pending_fin_ && !fin_received_) {
      // Follows Linux: the held FIN extends the block it ends, or gets a block of its own.
      std::uint32_t f = pending_fin_->raw();
      bool merged = false;
      for (std::size_t i = 0; i < first; ++i) {
        if (seg.options.sack[i].right == f) {
          seg.options.sack[i].right = f + 1;
          merged = true;
        }
      }
      if (!merged && first < (ts_ok_ ? 3u : 4u))
        seg.options.sack[first++] = wire::SackBlock{f, f + 1};
    }
    seg.options.sack_count = static_cast<std::uint8_t>(first);
  }
  ++context_.counters->tcp_segments_out;
  if (seg.has(RST)) ++context_.counters->tcp_resets_sent;
  if (seg.retransmission) ++context_.counters->tcp_retransmitted_segments;
  if (seg.retransmission) ++retransmits_;
  out.send(seg);
}

// SYN (SYN-SENT) or SYN,ACK (SYN-RECEIVED), RFC 9293 §3.10.1 and §3.10.7.2/3.
void Connection::send_syn(Instant now, SegmentSink& out, bool retransmission) {
  Segment seg;
  seg.seq = iss_;
  seg.flags = SYN;
  seg.retransmission = retransmission;
  // Only SYN-SENT sends a bare SYN; a SYN,ACK still unacknowledged after a CLOSE in
  // SYN-RECEIVED is retransmitted from FIN-WAIT-1 (see on_retransmit_timeout).
  bool synack = state_ != State::SynSent;
  if (synack) seg.flags |= ACK;
  // RFC 7323 §2.2: the window in a SYN is never scaled.
  seg.window = static_cast<std::uint16_t>(std::min<std::uint32_t>(rcv_buf_.free_space(), 0xffff));
  rcv_adv_ = rcv_nxt_ + seg.window;
  // RFC 9293 §3.7.1 (MUST-14): send the MSS option in every SYN.
  seg.options.mss = announced_mss();
  // A SYN offers what we are configured for; a SYN,ACK answers only what the peer offered
  // (RFC 7323 §2.2 and §3.2, RFC 2018 §2).
  bool offer_ws = synack ? wscale_ok_ : config_->window_scale;
  bool offer_sack = synack ? sack_ok_ : config_->sack;
  bool offer_ts = synack ? ts_ok_ : config_->timestamps;
  if (offer_ws) seg.options.window_scale = rcv_wscale_;
  seg.options.sack_permitted = offer_sack;
  if (offer_ts) seg.options.timestamps = wire::Timestamps{ts_now(now), synack ? ts_recent_ : 0};
  snd_nxt_ = iss_ + 1;
  snd_max_ = seq_max(snd_max_, snd_nxt_);
  if (!retransmission) {
    timed_seq_ = iss_ + 1;
    timed_at_ = now;
  } else {
    // RFC 6298 §3 (Karn): no sample from a retransmitted SYN or SYN,ACK — also when it was
    // resent for the peer's retransmitted SYN rather than by our timer (on_segment()'s
    // early answer in SYN-RECEIVED), which would otherwise time the lost first copy (soak
    // seed 85122: a 1.016 s sample on a 16 ms path, RTO 3 s for the whole transfer).
    timed_seq_.reset();
  }
  emit(seg, now, out);
  arm(Timer::Retransmit, now + rtt_.rto());
}

// The sequence number for a segment without data: the RFC's SND.NXT, which is our snd_max_
// (snd_nxt_ is only the go-back-N cursor and may lie behind what the peer already received,
// where its sequence check would refuse the ACK — two such ends ACK each other forever).
// Clamped to the peer's window like Linux's tcp_acceptable_seq(), for when it shrank.
SeqNum Connection::acceptable_seq(bool for_rst) const {
  SeqNum window_end = snd_una_ + snd_wnd_;
  // RFC 9293 §3.8.6.1: the octet of a zero-window probe is offered inside the window — a
  // receiver with room takes it (RCV.NXT passes it). Clamping to the zero window would put
  // our ACKs one below its RCV.NXT, unacceptable there for ever; when both ends probe each
  // other, each drops the other's ACKs and the probes go "unanswered" until R2 (soak seeds
  // 503, 512, 635, 939, 1680). A receiver that refused the octet takes this seq once its
  // window opens.
  // Not for an RST: RFC 5961 §3.2 accepts an RST only at exactly RCV.NXT, and a peer that
  // refused the probe octet (its window is zero) would answer an RST beyond it with a
  // challenge ACK and live on; the clamp to its window (as Linux) is what it accepts.
  if (!for_rst && probe_end_ && window_end < *probe_end_ && *probe_end_ <= snd_max_)
    window_end = *probe_end_;
  // Follows Linux (tcp_acceptable_seq): a window that moved left by less than one unit of the
  // peer's window scale is its rounding, not a shrink — SND.MAX still lies inside what the peer
  // can accept. Clamped below a sequence number we already sent, our segments fall behind the
  // peer's SND.WL1, and RFC 9293 §3.10.7.4's update rule (SND.WL1 < SEG.SEQ, or equal) then
  // ignores every window they carry: soak seed 171518, both ends with 1024-byte window units,
  // each probing the other's "zero" window every 60 s for ever while both advertised 2 KiB.
  // (Linux compares with its own receive scale; the peer's is the unit its window rounds to.)
  if (!for_rst && wscale_ok_ && snd_max_ > window_end &&
      static_cast<std::uint32_t>(snd_max_ - window_end) < (1u << snd_wscale_))
    return snd_max_;
  return snd_max_ <= window_end ? snd_max_ : seq_max(window_end, snd_una_);
}

void Connection::send_ack(Instant now, SegmentSink& out) {
  Segment seg;
  seg.seq = acceptable_seq();
  seg.flags = ACK;
  emit(seg, now, out);
}

bool Connection::send_invalid_reply_ack(const Segment& seg, Instant now, SegmentSink& out,
                                        bool data_exempt) {
  // Follows Linux (tcp_oow_rate_limited): a segment with data and no SYN is not part of an ACK
  // loop — a retransmission below RCV.NXT or a zero-window probe needs its ACK at once.
  const bool exempt = data_exempt && !seg.payload.empty() && !seg.has(SYN);
  if (!exempt && !invalid_reply_allowed(now)) return false;
  send_ack(now, out);
  return true;
}

bool Connection::invalid_reply_allowed(Instant now) {
  // RFC 5961 §7: "the mitigation SHOULD be rate-limited"; per connection, as Linux's
  // tcp_invalid_ratelimit (500 ms). Two ends that disagree about sequence space thus
  // exchange at most one ACK per interval each, never a storm.
  const Duration interval = config_->invalid_ack_interval;
  if (interval > Duration{0} && last_invalid_ack_ && now >= *last_invalid_ack_ &&
      now - *last_invalid_ack_ < interval) {
    ++context_.counters->tcp_invalid_acks_suppressed;
    return false;
  }
  if (context_.invalid_ack_limit && !context_.invalid_ack_limit->allow(now)) {
    ++context_.counters->tcp_invalid_acks_suppressed;
    return false;
  }
  last_invalid_ack_ = now;
  return true;
}

void Connection::send_rst(SeqNum seq, Instant now, SegmentSink& out, bool with_ack) {
  Segment seg;
  seg.seq = seq;
  seg.flags = with_ack ? RST | ACK : RST;
  emit(seg, now, out);
}

// RFC 5681 §4.1 (SHOULD): about to send new data with nothing in flight, and no data sent
// for longer than the RTO: cwnd restarts from RW = min(IW, cwnd) (CongestionControl::
// restart_after_idle()). As Linux (tcp_event_data_sent(), tcp_cwnd_restart()): "sent" counts
// any data segment, retransmissions and window probes included; BBR, which has its own restart
// from idle (bbr.cpp), is left alone (Linux skips it for a ca_ops->cong_control too).
void Connection::restart_after_idle(Instant now) {
  if (!config_->restart_after_idle || !last_send_at_ || snd_una_ != snd_max_) return;
  if (cc_.algorithm() == CongestionAlgorithm::Bbr) return;
  if (now - *last_send_at_ <= rtt_.rto()) return;
  cc_.restart_after_idle();
}

void Connection::send_data_segment(SeqNum seq, std::uint32_t len, bool fin, Instant now,
                                   SegmentSink& out, bool retransmission) {
  Segment seg;
  seg.seq = seq;
  seg.flags = ACK;
  seg.retransmission = retransmission;
  if (fin) seg.flags |= FIN;
  // Follows Linux (tcp_event_data_sent): data sent within the delayed-ACK time of data
  // received makes the connection interactive, and quick ACKs stop ("pingpong").
  if (!retransmission && len > 0 && config_->quick_acks > 0 && last_data_at_ &&
      now - *last_data_at_ < config_->delayed_ack)
    pingpong_ = true;
  if (len > 0) {
    pushes_unanswered_ = 0;  // a reply: the flow is not one-way (ack_for_pushed_text())
    last_send_at_ = now;     // Linux's lsndtime, for restart_after_idle()
  }
  static thread_local std::vector<std::byte> scratch;
  if (len > 0) {
    auto offset = static_cast<std::uint32_t>(seq - snd_buf_seq_);
    auto run = snd_buf_.contiguous(offset, len);
    if (run.size() == len) {
      seg.payload = run;
    } else {
      scratch.resize(len);
      snd_buf_.copy_out(offset, scratch);
      seg.payload = scratch;
    }
    // RFC 9293 §3.9.1.2: PSH on the segment that empties the send buffer.
    if (seq + len == fin_seq() || (config_->psh_every_segment && !retransmission))
      seg.flags |= PSH;  // (a retransmitted piece of a Linux packet has lost its PSH)
    if (!retransmission) bytes_sent_ += len;
  }
  // RFC 8985 §6.1: every transmission is recorded with its time (the Rack is made with the
  // first data sent under RACK; an idle connection holds none).
  if (use_rack() && (len > 0 || fin)) {
    if (!rack_) {
      rack_ = std::make_unique<Rack>();
      // Follows Linux (tcp_min_rtt(), which RACK reads, takes the handshake's sample too:
      // tcp_synack_rtt_meas(), tcp_ack_update_rtt()): RACK.min_RTT starts from the smallest
      // timed sample so far. Data leaves in bursts, and the first ACK is read only after
      // the burst's write, so data samples alone can sit well above the path's round trip;
      // a lone retransmission, answered sooner than that, was then judged an earlier copy's
      // answer (§6.2 step 2) and a lost retransmission behind it waited for the RTO
      // (bench/loss.sh at 10 %, captured on the TUN: the SYN,ACK answered in 20–30 µs, a
      // 32-segment burst's first ACK read 70 µs after the burst).
      if (Duration m = rtt_.min_sample(); m > Duration{0}) rack_->lower_min_rtt(m);
    }
    std::uint64_t before = rack_->coalesced();
    rack_->on_send(seq, seq + len + (fin ? 1 : 0), now, retransmission);
    context_.counters->tcp_rack_coalesced += rack_->coalesced() - before;
  }
  // RFC 6937 §3: "on any data transmission or retransmission: prr_out += (data sent)".
  if (loss_.phase() == Recovery::Sack) loss_.on_prr_sent(len + (fin ? 1 : 0));
  // Karn (RFC 6298 §3): any retransmission — RTO, fast, SACK, lost-retransmission, probe —
  // cancels the running measurement: its ACK could answer either copy.
  if (retransmission) timed_seq_.reset();
  if (retransmission && undo_) undo_->on_retransmit(seq, seq + len + (fin ? 1 : 0), ts_now(now));
  if (!retransmission && !timed_seq_) {
    timed_seq_ = seq + len + (fin ? 1 : 0);
    timed_at_ = now;
  }
  // More than one packet's payload: the link cuts it (only new data comes in bursts).
  const std::uint32_t per_packet = effective_mss() - sack_option_bytes();
  if (len > per_packet) seg.gso_size = static_cast<std::uint16_t>(per_packet);
  rate_on_send(seq, seq + len + (fin ? 1 : 0), now, retransmission);  // BBR (connection_rate.cpp)
  emit(seg, now, out);
  snd_max_ = seq_max(snd_max_, seq + len + (fin ? 1 : 0));
  // RFC 6298 §5.1: start the timer when data goes out and it is not running.
  if (!timer(Timer::Retransmit)) arm(Timer::Retransmit, now + rtt_.rto());
  // RFC 8985 §7.2: restart the PTO "after transmitting new data" — a FIN alone too (it is new
  // sequence space; Linux's tcp_write_xmit() schedules the probe for a FIN's skb as for data)
  // — and, during a recovery that allows a probe (TcpConfig::recovery_probe), after each
  // retransmission.
  if ((len > 0 || fin) && (!retransmission || (in_recovery() && may_probe_in_recovery())))
    schedule_loss_probe(now);
}

void Connection::restart_retransmit_timer(Instant now) { arm(Timer::Retransmit, now + rtt_.rto()); }

// RFC 6675 §4 SetPipe, less the retransmissions found lost (RFC 8985 §6.2), which are no
// longer in the network until sent again.
std::uint32_t Connection::recovery_pipe(std::uint32_t mss) const {
  // RFC 8985 §9.3: with RACK, pipe counts what is neither delivered nor marked lost.
  if (use_rack() && rack_) return rack_->pipe(snd_una_);
  std::uint32_t pipe = loss_.scoreboard().pipe(snd_una_, snd_max_, loss_.high_rxt(), mss);
  std::uint32_t lost = loss_.retransmit_log().lost_bytes(snd_una_);
  return pipe > lost ? pipe - lost : 0;
}

// Sends [start, start + length) again, cut to the data and the FIN we sent; records it for
// lost-retransmission detection. Returns the end of what was sent, or nullopt for nothing.
std::optional<SeqNum> Connection::retransmit_hole(SeqNum start, std::uint32_t length, Instant now,
                                                  SegmentSink& out) {
  SeqNum data_end = fin_seq();
  std::uint32_t len =
      start < data_end ? std::min(length, static_cast<std::uint32_t>(data_end - start)) : 0;
  bool fin = fin_sent() && start + len == data_end && start + length > data_end;
  if (len == 0 && !fin) return std::nullopt;
  send_data_segment(start, len, fin, now, out, true);
  SeqNum end = start + len + (fin ? 1 : 0);
  if (!use_rack()) loss_.retransmit_log().on_retransmit(start, end, snd_max_);
  context_.counters->tcp_sack_recovered_bytes += len;
  return end;
}

// RFC 6675 §4 NextSeg rule 1 and §5 (C.1): retransmit the next lost hole above HighRxt if
// cwnd - pipe allows a full segment. Returns whether it sent something.
bool Connection::sack_retransmit_next(Instant now, SegmentSink& out) {
  std::uint32_t mss = effective_mss() - sack_option_bytes();
  if (recovery_pipe(mss) + mss > cc_.cwnd()) return false;
  auto hole =
      loss_.scoreboard().next_lost_hole(seq_max(loss_.high_rxt(), snd_una_), snd_max_, mss, mss);
  if (!hole) return false;
  auto end = retransmit_hole(hole->start, hole->length, now, out);
  if (!end) return false;
  loss_.set_high_rxt(*end);
  return true;
}

// RFC 8985 §6.2 / §9.3 with RACK: the first segment marked lost goes again, as cwnd - pipe
// (RFC 6675 §5 (C), PRR's cwnd) allows a full segment.
bool Connection::rack_retransmit_next(Instant now, SegmentSink& out) {
  std::uint32_t mss = effective_mss() - sack_option_bytes();
  if (recovery_pipe(mss) + mss > cc_.cwnd()) return false;
  auto hole = rack_->next_lost(snd_una_);
  if (!hole) return false;
  if (!retransmit_hole(hole->start, std::min(hole->length, mss), now, out)) return false;
  // Follows Linux (tcp_xmit_retransmit_queue): resending the head restarts the RTO, so that
  // the timer measures from the retransmission (as retransmit_first() does for DupThresh).
  if (hole->start == snd_una_) restart_retransmit_timer(now);
  return true;
}

// RFC 8985 §6.2 (and Linux's lost-retransmission marking): a retransmission judged lost is
// sent again, before any hole above HighRxt (it is the oldest loss), as cwnd - pipe allows.
bool Connection::resend_lost_retransmission(Instant now, SegmentSink& out) {
  std::uint32_t mss = effective_mss() - sack_option_bytes();
  if (recovery_pipe(mss) + mss > cc_.cwnd()) return false;
  auto hole = loss_.retransmit_log().next_lost(snd_una_, loss_.scoreboard());
  if (!hole) return false;
  return retransmit_hole(hole->start, std::min(hole->length, mss), now, out).has_value();
}

// RFC 6298 §5.4 / RFC 5681 §3.2: send the earliest unacknowledged segment again.
SeqNum Connection::retransmit_first(Instant now, SegmentSink& out) {
  // Only what was sent before is sent again: new data here could run past the peer's
  // window, and SND.MAX must cover anything the peer may acknowledge.
  std::uint32_t sent = static_cast<std::uint32_t>(snd_max_ - snd_una_);
  std::uint32_t data = std::min(sent, static_cast<std::uint32_t>(fin_seq() - snd_una_));
  std::uint32_t len = std::min(data, effective_mss());
  bool fin = fin_sent() && snd_una_ + len == fin_seq();
  if (len == 0 && !fin) return snd_una_;
  send_data_segment(snd_una_, len, fin, now, out, true);
  SeqNum end = snd_una_ + len + (fin ? 1 : 0);
  snd_nxt_ = seq_max(snd_nxt_, end);
  arm(Timer::Retransmit, now + rtt_.rto());
  return end;
}

// Follows Linux's tcp_event_data_recv(): the first data of a connection, or the first after
// an idle time longer than the RTO, (re)starts quick-ACK mode.
void Connection::note_data_arrival(Instant now) {
  if (config_->quick_acks > 0 && (!last_data_at_ || now - *last_data_at_ > rtt_.rto())) {
    std::uint32_t mss = std::max<std::uint32_t>(effective_mss(), 1);
    std::uint32_t n = std::max<std::uint32_t>(rcv_buf_.free_space() / (2 * mss), 2);
    quick_acks_left_ = std::max(quick_acks_left_, std::min<std::uint32_t>(n, config_->quick_acks));
  }
  last_data_at_ = now;
}

void Connection::note_duplicate(SeqNum begin, SeqNum end) {
  if (config_->dsack && sack_ok_ && begin < end) dsack_ = std::make_pair(begin, end);
}

void Connection::schedule_ack(Instant now, SegmentSink&, bool immediately, bool batchable) {
  if (immediately) {
    ack_now_ = true;
    if (!batchable) ack_urgent_ = true;
    return;
  }
  // RFC 9293 §3.8.6.3 (MUST-58/SHLD-19): an ACK for at least every second full-sized
  // segment, and no ACK delayed past the delayed-ACK time (< 0.5 s).
  if (++ack_pending_ >= 2) {
    ack_now_ = true;
  } else if (quick_acks_left_ > 0 && !pingpong_) {
    ack_now_ = true;  // follows Linux: quick-ACK mode (TcpConfig::quick_acks)
  } else if (!timer(Timer::DelayedAck)) {
    arm(Timer::DelayedAck, now + config_->delayed_ack);
  }
}

bool Connection::compress_sack() {
  // Follows Linux's SACK compression (tcp_sack_compress, since 4.19), not RFC 5681 §4.2's
  // "SHOULD send an immediate duplicate ACK" for every out-of-order segment: the first three
  // duplicate ACKs for one RCV.NXT leave at once — what a sender's fast retransmit and
  // RACK need to start repairing — and after them, the out-of-order segments of one batch
  // (TcpConfig::batch_output) are answered by one ACK at its end, whose SACK blocks report
  // them (RFC 2018 §4: the first block the latest), at most kMaxCompressedSacks to it.
  // Linux waits up to min(RTT/20, 1 ms) on a timer; a batch waits for nothing but the
  // packets already read. Measured in bench/loss.sh (docs/performance.md, 2026-12-05): one
  // ACK per out-of-order segment cost a Linux BBR sender 2 MiB in 2x the time at 1-5 % loss
  // each way; with 44 to an ACK, twice as many transfers at 10 % needed a timeout as with 8
  // (one ACK's three SACK blocks no longer describe what it answers, and it may be lost).
  if (dup_acks_sent_ < kDupAcksBeforeCompression) {
    ++dup_acks_sent_;
    return false;
  }
  sack_compressed_ = ++ack_pending_ < kMaxCompressedSacks;
  return sack_compressed_;
}

void Connection::output_or_hold(Instant now, SegmentSink& out) {
  // Follows Linux's receive batching (TcpConfig::batch_output): inside a batch, what this
  // segment or send() would make us send waits for the batch's end, unless an ACK is owed at
  // once (RFC 9293 §3.8.6.3, RFC 5681 §4.2: out-of-order data, a filled hole, a FIN).
  // Never more unacknowledged than GRO merges into one packet (64 KiB; Linux acknowledges a
  // merged packet as one segment): SHLD-19's every second segment, stretched no further.
  const bool ack_overdue = ack_now_ && rcv_nxt_ - last_ack_sent_ >= kBatchAckLimit;
  // Around a loss nothing waits, as Linux's quick-ACK mode after out-of-order data
  // (tcp_enter_quickack_mode, TCP_MAX_QUICKACKS = 16): after an ACK owed at once, the next
  // 16 answers leave at once too, and so does everything while we recover a loss ourselves.
  // A sender recovering needs every ACK: without this, a Linux CUBIC sender to synack at 5 %
  // loss each way took a median 0.24 s for 2 MiB in bench/loss.sh, 0.010 s without batches.
  // A compressed SACK (compress_sack()) waits even then: it is the answer Linux delays.
  const bool quick = unbatched_ > 0 && !(sack_compressed_ && !ack_urgent_);
  if (ack_urgent_) {
    unbatched_ = kUnbatchedAfterLoss;
  } else if (unbatched_ > 0) {
    --unbatched_;
  }
  // The first segment (or send) of a batch is answered at once, as without batches: a
  // connection with one segment in the batch (a handshake's, a request's) pays nothing for
  // it; from the second on (whatever the first's answer was), the answers wait for the
  // batch's end.
  const std::uint32_t batch = out.batch();
  const bool first_in_batch = batch != 0 && batch_seen_ != static_cast<std::uint16_t>(batch);
  if (batch != 0) batch_seen_ = static_cast<std::uint16_t>(batch);
  if (config_->batch_output && batch != 0 && !first_in_batch && !ack_urgent_ && !ack_overdue &&
      !quick && !in_recovery()) {
    if (!output_held_) {
      output_held_ = true;
      out.held();
    }
    return;
  }
  output(now, out);
}

void Connection::flush_held(Instant now, SegmentSink& out) {
  if (!output_held_) return;
  output_held_ = false;
  if (state_ != State::Closed) output(now, out);
}

// Sends what the windows, Nagle and SWS avoidance allow, then any owed ACK.
void Connection::output(Instant now, SegmentSink& out) {
  output_held_ = false;  // what a batch held goes now (flush_held() finds nothing)
  switch (state_) {
    case State::Established:
    case State::CloseWait:
    case State::FinWait1:
    case State::Closing:
    case State::LastAck:
      break;
    case State::FinWait2:
    case State::TimeWait:
      if (ack_now_) send_ack(now, out);
      return;
    default:
      return;  // handshake states send only SYN / SYN,ACK; CLOSED and LISTEN send nothing
  }
  // RFC 9293 §3.7.1 (MUST-16): options in this segment come off the payload.
  std::uint32_t mss = effective_mss() - sack_option_bytes();
  // With segmentation offload, new data goes out in bursts of whole segments the link cuts.
  const std::uint32_t burst =
      config_->gso_max_bytes > mss ? config_->gso_max_bytes / mss * mss : mss;
  bool sent_any = false;
  // RFC 6675 §5 (C): during SACK recovery, holes judged lost go first, while pipe allows.
  // (pacing_holds(): BBR's pacer, false for the other algorithms.)
  if (sack_driven() && use_rack() && rack_) {
    for (int guard = 0; guard < 1024 && !pacing_holds(now) && rack_retransmit_next(now, out);
         ++guard)
      sent_any = true;
  } else if (sack_driven()) {
    for (int guard = 0; guard < 64 && !pacing_holds(now) && resend_lost_retransmission(now, out);
         ++guard)
      sent_any = true;
    for (int guard = 0; guard < 1024 && !pacing_holds(now) && sack_retransmit_next(now, out);
         ++guard)
      sent_any = true;
  }
  if (snd_nxt_ < fin_seq()) restart_after_idle(now);
  for (int guard = 0; guard < 4096; ++guard) {
    SeqNum data_end = fin_seq();
    std::uint32_t cwnd = cc_.cwnd();
    // RFC 3042 §2 limited transmit: on each of the first two duplicate ACKs one new segment
    // may go out, "the amount of outstanding data would remain less than or equal to the
    // congestion window plus 2 segments"; cwnd itself is not changed. The segments it sends
    // bring the further duplicate ACKs a small window would otherwise never produce.
    if (!in_recovery() && loss_.dup_acks() > 0 && loss_.dup_acks() < 3)
      cwnd += loss_.dup_acks() * mss;
    SeqNum wnd_end = snd_una_ + std::min(snd_wnd_, cwnd);
    if (sack_driven()) {
      // New data may go out as long as pipe stays below cwnd (RFC 6675 NextSeg rule 2).
      std::uint32_t pipe = recovery_pipe(mss);
      std::uint32_t room_cwnd = cc_.cwnd() > pipe ? cc_.cwnd() - pipe : 0;
      wnd_end = seq_min(snd_una_ + snd_wnd_, snd_nxt_ + room_cwnd);
    }
    // A window probe in flight may have pushed SND.NXT past the edge.
    std::uint32_t room = wnd_end > snd_nxt_ ? static_cast<std::uint32_t>(wnd_end - snd_nxt_) : 0;
    if (snd_nxt_ < data_end) {
      std::uint32_t avail = static_cast<std::uint32_t>(data_end - snd_nxt_);
      std::uint32_t len = std::min({avail, room, burst});
      if (len == 0) break;
      // RFC 9293 §3.8.6.2.1 sender SWS avoidance for each segment of a burst the link cuts
      // (gso_size = MSS): a burst that ends before the data does — at a window edge that is
      // not a whole number of segments (cwnd and PRR count octets), or at the burst's size —
      // ends at a segment boundary; the remainder waits, as a short segment would alone
      // (Linux counts cwnd in segments and sends whole ones). Measured before: 20-45 % of a
      // window-limited 2 MiB download's segments were short tails of bursts.
      if (len > mss && len < avail) len -= len % mss;
      bool nothing_in_flight = snd_nxt_ == snd_una_;
      // RFC 9293 §3.7.4 Nagle: hold a short segment while data is unacknowledged.
      bool nagle_ok = config_->no_delay || nothing_in_flight || fin_queued_ ||
                      (config_->nagle_minshall && snd_sml_ <= snd_una_);
      // RFC 9293 §3.8.6.2.1 sender SWS avoidance: send a full segment, or everything
      // queued (Nagle permitting), or at least half the largest window the peer offered.
      bool send = len >= mss || (len == avail && nagle_ok) ||
                  (nagle_ok && max_snd_wnd_ > 0 && len >= max_snd_wnd_ / 2) || force_send_;
      if (!send) {
        // Held back by SWS avoidance with nothing in flight to bring an ACK: the override
        // timer of §3.8.6.2.1 (MUST-38) will send it.
        // RFC 9293 §3.8.6.2.1 suggests 0.1-1 s; a fixed 200 ms, not the RTO, which an RTT
        // sample spanning a zero-window period can inflate to seconds.
        if (len < avail && nothing_in_flight && !timer(Timer::Persist))
          arm(Timer::Persist, now + kSwsOverride);
        break;
      }
      if (pacing_holds(now)) break;  // BBR: not before the pacing time (connection_rate.cpp)
      force_send_ = false;
      bool fin = fin_queued_ && snd_nxt_ + len == data_end;
      bool retransmission = snd_nxt_ < snd_max_;
      send_data_segment(snd_nxt_, len, fin, now, out, retransmission);
      if (len < mss) snd_sml_ = seq_max(snd_sml_, snd_nxt_ + len);  // Minshall: last short one
      snd_nxt_ += len + (fin ? 1 : 0);
      snd_max_ = seq_max(snd_max_, snd_nxt_);
      sent_any = true;
      continue;
    }
    if (fin_queued_ && snd_nxt_ == data_end) {
      // The FIN takes no window (RFC 9293 §3.10.4: "form a FIN segment and send it").
      send_data_segment(snd_nxt_, 0, true, now, out, snd_nxt_ < snd_max_);
      snd_nxt_ += 1;
      snd_max_ = seq_max(snd_max_, snd_nxt_);
      sent_any = true;
    }
    break;
  }
  // RFC 9293 §3.8.6.1: data waiting behind a zero window and nothing in flight to bring
  // an ACK: start the persist timer.
  bool data_waiting = snd_nxt_ < fin_seq();
  if (data_waiting && snd_wnd_ == 0 && snd_max_ == snd_una_ && !timer(Timer::Persist)) {
    persist_backoff_ = 0;
    zero_window_answers_ = 0;
    arm(Timer::Persist, now + rtt_.rto());
  }
  if (ack_now_ && !sent_any) send_ack(now, out);
  rate_after_output();  // BBR: app-limited detection (connection_rate.cpp)
  // Cwnd validation (TcpConfig::cwnd_validation): was the window in use? Counted as the loop
  // above limits the sender: pipe in a SACK recovery, FlightSize otherwise (SACKed data
  // outstanding before a recovery still holds the window), in segments of this output's size.
  if (config_->cwnd_validation)
    cwnd_use_.after_output(sack_driven() ? recovery_pipe(mss) : flight_size(), cc_.cwnd(), mss,
                           snd_una_, snd_max_);
}

}  // namespace synack::tcp
