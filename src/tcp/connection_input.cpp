// SPDX-License-Identifier: MIT
// RFC 9293 §3.10.7 SEGMENT ARRIVES, in the RFC's order of checks.
#include <algorithm>

#include "tcp/connection.hpp"

namespace synack::tcp {

namespace {
// How much older than TS.Recent a TSval may be and pass PAWS: one tick of the peer's clock, as
// Linux's TCP_PAWS_WINDOW (check_sequence()).
constexpr std::int32_t kPawsWindowTicks = 1;
}  // namespace

#define SYNACK_DROP(counter) count_drop(&Counters::counter, #counter, now)

// RFC 9293 §3.10.7.1: "If the state is CLOSED ... An incoming segment not containing a RST
// causes a RST to be sent in response."
std::optional<Segment> Connection::reset_for(const Segment& in) {
  if (in.has(RST)) return std::nullopt;  // "An incoming segment containing a RST is discarded."
  Segment r;
  if (in.has(ACK)) {
    r.seq = in.ack;  // <SEQ=SEG.ACK><CTL=RST>
    r.flags = RST;
  } else {
    r.seq = SeqNum(0);  // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    r.ack = in.seq + in.length();
    r.flags = RST | ACK;
  }
  return r;
}

void Connection::on_segment(const Segment& seg, Instant now, SegmentSink& out) {
  switch (state_) {
    case State::Closed:
      if (auto rst = reset_for(seg)) {
        ++context_.counters->tcp_resets_sent;
        out.send(*rst);
      }
      return;
    case State::Listen:
      on_segment_listen(seg, now, out);
      return;
    case State::SynSent:
      on_segment_syn_sent(seg, now, out);
      return;
    default:
      break;
  }
  // A retransmitted SYN in SYN-RECEIVED means our SYN,ACK was lost. Following Linux, answer
  // with the SYN,ACK again at once; the sequence check below would answer with a bare ACK
  // that the peer, in SYN-SENT, discards (§3.10.7.3 "fifth"). The answer is rate-limited as
  // replies to unacceptable segments are (Linux: tcp_check_req's tcp_oow_rate_limited), so
  // that a stream of copies of the SYN cannot draw a SYN,ACK each.
  // RFC 7323 §4.3 (2): the copy's TSval becomes TS.Recent (SEG.SEQ = IRS <= Last.ACK.sent),
  // so that the SYN,ACK echoes the SYN it answers. Echoing the first copy's instead gave the
  // peer an RTT sample as long as its SYN timeouts (soak seed 70292: 2 s on a 32 ms path, an
  // SRTT of 1.8 s and a first data RTO of 6.8 s).
  if (state_ == State::SynReceived && passive_ && seg.has(SYN) && !seg.has(ACK) && !seg.has(RST) &&
      seg.seq == irs_) {
    update_ts_recent(seg);
    if (invalid_reply_allowed(now)) send_syn(now, out, true);
    return;
  }
  // RFC 9293 §3.5 Figure 7 line 6 (simultaneous open): the peer's SYN,ACK repeats its SYN
  // (SEQ = IRS) and acknowledges ours. Taken as the ACK of our SYN — ESTABLISHED, and an ACK
  // back — as the figure shows and Linux does. Read literally, §3.10.7.4's sequence check
  // would answer it as an old duplicate and wait another round trip for the peer's ACK.
  if (state_ == State::SynReceived && !passive_ && seg.has(SYN) && seg.has(ACK) && !seg.has(RST) &&
      seg.seq == irs_ && snd_una_ < seg.ack && seg.ack <= snd_max_) {
    Segment ack_of_syn = seg;
    ack_of_syn.flags = static_cast<std::uint8_t>(seg.flags & ~(SYN | FIN));
    ack_of_syn.seq = seg.seq + 1;
    ack_of_syn.payload = {};
    if (process_ack(ack_of_syn, now, out)) {
      ack_now_ = true;
      output(now, out);
    }
    return;
  }
  // RFC 9293 §3.10.7.4, for SYN-RECEIVED and the synchronized states.
  if (!check_sequence(seg, now, out)) return;  // first
  if (!check_rst(seg, now, out)) return;       // second
  // third: security/compartment — not applicable (RFC 9293 §3.10.7.4 "third").
  if (!check_syn(seg, now, out)) return;    // fourth
  if (!process_ack(seg, now, out)) return;  // fifth
  // sixth: URG. RFC 6093: urgent data is delivered inline; the pointer is not acted on.
  process_text(seg, now, out);  // seventh and eighth (text, FIN)
  // RFC 9293 §3.10.7.4 fifth, FIN-WAIT-1: "if the FIN segment is now acknowledged, then
  // enter FIN-WAIT-2". Done after the FIN step so a FIN+ACK takes FIN-WAIT-1 -> TIME-WAIT
  // directly ("If our FIN has been ACKed (perhaps in this segment)").
  if (state_ == State::FinWait1 && fin_sent() && snd_una_ == snd_max_)
    set_state(State::FinWait2, Cause::RcvAckOfFin, now);
  if (config_->keepalive && is_synchronized(state_) && state_ != State::TimeWait) {
    keepalive_sent_ = 0;
    arm(Timer::Keepalive, now + config_->keepalive_idle);
  }
  if (state_ != State::Closed) output_or_hold(now, out);
}

// RFC 9293 §3.10.7.2, LISTEN.
void Connection::on_segment_listen(const Segment& seg, Instant now, SegmentSink& out) {
  // "First, check for a RST: An incoming RST segment could not be valid ... ignored."
  if (seg.has(RST)) {
    SYNACK_DROP(drop_listen_rst);
    return;
  }
  // "Second, check for an ACK: ... form a reset segment <SEQ=SEG.ACK><CTL=RST>."
  if (seg.has(ACK)) {
    SYNACK_DROP(drop_listen_ack);
    if (auto rst = reset_for(seg)) {
      ++context_.counters->tcp_resets_sent;
      out.send(*rst);
    }
    return;
  }
  // "Third, check for a SYN": RCV.NXT = SEG.SEQ+1, IRS = SEG.SEQ, send
  // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, SND.NXT = ISS+1, SND.UNA = ISS.
  if (seg.has(SYN)) {
    irs_ = seg.seq;
    rcv_nxt_ = seg.seq + 1;
    apply_peer_syn_options(seg);
    snd_wnd_ = seg.window;  // RFC 7323 §2.2: never scaled in a SYN
    max_snd_wnd_ = snd_wnd_;
    snd_wl1_ = seg.seq;
    snd_wl2_ = iss_;
    // Data on a SYN would be queued by the RFC; like most stacks without TFO we do not
    // acknowledge it, and the peer sends it again after the handshake.
    if (!seg.payload.empty()) SYNACK_DROP(drop_syn_data);
    ++context_.counters->tcp_passive_opens;
    set_state(State::SynReceived, Cause::RcvSyn, now);
    send_syn(now, out, false);
    return;
  }
  // "Fourth, other data or control ... drop the segment, and return."
  SYNACK_DROP(drop_listen_other);
}

// RFC 9293 §3.10.7.3, SYN-SENT.
void Connection::on_segment_syn_sent(const Segment& seg, Instant now, SegmentSink& out) {
  bool ack_acceptable = false;
  // "First, check the ACK bit": SEG.ACK =< ISS or SEG.ACK > SND.NXT -> <SEQ=SEG.ACK><CTL=RST>
  // (unless the RST bit is set), discard.
  if (seg.has(ACK)) {
    if (seg.ack <= iss_ || seg.ack > snd_max_) {
      SYNACK_DROP(drop_syn_sent_bad_ack);
      if (auto rst = reset_for(seg)) {
        ++context_.counters->tcp_resets_sent;
        out.send(*rst);
      }
      return;
    }
    ack_acceptable = snd_una_ < seg.ack;  // SND.UNA < SEG.ACK =< SND.NXT
  }
  // "Second, check the RST bit": with an acceptable ACK, "error: connection reset", enter
  // CLOSED; otherwise drop (RFC 5961 §3.2 blind-reset protection keeps this as is).
  if (seg.has(RST)) {
    if (ack_acceptable) {
      ++context_.counters->tcp_resets_received;
      enter_closed(Cause::RcvRstDelete, now, Error::ConnectionRefused);
    } else {
      SYNACK_DROP(drop_syn_sent_rst_unacceptable);
    }
    return;
  }
  // "Fourth, check the SYN bit."
  if (!seg.has(SYN)) {
    SYNACK_DROP(drop_syn_sent_no_syn);  // "Fifth, if neither of the SYN or RST bits is set"
    return;
  }
  irs_ = seg.seq;
  rcv_nxt_ = seg.seq + 1;
  // RFC 9293 §3.3.1: RCV.WND is relative to RCV.NXT, known only now. The window our SYN
  // offered (unscaled, RFC 7323 §2.2) starts here; the edge send_syn() computed from the
  // unset RCV.NXT is meaningless (and could sit up to 2^31 ahead).
  rcv_adv_ = rcv_nxt_ + std::min<std::uint32_t>(rcv_buf_.free_space(), 0xffff);
  apply_peer_syn_options(seg);
  if (ack_acceptable) {
    take_rtt_sample(seg, now);
    snd_una_ = seg.ack;
  }
  snd_wnd_ = seg.window;  // RFC 7323 §2.2: the window in a SYN is not scaled
  max_snd_wnd_ = snd_wnd_;
  snd_wl1_ = seg.seq;
  snd_wl2_ = seg.ack;
  cc_.set_mss(effective_mss());
  if (snd_una_ > iss_) {
    // "If SND.UNA > ISS (our SYN has been ACKed), change the connection state to
    // ESTABLISHED, form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it."
    disarm(Timer::Retransmit);
    retries_ = 0;
    first_unacked_retransmit_.reset();
    ++context_.counters->tcp_connections_established;
    set_state(State::Established, Cause::RcvSynAck, now);
    begin_data_transfer();
    events_ |= event::Connected | event::Writable;
    ack_now_ = true;
    // RFC 9293 §3.8.4 (MUST-26): the idle interval starts now, also for a connection that
    // never receives another segment (on_segment() restarts it for later segments).
    if (config_->keepalive) arm(Timer::Keepalive, now + config_->keepalive_idle);
    if (!seg.payload.empty() || seg.has(FIN)) {
      // "Data or controls that were queued ... continue processing at the sixth step."
      Segment rest = seg;
      rest.seq = seg.seq + 1;
      rest.flags = static_cast<std::uint8_t>(seg.flags & ~SYN);
      process_text(rest, now, out);
    }
    if (state_ != State::Closed) output(now, out);
    return;
  }
  // "Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment <SEQ=ISS><ACK=RCV.NXT>
  // <CTL=SYN,ACK> and send it." (simultaneous open, RFC 9293 §3.5 Figure 7)
  set_state(State::SynReceived, Cause::RcvSyn, now);
  send_syn(now, out, false);
}

void Connection::apply_peer_syn_options(const Segment& seg) {
  const auto& o = seg.options;
  // RFC 9293 §3.7.1 (MUST-15): 536 when the peer sent no MSS option.
  // RFC 9293 §3.7.1 (MUST-15): without the option assume 536 (IPv4) or 1220 (IPv6, RFC 8200
  // §5 minimum MTU 1280 - 60). Tiny announced values are raised to 88 so a peer cannot make
  // us send one-byte segments (Linux's tcp_min_snd_mss guards the same way).
  std::uint16_t default_mss = local_.addr.is_v4() ? 536 : 1220;
  peer_mss_ = std::max<std::uint16_t>(o.mss.value_or(default_mss), 88);
  // RFC 7323 §2.2: scaling only when both sides sent the option; §2.3: shifts above 14
  // are treated as 14.
  if (config_->window_scale && o.window_scale) {
    wscale_ok_ = true;
    snd_wscale_ = std::min<std::uint8_t>(*o.window_scale, 14);
  } else {
    wscale_ok_ = false;
    snd_wscale_ = 0;
    rcv_wscale_ = 0;
  }
  sack_ok_ = config_->sack && o.sack_permitted;              // RFC 2018 §2
  ts_ok_ = config_->timestamps && o.timestamps.has_value();  // RFC 7323 §3.2
  if (ts_ok_) ts_recent_ = o.timestamps->value;
}

// RFC 9293 §3.10.7.4 first: sequence number check (after RFC 7323 §5.3 PAWS).
bool Connection::check_sequence(const Segment& seg, Instant now, SegmentSink& out) {
  // RFC 7323 §5.3 R1: a timestamp older than TS.Recent marks an old duplicate: ACK and drop.
  // Following Linux (tcp_paws_discard(), TCP_PAWS_WINDOW), one tick older passes: a peer whose
  // ACKs leave from two CPUs (its reader's window updates and its receive path's ACKs) has them
  // cross on the way, by a tick in what we saw (bench/loss.sh: about 3 in 1,000 ACKs from a Linux
  // client); R1 dropped each and answered it, losing the SACK blocks it carried. A tick is no
  // wrap of the sequence space, which PAWS guards against (§5.2).
  if (ts_ok_ && seg.options.timestamps && !seg.has(RST) &&
      static_cast<std::int32_t>(seg.options.timestamps->value - ts_recent_) < -kPawsWindowTicks) {
    SYNACK_DROP(drop_paws);
    send_invalid_reply_ack(seg, now, out);
    return false;
  }
  std::uint32_t wnd = rcv_adv_ > rcv_nxt_ ? static_cast<std::uint32_t>(rcv_adv_ - rcv_nxt_) : 0;
  std::uint32_t len = seg.length();
  bool acceptable;
  if (len == 0) {
    acceptable = wnd == 0 ? seg.seq == rcv_nxt_ : seg.seq.in_window(rcv_nxt_, wnd);
  } else if (wnd == 0) {
    // "If the RCV.WND is zero, no segments will be acceptable, but special allowance
    // should be made to accept valid ACKs, URGs, and RSTs": a segment at RCV.NXT is let
    // through; its text is trimmed to the (empty) window later.
    acceptable = seg.seq == rcv_nxt_;
  } else {
    acceptable = seg.seq.in_window(rcv_nxt_, wnd) || (seg.seq + (len - 1)).in_window(rcv_nxt_, wnd);
  }
  // A pure ACK whose SEG.SEQ lies below RCV.NXT (by less than our receive buffer) is let
  // through for its ACK field. RFC 9293 §3.10.7.4 would drop it and answer with an ACK; but
  // its sender puts SND.NXT clamped to the window it last heard of from us (RFC 9293 §3.10.7.4
  // <SEQ=SND.NXT>, Linux's tcp_acceptable_seq()), and we may have taken octets past that edge
  // since (a window we had not yet advertised, or a probe). With both ends there — slow
  // readers, small buffers, loss — each drops the other's ACKs, the ACKs that would move
  // SND.UNA and open the windows never count, and both retransmit into R2 (soak seed 7519).
  // Taking the ACK is the allowance §3.10.7.4 asks for with a zero window ("special allowance
  // should be made to accept valid ACKs"), and Linux's tcp_sequence() accepts a segment
  // reaching back to RCV.WUP. The ACK still has to pass RFC 5961 §5's check (process_ack());
  // an old SEG.SEQ never moves the send window (SND.WL1 rule, update_send_window()); PAWS ran
  // above. Not in SYN-RECEIVED (below RCV.NXT is the peer's SYN) nor in TIME-WAIT, where only
  // a FIN is expected. Only an ACK of new data (SEG.ACK > SND.UNA): an old ACK of nothing new
  // is a delayed copy, and counted it would be a false DupAck (RFC 5681 §2) — it stays dropped.
  if (!acceptable && len == 0 && seg.has(ACK) && !seg.has(RST) && state_ != State::TimeWait &&
      state_ != State::SynReceived && seg.ack > snd_una_ && seg.seq < rcv_nxt_ &&
      static_cast<std::uint32_t>(rcv_nxt_ - seg.seq) <= rcv_buf_.capacity())
    acceptable = true;
  if (!acceptable) {
    // RFC 9293 §3.10.7.4 eighth, TIME-WAIT: "The only thing that can arrive in this state is
    // a retransmission of the remote FIN. Acknowledge it, and restart the 2 MSL timeout."
    if (state_ == State::TimeWait && seg.has(FIN) && !seg.has(RST) && seg.seq + len == rcv_nxt_) {
      ++context_.counters->tcp_time_wait_reacks;
      arm(Timer::TimeWait, now + 2 * config_->msl);
      send_ack(now, out);
      return false;
    }
    if (seg.has(RST)) {
      if (resets_after_peer_fin(seg)) return true;  // check_rst() takes it
      SYNACK_DROP(drop_rst_out_of_window);          // RFC 5961 §3.2: silently discard
      return false;
    }
    // A retransmitted duplicate (data wholly below RCV.NXT): its TSval becomes TS.Recent if
    // newer, so the ACK below echoes this copy, as Linux does (its tcp_sequence() lets a
    // duplicate reaching RCV.WUP through to tcp_replace_ts_recent()). Read literally, RFC
    // 7323 §4.3 (2) / §5.3 R3 would ignore it (SEG.SEQ + SEG.LEN <= Last.ACK.sent, and R3
    // follows R2's drop), and the sender's RTT sample would span its whole backoff.
    // R1 (PAWS) ran above and lets a TSval one tick older through (kPawsWindowTicks): only a
    // newer one moves TS.Recent, which never goes back.
    if (ts_ok_ && seg.options.timestamps && len > 0 && !seg.has(SYN) && !seg.has(RST) &&
        seg.seq + len <= rcv_nxt_ &&
        static_cast<std::int32_t>(seg.options.timestamps->value - ts_recent_) > 0)
      ts_recent_ = seg.options.timestamps->value;
    // "If an incoming segment is not acceptable, an acknowledgment should be sent in reply
    // (unless the RST bit is set ...): <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>"
    SYNACK_DROP(drop_sequence_unacceptable);
    // RFC 2883 §4: data wholly below RCV.NXT is a duplicate; say so in the ACK. Not a SYN's:
    // its sequence numbers start one before its data, and its reply is a rate-limited
    // challenge (a suppressed one would leave the block to a later, unrelated ACK); Linux
    // sends no D-SACK there either.
    if (!seg.payload.empty() && !seg.has(SYN) &&
        seg.seq + static_cast<std::uint32_t>(seg.payload.size()) <= rcv_nxt_)
      note_duplicate(seg.seq, seg.seq + static_cast<std::uint32_t>(seg.payload.size()));
    send_invalid_reply_ack(seg, now, out);
    return false;
  }
  update_ts_recent(seg);
  return true;
}

// RFC 7323 §4.3 (3): TS.Recent takes the newest TSval of a segment that covers Last.ACK.sent.
void Connection::update_ts_recent(const Segment& seg) {
  if (!ts_ok_ || !seg.options.timestamps) return;
  std::uint32_t tsval = seg.options.timestamps->value;
  if (static_cast<std::int32_t>(tsval - ts_recent_) >= 0 && seg.seq <= last_ack_sent_)
    ts_recent_ = tsval;
}

// Follows Linux (tcp_reset_check()), beyond RFC 5961 §3.2: in CLOSE-WAIT, CLOSING and
// LAST-ACK an RST at RCV.NXT - 1, the sequence number of the peer's FIN, resets. A peer whose
// application closed and then got data it could no longer deliver answers <SEQ=SEG.ACK><CTL=RST>
// (RFC 9293 §3.10.7.1), and our data segment sent before its FIN arrived acknowledged up to the
// FIN, not past it (wrk closing its connections at exit; macOS after ^C sends FIN then RST).
// Discarded as out of window, it would leave the connection to wait for its own FIN's
// retransmissions to learn of the reset. One sequence number, as blind as RCV.NXT itself.
bool Connection::resets_after_peer_fin(const Segment& seg) const {
  return seg.has(RST) && fin_received_ && seg.seq + 1 == rcv_nxt_ &&
         (state_ == State::CloseWait || state_ == State::Closing || state_ == State::LastAck);
}

// RFC 9293 §3.10.7.4 second: the RST bit, with RFC 5961 §3.2's exact-match rule.
bool Connection::check_rst(const Segment& seg, Instant now, SegmentSink& out) {
  if (!seg.has(RST)) return true;
  if (seg.seq != rcv_nxt_ && !resets_after_peer_fin(seg)) {
    // RFC 5961 §3.2: in the window but not exactly RCV.NXT -> challenge ACK.
    SYNACK_DROP(drop_rst_in_window);
    if (send_invalid_reply_ack(seg, now, out)) ++context_.counters->tcp_challenge_acks;
    return false;
  }
  ++context_.counters->tcp_resets_received;
  switch (state_) {
    case State::SynReceived:
      if (passive_) {
        // "If this connection was initiated with a passive OPEN (i.e., came from the LISTEN
        // state), then return this connection to LISTEN state and return."
        for (auto& t : timers_) t.reset();
        set_state(State::Listen, Cause::RcvRstToListen, now);
        events_ |= event::Closed;
      } else {
        // "If this connection was initiated with an active OPEN ... connection refused"
        enter_closed(Cause::RcvRstDelete, now, Error::ConnectionRefused);
      }
      return false;
    case State::Established:
    case State::FinWait1:
    case State::FinWait2:
    case State::CloseWait:
      // "any outstanding RECEIVEs and SEND should receive 'reset' responses ... enter the
      // CLOSED state, delete the TCB, and return."
      enter_closed(Cause::RcvRstDelete, now, Error::ConnectionReset);
      return false;
    default:
      // CLOSING, LAST-ACK, TIME-WAIT: "enter the CLOSED state, delete the TCB, and return."
      enter_closed(Cause::RcvRstDelete, now, std::nullopt);
      return false;
  }
}

// RFC 9293 §3.10.7.4 fourth: the SYN bit.
bool Connection::check_syn(const Segment& seg, Instant now, SegmentSink& out) {
  if (!seg.has(SYN)) return true;
  if (state_ == State::SynReceived && passive_) {
    // "If the connection was initiated with a passive OPEN, then return this connection
    // to the LISTEN state and return."
    for (auto& t : timers_) t.reset();
    set_state(State::Listen, Cause::RcvSynToListen, now);
    events_ |= event::Closed;
    return false;
  }
  // RFC 5961 §4.2 (RFC 9293 MUST-...): "TCP endpoints MUST send a 'challenge ACK'".
  SYNACK_DROP(drop_syn_synchronized);
  if (send_invalid_reply_ack(seg, now, out)) ++context_.counters->tcp_challenge_acks;
  return false;
}

// RFC 9293 §3.10.7.4 fifth: the ACK field.
bool Connection::process_ack(const Segment& seg, Instant now, SegmentSink& out) {
  if (!seg.has(ACK)) {
    SYNACK_DROP(drop_no_ack_flag);  // "if the ACK bit is off, drop the segment and return"
    return false;
  }
  if (state_ == State::SynReceived) {
    // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state and continue
    // processing with the variables SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK"
    if (snd_una_ < seg.ack && seg.ack <= snd_max_) {
      take_rtt_sample(seg, now);
      snd_una_ = seg.ack;
      if (snd_nxt_ < snd_una_) snd_nxt_ = snd_una_;
      snd_wnd_ = static_cast<std::uint32_t>(seg.window) << snd_wscale_;
      max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
      snd_wl1_ = seg.seq;
      snd_wl2_ = seg.ack;
      disarm(Timer::Retransmit);
      retries_ = 0;
      first_unacked_retransmit_.reset();
      // The SYN,ACKs resent for copies of the peer's SYN were limited (on_segment()); the
      // connection starts its replies' rate limit afresh, as Linux's child socket does
      // (tcp_create_openreq_child: last_oow_ack_time = 0; soak seed 50003 lost the ACK for a
      // PAWS-failed segment 0.43 s after such a SYN,ACK, and with it 1,300 s).
      last_invalid_ack_.reset();
      cc_.set_mss(effective_mss());
      ++context_.counters->tcp_connections_established;
      // A CLOSE in SYN-RECEIVED already moved us to FIN-WAIT-1; otherwise ESTABLISHED.
      set_state(State::Established, Cause::RcvAckOfSyn, now);
      begin_data_transfer();
      events_ |= event::Connected | event::Writable;
      return true;
    }
    // "If the segment acknowledgment is not acceptable, form a reset segment
    // <SEQ=SEG.ACK><CTL=RST> and send it."
    SYNACK_DROP(drop_ack_unacceptable);
    send_rst(seg.ack, now, out);
    return false;
  }

  // ESTABLISHED and the states after it.
  if (seg.ack > snd_max_) {
    // "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then send an ACK, drop
    // the segment, and return."
    SYNACK_DROP(drop_ack_future);
    // Limited even with data (RFC 5961 §5.2, §7): blind data injected with a guessed ACK
    // must not draw one ACK each (Linux sends none: tcp_ack's "invalid_ack").
    send_invalid_reply_ack(seg, now, out, false);
    return false;
  }
  if (max_snd_wnd_ > 0 && seg.ack < snd_una_ - max_snd_wnd_) {
    // RFC 5961 §5.2: ACK older than SND.UNA - MAX.SND.WND: discard and send an ACK.
    SYNACK_DROP(drop_ack_too_old);
    send_invalid_reply_ack(seg, now, out, false);  // Linux's tcp_send_challenge_ack
    return false;
  }
  unanswered_probes_ = 0;  // the peer is alive (RFC 9293 §3.8.6.1, MUST-37)
  // RFC 6937 §3 DeliveredData = change_in(snd.una) + change_in(SACKd): both before this ACK.
  const SeqNum una_before = snd_una_;
  const std::uint32_t sacked_before = loss_.scoreboard().sacked_bytes();
  const bool prr_before = loss_.phase() == Recovery::Sack;
  const std::uint32_t cwnd_before = cc_.cwnd();  // a loss probe's repair reduces from it
  std::uint32_t newly_sacked = 0;
  if (sack_ok_ && seg.options.sack_count > 0) {
    // RFC 2018 §4 / RFC 6675: record what the peer holds above the cumulative ACK.
    auto r = loss_.scoreboard().update(
        seq_max(seg.ack, snd_una_), snd_max_,
        std::span(seg.options.sack.data(),
                  std::min<std::size_t>(seg.options.sack_count, wire::kMaxSackBlocks)));
    if (r.ignored > 0) context_.counters->drop_sack_invalid += r.ignored;
    newly_sacked = r.newly_sacked;
  }
  const bool dsack = sack_ok_ && has_dsack(seg);
  if (dsack) ++context_.counters->tcp_dsacks_received;
  // RFC 8985 §6.2 steps 1-3, before SND.UNA moves: what this ACK delivered.
  const bool rack = use_rack() && rack_;
  if (rack) rack_on_ack(seg, dsack, now);
  const bool new_data_acked = seg.ack > snd_una_;
  if (seg.ack > snd_una_) {
    handle_new_ack(seg, now, out);
    if (state_ == State::Closed) return false;
  } else if (seg.ack == snd_una_) {
    handle_duplicate_ack(seg, newly_sacked > 0);
  }
  // An ACK that only SACKs still measures the path when what it SACKs was sent once (Linux
  // tcp_ack_update_rtt()'s sack_rtt_us); handle_new_ack() took the sample of one that advances.
  if (rack) {
    if (auto rtt = rack_->take_rtt_sample()) rtt_.sample(*rtt);
  }
  // F-RTO, D-SACK and Eifel detection, the undo (spurious_retransmit.cpp).
  undo_on_ack(seg, una_before, sacked_before, dsack, now, out);
  if (sack_driven() && !rack) {
    // RFC 8985 §6.2: a retransmission whose later-sent data is SACKed while it is not was
    // lost; output() sends it again (see RetransmitLog).
    std::size_t lost = loss_.retransmit_log().update(snd_una_, loss_.scoreboard(), effective_mss());
    if (lost > 0) context_.counters->tcp_lost_retransmits += lost;
  }
  // RFC 5681 §3.2 step 2 / RFC 6675 §5: three duplicate ACKs, or SACKed data showing the
  // first segment lost, start loss recovery — once per window (RFC 6582 "recover").
  // RFC 6582 §3.2 step 2: recovery may start again once the ACK "covers more than recover",
  // the highest sequence number sent when the last one began, i.e. SND.MAX - 1 then; our
  // recover point (loss_.recover()) holds that SND.MAX, so an ACK of exactly it qualifies (RFC
  // 6675 §5 too: "beyond the last value of RecoveryPoint" = HighData).
  on_loss_probe_ack(seg, cwnd_before, now, out);  // RFC 8985 §7.4 (tail_loss_probe.cpp)
  if (rack) {
    // RFC 8985 §6.2 steps 4-5: segments lost by time; the first starts fast recovery. With
    // RACK, DupAcks do not (as Linux's tcp_time_to_recover() with RACK: only lost_out counts).
    rack_detect_loss(dsack, now, out);
  } else if (!in_recovery() && flight_size() > 0 && snd_una_ >= loss_.recover() &&
             (loss_.dup_acks() >= 3 ||
              (sack_ok_ && loss_.scoreboard().is_lost(snd_una_, effective_mss())))) {
    enter_recovery(now, out);
  }
  if (loss_.phase() == Recovery::Sack) {
    // RFC 6937 §3, on every ACK during recovery — the one that started it included (as
    // Linux): DeliveredData, then cwnd = pipe + sndcnt before output() sends. An ACK that
    // delivered nothing leaves cwnd alone, as Linux's tcp_cwnd_reduction() ("newly_acked_sacked
    // <= 0: return"): what it showed lost leaves pipe, and the room that opens goes to the
    // retransmission.
    std::int64_t delivered = static_cast<std::int64_t>(snd_una_ - una_before) +
                             static_cast<std::int64_t>(loss_.scoreboard().sacked_bytes()) -
                             static_cast<std::int64_t>(sacked_before);
    if (delivered > 0 || !prr_before)
      apply_prr(static_cast<std::uint32_t>(std::max<std::int64_t>(delivered, 0)));
  }
  rate_on_ack(una_before, sacked_before, now);  // BBR: a rate sample (connection_rate.cpp)
  update_send_window(seg, now);
  // RFC 8985 §7.2: restart the PTO "upon receiving an ACK that cumulatively acknowledges data"
  // — after the window update, so that a window this ACK closes holds the probe back (a probe
  // into a zero window is unacceptable to the peer, RFC 9293 §3.10.7.4, and wastes the episode).
  if (new_data_acked) schedule_loss_probe(now);
  // TcpConfig::recovery_probe: during a recovery every ACK (SACK-only ones too) shows the ACK
  // clock alive and restarts the PTO.
  else if (in_recovery() && may_probe_in_recovery())
    schedule_loss_probe(now);

  bool our_fin_acked = fin_sent() && snd_una_ == snd_max_;
  switch (state_) {
    case State::Closing:
      // "In addition to the processing for the ESTABLISHED state, if the ACK acknowledges
      // our FIN, then enter the TIME-WAIT state; otherwise, ignore the segment."
      if (our_fin_acked) enter_time_wait(Cause::RcvAckOfFin, now);
      return true;
    case State::LastAck:
      // "The only thing that can arrive in this state is an acknowledgment of our FIN. If
      // our FIN is now acknowledged, delete the TCB, enter the CLOSED state, and return."
      if (our_fin_acked) {
        enter_closed(Cause::RcvAckOfFinDelete, now, std::nullopt);
        return false;
      }
      return true;
    default:
      return true;  // FIN-WAIT-1 -> FIN-WAIT-2 happens after the FIN step (see on_segment)
  }
}

bool Connection::has_dsack(const Segment& seg) const {
  // RFC 2883 §4 / RFC 3708 §3: the first block is a D-SACK when it lies below the cumulative
  // ACK or inside the second block.
  std::size_t blocks = std::min<std::size_t>(seg.options.sack_count, wire::kMaxSackBlocks);
  if (blocks == 0) return false;
  SeqNum left(seg.options.sack[0].left), right(seg.options.sack[0].right);
  if (!(left < right)) return false;
  return right <= seg.ack || (blocks > 1 && SeqNum(seg.options.sack[1].left) <= left &&
                              right <= SeqNum(seg.options.sack[1].right));
}

void Connection::rack_on_ack(const Segment& seg, bool dsack, Instant now) {
  // The ACK's SACK blocks as RFC 2018 §4 / RFC 6675 §5.1 allow: inside (ACK, SND.MAX], the
  // D-SACK left out. A lying block (outside the window, reversed) delivers nothing.
  const SeqNum ack = seq_max(seg.ack, snd_una_);
  std::array<std::pair<SeqNum, SeqNum>, wire::kMaxSackBlocks> blocks{};
  std::size_t n = 0;
  std::size_t count = std::min<std::size_t>(seg.options.sack_count, wire::kMaxSackBlocks);
  for (std::size_t i = dsack ? 1 : 0; i < count; ++i) {
    SeqNum left(seg.options.sack[i].left), right(seg.options.sack[i].right);
    if (!(left < right) || right > snd_max_ || !(ack < right) || left < snd_una_) continue;
    blocks[n++] = {seq_max(left, ack), right};
  }
  std::optional<Rack::TsClock> ts;
  if (ts_ok_ && seg.options.timestamps && seg.options.timestamps->echo != 0)
    ts = Rack::TsClock{seg.options.timestamps->echo, ts_offset_};
  rack_->on_ack(ack, std::span(blocks.data(), n), now, ts);
}

bool Connection::rack_detect_loss(bool dsack, Instant now, SegmentSink& out) {
  // §6.2 step 4: the reordering window; "in Fast or RTO recovery" it is 0 until reordering
  // has been seen.
  Duration reo_wnd =
      rack_->update_reo_wnd(dsack, snd_una_, snd_max_, in_recovery(),
                            loss_.scoreboard().sacked_bytes(), effective_mss(), rtt_.srtt());
  // §6.2 step 5 and §6.3 (the timer is read by next_deadline()).
  std::uint32_t lost = rack_->detect_loss(now, reo_wnd);
  context_.counters->tcp_rack_lost_bytes += lost;
  // In recovery, output() resends what was marked (§6.2: a lost retransmission is found like
  // any other segment).
  if (in_recovery()) return false;
  // Outside it, any segment marked lost and not yet resent starts fast recovery — also one
  // marked during the recovery that just ended (data sent beyond its recovery point): as
  // Linux's tcp_time_to_recover() with RACK, "lost_out > 0".
  if (lost == 0 && rack_->lost_bytes(snd_una_) == 0) return false;
  if (flight_size() == 0 || snd_una_ < loss_.recover()) return false;
  enter_recovery(now, out);
  return true;
}

void Connection::take_rtt_sample(const Segment& seg, Instant now) {
  if (use_rack() && rack_) {
    // Karn's algorithm (RFC 6298 §3) per segment, as Linux tcp_clean_rtx_queue(): RACK's
    // records time every transmission, and rack_on_ack() found this ACK's sample — from the
    // segments sent once that it acknowledges, none when it covers a retransmitted one.
    // Every sample resets the backoff (RFC 6298 §5, note after rule 5.7: RTO from SRTT).
    // As Linux (tcp_rtt_estimator), each weighs as one RFC 6298 sample, not 1/ExpectedSamples
    // as timestamp samples do below (Linux keeps RTTVAR from decaying within a round trip with
    // its mdev_max; here RTTVAR may shrink faster with many ACKs per round trip).
    timed_seq_.reset();
    if (auto rtt = rack_->take_rtt_sample()) {
      rtt_.sample(*rtt);
      return;
    }
  } else if (timed_seq_ && seg.ack >= *timed_seq_) {
    // Without records (no SACK, or DupThresh loss detection): one segment per flight is
    // timed, and any retransmission before its ACK cancels the measurement (Karn, RFC 6298
    // §3; send_data_segment()).
    rtt_.sample(now - timed_at_);
    timed_seq_.reset();
    return;
  }
  // RFC 7323 §4.1 RTTM: TSecr of an ACK that advances SND.UNA is a sample, retransmitted
  // segments included (the receiver echoes the copy it ACKs, see check_sequence()); second to
  // a sequence sample, as Linux tcp_ack_update_rtt() ranks them. It weighs 1/ExpectedSamples
  // of a sequence sample (RFC 7323 Appendix G), ExpectedSamples = ceil(FlightSize / (2 SMSS))
  // with FlightSize before this ACK.
  if (!ts_ok_ || !seg.options.timestamps || seg.options.timestamps->echo == 0) return;
  // An ACK that reports a duplicate (a D-SACK, RFC 2883 §4) answers that duplicate, and
  // Linux's receiver echoes the TSval of an older segment in it: tcp_validate_incoming()
  // drops the duplicate and sends the D-SACK before tcp_replace_ts_recent() would record its
  // TSval. Its echo then times the older segment plus however long the duplicate took to
  // come — after lost ACKs, a whole RTO (bench/loss.sh at 5 %: a 200 ms sample on a 50 µs
  // path, SRTT 130 ms and RTOs of 0.7 s after it). RFC 7323 §4.1's premise, that the echo is
  // of the segment the ACK answers, fails: no sample (counted). Linux tcp_ack_update_rtt()
  // takes it; its RTO, floored at 200 ms, barely moves, where RFC 6298's SRTT-driven timers
  // (and the tail loss probe's 2 SRTT) here would.
  if (sack_ok_ && has_dsack(seg)) {
    ++context_.counters->tcp_rtt_samples_discarded;
    return;
  }
  std::uint32_t elapsed_ms = ts_now(now) - seg.options.timestamps->echo;
  // An echo from the future (it wraps to a huge value) or older than 60 s measures no path:
  // a lying or confused peer. Dropped and counted; the ACK still collapses the backoff
  // (handle_new_ack()).
  if (elapsed_ms >= 60000) {
    ++context_.counters->tcp_rtt_samples_discarded;
    return;
  }
  std::uint32_t mss = effective_mss();
  std::uint32_t flight = static_cast<std::uint32_t>(snd_max_ - snd_una_);
  rtt_.sample(std::chrono::milliseconds(elapsed_ms), (flight + 2 * mss - 1) / (2 * mss),
              /*timed=*/false);
}

// SND.UNA advances (RFC 9293 §3.10.7.4 fifth, ESTABLISHED: "Any segments on the
// retransmission queue that are thereby entirely acknowledged are removed").
void Connection::handle_new_ack(const Segment& seg, Instant now, SegmentSink& out) {
  auto acked = static_cast<std::uint32_t>(seg.ack - snd_una_);
  take_rtt_sample(seg, now);
  // New data acknowledged: with timestamps every such ACK measures the path, and one whose
  // sample was discarded must not leave the timer backed off (issue 10: an RTO of 120 s
  // while ACKs advanced). RFC 6298 §5 note after 5.7; Linux resets icsk_backoff on every
  // ACK that carries a sample. Without timestamps an ambiguous ACK keeps the backed-off RTO
  // until a Karn-valid sample (RFC 6298 §3, Karn).
  if (ts_ok_ && seg.options.timestamps && seg.options.timestamps->echo != 0)
    rtt_.reset_backoff(rto_without_srtt());
  // Without a timestamp the first ACK of new data after an RTO acknowledges the segment that
  // timer retransmitted, which Karn's rule leaves ambiguous: the backed-off RTO would stay
  // until a segment sent once is acknowledged — on a lossy path, with every segment a
  // retransmission after going back N, for minutes (issue 10: 96 and 120 s RTOs between ACKs
  // that advanced, no timestamps, 29 % loss). RFC 8985 §6.2 step 2 resolves the ambiguity by
  // time: an ACK arriving less than min_RTT after the retransmission is for an earlier copy;
  // one arriving later is taken to be for the retransmission, which then measured a working
  // path. The backoff goes (the RTO returns to what SRTT and RTTVAR give, no sample taken,
  // SRTT untouched). Judged wrongly — the path's round trip grew beyond the RTO — it costs a
  // spurious timeout of the next segment, and segments sent once after it measure the longer
  // round trip (Karn-valid samples) and set the RTO from it.
  if (rto_retransmit_at_ != Instant{}) {
    // Without any sample yet, a round trip is at least the handshake's (never measured when
    // a SYN was retransmitted): the minimum is then unknown and any delay is taken.
    // RFC 8985's RACK.min_RTT is the least of every ACK's samples; ours here, one timed
    // segment per flight, is the least of a few, which jitter and the receiver's delayed ACKs
    // keep above the path's own round trip — and a retransmission that fills a hole is
    // answered at once, at the path's round trip: it came in just under the estimate, taken
    // for an earlier copy's ACK every time, and the backoff never went (soak seed 32922, no
    // timestamps: 46.5 ms after the retransmission against a min_RTT of 46.65 ms on one side,
    // 56.7 ms on the other; RTOs of 51 s, then 60 s, on a 46 ms path). So the bound is the
    // minimum less RTTVAR, the spread the samples show, and never below half the minimum.
    const Duration min_rtt = rtt_.min_sample();
    const Duration bound = std::max(min_rtt - rtt_.rttvar(), min_rtt / 2);
    if (now - rto_retransmit_at_ >= bound) rtt_.reset_backoff(rto_without_srtt());
    rto_retransmit_at_ = Instant{};
  }
  std::uint32_t data_acked = 0;
  if (seg.ack > snd_buf_seq_)
    data_acked = std::min<std::uint32_t>(static_cast<std::uint32_t>(seg.ack - snd_buf_seq_),
                                         snd_buf_.size());
  snd_buf_.consume(data_acked);
  // Issue 11 §4 (as after_read()); without a budget too once CLOSE has queued our FIN
  // (release_finished_buffers()).
  if ((context_.memory || fin_queued_) && snd_buf_.empty()) snd_buf_.release();
  snd_buf_.rewind();  // (almost) all acknowledged: start again where the cache is warm
  snd_buf_seq_ += data_acked;
  bytes_acked_ += data_acked;
  snd_una_ = seg.ack;
  if (snd_nxt_ < snd_una_) snd_nxt_ = snd_una_;
  if (loss_.high_rxt() < snd_una_) loss_.set_high_rxt(snd_una_);
  loss_.scoreboard().advance(snd_una_);
  retries_ = 0;
  first_unacked_retransmit_.reset();
  // Follows Linux (sk_stream_write_space, sk_stream_min_wspace): the application hears of
  // room once a third of the buffer is free, not after every ACK of a full buffer, so that a
  // bulk writer is woken once per large piece rather than for every ACK's 2 x MSS (the short
  // segments such small pieces left are output()'s to avoid: it ends a burst at a segment
  // boundary unless the data ends there). A third of what the ring can reach now: with a
  // memory budget that bounds it under a third of its capacity, a third of the capacity was
  // never free, and a writer waiting for Writable waited for ever (the ring drained, no
  // event; found in review of the relay, 2026-12-07).
  if (data_acked > 0 && snd_buf_.free_space() >= snd_buf_.limit() / 3 && !fin_queued_)
    events_ |= event::Writable;

  if (loss_.phase() == Recovery::Loss) {
    // After an RTO the window grows in slow start (RFC 5681 §3.1) while the holes below
    // loss_.recover() are resent; the phase ends when they are all acknowledged.
    loss_.reset_dup_acks();
    grow_cwnd(acked, now);
    if (seg.ack >= loss_.recover()) {
      loss_.set_phase(Recovery::Open);
      loss_.retransmit_log().clear();
      loss_.scoreboard().clear_lost_below();
      if (rack_) rack_->on_recovery_exit();  // RFC 8985 §6.2 step 4
    }
  } else if (in_recovery()) {
    if (seg.ack >= loss_.recover()) {
      // RFC 6582 §3.2 step 3 / RFC 6675 §5 (A): full acknowledgment ends recovery.
      loss_.set_phase(Recovery::Open);
      loss_.retransmit_log().clear();
      loss_.reset_dup_acks();
      cc_.on_recovery_exit();
      if (rack_) rack_->on_recovery_exit();  // RFC 8985 §6.2 step 4
    } else if (loss_.phase() == Recovery::Sack) {
      // RFC 6675 §5 (C): no window change; output() sends what NextSeg() allows.
    } else {
      // RFC 6582 §3.2 step 3 partial ACK: retransmit the next hole, deflate by the amount
      // acknowledged, add back one SMSS.
      retransmit_first(now, out);
      cc_.partial_ack(acked);
    }
  } else {
    loss_.reset_dup_acks();
    grow_cwnd(acked, now);
  }
  // RFC 6298 §5.2: all outstanding data acknowledged -> stop the timer; §5.3: otherwise
  // restart it.
  if (snd_una_ == snd_max_) {
    disarm(Timer::Retransmit);
  } else {
    restart_retransmit_timer(now);
  }
}

// RFC 5681 §2 "DUPLICATE ACKNOWLEDGMENT" and RFC 6675 §2 "DupAck", for fast retransmit,
// fast recovery (RFC 5681 §3.2) and limited transmit (RFC 3042).
void Connection::handle_duplicate_ack(const Segment& seg, bool new_sack_info) {
  std::uint32_t window = static_cast<std::uint32_t>(seg.window) << snd_wscale_;
  // RFC 5681 §2: no data, no SYN/FIN, the same window. A zero window is not counted: what is
  // outstanding is a window probe sent past the offered window, and its "still zero" answers
  // (RFC 9293 §3.8.6.1) say nothing of loss — three of them would fast-retransmit the probe
  // and halve cwnd (Linux's probes are never in flight, so it cannot count them either).
  bool rfc5681 =
      seg.payload.empty() && !seg.has(SYN) && !seg.has(FIN) && window == snd_wnd_ && window != 0;
  // RFC 6675 §2: "a segment that arrives carrying a SACK block that identifies previously
  // unacknowledged and un-SACKed octets between HighACK and HighData" is a DupAck whatever
  // its window or payload — Linux changes its window in nearly every ACK, and RFC 5681's
  // definition alone let neither fast retransmit nor limited transmit fire against it.
  bool duplicate = flight_size() > 0 && (rfc5681 || new_sack_info);
  if (!duplicate) return;
  loss_.count_dup_ack();
  ++context_.counters->tcp_dup_acks;
  // RFC 5681 §3.2 step 4: NewReno inflates by one SMSS per duplicate ACK; with SACK the
  // pipe estimate does that job (RFC 6675 §5).
  if (loss_.phase() == Recovery::NewReno) cc_.inflate(effective_mss());
}

void Connection::apply_prr(std::uint32_t delivered) {
  std::uint32_t mss = effective_mss() - sack_option_bytes();
  std::uint32_t pipe = recovery_pipe(mss);
  std::uint32_t sndcnt = loss_.prr_sndcnt(delivered, pipe, cc_.ssthresh(), mss);
  cc_.set_recovery_cwnd(pipe + sndcnt);  // RFC 6937 §3: cwnd = pipe + sndcnt
}

// RFC 5681 §3.2 steps 2-3 (NewReno, RFC 6582) or RFC 6675 §5 steps 4.1-4.3 (SACK).
void Connection::enter_recovery(Instant now, SegmentSink& out) {
  std::uint32_t mss = effective_mss();
  // RFC 8985 §7.2: no probe during recovery, the episode is over (with recovery_probe the
  // retransmissions below schedule one again, tail_loss_probe.cpp).
  disarm(Timer::Probe);
  tlp_end_.reset();
  loss_.set_recover(snd_max_);
  ++fast_retransmits_;
  ++context_.counters->tcp_fast_retransmits;
  undo_on_reduction(false, now);  // spurious_retransmit.cpp
  cc_.on_congestion_event(reduction_basis(), now);
  if (use_rack() && rack_) {
    // RFC 8985 §9.3 / §6.2: fast recovery on the first segment RACK marked lost; output()
    // retransmits the segments marked lost, in sequence order, as PRR (RFC 6937) allows — the
    // first at once (PRR's first sndcnt is at least one segment).
    loss_.set_phase(Recovery::Sack);
    loss_.set_high_rxt(snd_una_);
    loss_.retransmit_log().clear();
    loss_.start_prr(flight_size());
    return;
  }
  SeqNum saved_nxt = snd_nxt_;
  if (sack_ok_) {
    loss_.set_phase(Recovery::Sack);
    loss_.set_high_rxt(snd_una_);
    // RFC 6937 §3 "at the beginning of recovery": RecoverFS = FlightSize; the fast
    // retransmit below is PRR's first prr_out.
    loss_.start_prr(flight_size());
  } else {
    loss_.set_phase(Recovery::NewReno);
    cc_.inflate(3 * mss);
  }
  // Both: retransmit the first unacknowledged segment at once.
  retransmit_first(now, out);
  if (loss_.phase() == Recovery::Sack) {
    loss_.set_high_rxt(seq_min(snd_una_ + mss, seq_max(snd_una_, fin_seq())));
    loss_.retransmit_log().clear();
    loss_.retransmit_log().on_retransmit(snd_una_, loss_.high_rxt(), snd_max_);
    context_.counters->tcp_sack_recovered_bytes +=
        static_cast<std::uint32_t>(loss_.high_rxt() - snd_una_);
  }
  snd_nxt_ = seq_max(saved_nxt, snd_nxt_);
}

// RFC 9293 §3.10.7.4 fifth: "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be
// updated. If (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK))".
void Connection::update_send_window(const Segment& seg, Instant now) {
  if (seg.ack < snd_una_ || seg.ack > snd_max_) return;
  if (snd_wl1_ < seg.seq || (snd_wl1_ == seg.seq && snd_wl2_ <= seg.ack)) {
    snd_wnd_ = static_cast<std::uint32_t>(seg.window) << snd_wscale_;
    snd_wl1_ = seg.seq;
    snd_wl2_ = seg.ack;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    if (snd_wnd_ > 0 && timer(Timer::Persist)) {
      // The window reopened: stop probing and go back to normal transmission.
      // RFC 9293 §3.8.6.1: zero-window probes were sent (persist_backoff_ counts them; the
      // SWS override never does) and what they carried beyond SND.UNA was refused by the
      // zero window: send again from SND.UNA, so it leaves with the data queued behind it
      // instead of waiting for an RTO while Nagle holds the rest.
      if (persist_backoff_ > 0) snd_nxt_ = snd_una_;
      disarm(Timer::Persist);
      persist_backoff_ = 0;
      zero_window_answers_ = 0;
      // RFC 6298 §5.1: while data is outstanding the retransmission timer runs (the probes
      // had taken its place). SND.MAX, not SND.NXT (just rewound): a retransmission sent
      // before the window closed and lost since has only this timer left to repair it, when
      // the reopened window is full of what is in flight (soak seed 136049: both ends idle
      // for ever, FIN-WAIT-2 against CLOSE-WAIT).
      if (snd_max_ > snd_una_ && !timer(Timer::Retransmit))
        arm(Timer::Retransmit, now + rtt_.rto());
    }
  }
}

// RFC 9293 §3.10.7.4 seventh (segment text) and eighth (FIN).
void Connection::process_text(const Segment& seg, Instant now, SegmentSink& out) {
  bool accepts_text =
      state_ == State::Established || state_ == State::FinWait1 || state_ == State::FinWait2;
  std::span<const std::byte> payload = seg.payload;
  SeqNum seq = seg.seq;
  if (!payload.empty()) {
    if (!accepts_text) {
      // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: "This should not occur since a FIN has
      // been received from the remote side. Ignore the segment text."
      SYNACK_DROP(drop_data_after_fin);
      payload = {};
    } else if (seq < rcv_nxt_) {
      auto skip = static_cast<std::uint32_t>(rcv_nxt_ - seq);
      // RFC 2883 §4: the part already received is reported as a duplicate.
      note_duplicate(
          seq, seq + std::min<std::uint32_t>(skip, static_cast<std::uint32_t>(payload.size())));
      payload = skip >= payload.size() ? std::span<const std::byte>{} : payload.subspan(skip);
      seq = rcv_nxt_;
      if (payload.empty()) schedule_ack(now, out, true);  // a duplicate: ACK at once
    }
  }
  if (!payload.empty() && accepts_text && seq == rcv_nxt_ && seg.has(PSH)) {
    pushed_ = true;
    if (pushes_unanswered_ < 2) ++pushes_unanswered_;
  }
  if (!payload.empty() && accepts_text) payload = deliver_direct(seq, payload, now, out);
  if (!payload.empty()) {
    auto offset = static_cast<std::uint32_t>(seq - rcv_nxt_);
    auto result = rcv_buf_.insert(offset, payload);
    if (result.dropped) SYNACK_DROP(drop_reassembly_full);
    // Issue 11 §4: the memory budget cannot hold (all of) it. The window we advertise no
    // longer grows past what the budget holds (ReceiveBuffer::free_space; 0 for a ring it
    // could not allocate at all); the ACK below tells the peer, whose retransmissions or
    // persist probes find room once memory is free (Linux prunes and drops under tcp_mem
    // alike).
    if (result.no_memory) SYNACK_DROP(drop_memory_pressure);
    if (result.advanced > 0) {
      dup_acks_sent_ = 0;
      note_data_arrival(now);
      rcv_nxt_ += result.advanced;
      bytes_received_ += result.advanced;
      events_ |= event::Readable;
      // RFC 5681 §4.2: ACK at once when a segment fills (part of) a hole.
      schedule_ack(now, out, result.filled_hole);
    } else {
      // RFC 5681 §4.2: an out-of-order segment is answered at once (a duplicate ACK), and
      // so is data beyond the window — past the first three for one RCV.NXT, at the end of
      // the batch it came in (compress_sack()).
      if (result.out_of_order) ++context_.counters->tcp_out_of_order_segments;
      schedule_ack(now, out, true, result.out_of_order && compress_sack());
    }
  }
  // Eighth: the FIN bit. "Do not process the FIN if the state is CLOSED, LISTEN, or
  // SYN-SENT" — those never get here.
  if (seg.has(FIN) && !fin_received_) {
    SeqNum fin_at = seg.seq + static_cast<std::uint32_t>(seg.payload.size());
    if (fin_at == rcv_nxt_) {
      process_fin(now, out);
    } else if (fin_at > rcv_nxt_) {
      pending_fin_ = fin_at;  // beyond a hole: take it when the hole fills
      schedule_ack(now, out, true);
    }
  } else if (pending_fin_ && *pending_fin_ == rcv_nxt_ && !fin_received_) {
    process_fin(now, out);
  }
}

std::span<const std::byte> Connection::deliver_direct(SeqNum& seq,
                                                      std::span<const std::byte> payload,
                                                      Instant now, SegmentSink& out) {
  // In-order text with nothing queued before it (the receive buffer empty, no out-of-order
  // data) goes to the application's direct reader, if it has one, without a copy into the
  // buffer (issue 14 §2). Delivered is delivered: RCV.NXT moves over it as over text the
  // application has read at once (RFC 9293 §3.10.7.4 seventh: "Once in the ESTABLISHED
  // state, it is possible to deliver segment text to user RECEIVE buffers"); the window stays
  // open. What the reader does not take is queued as before, after what it took.
  if (!direct_reader_ || seq != rcv_nxt_ || rcv_buf_.readable() > 0 || rcv_buf_.has_out_of_order())
    return payload;
  std::size_t taken = std::min((*direct_reader_)(payload), payload.size());
  if (taken == 0) return payload;
  auto n = static_cast<std::uint32_t>(taken);
  dup_acks_sent_ = 0;
  note_data_arrival(now);
  rcv_nxt_ += n;
  seq = rcv_nxt_;
  bytes_received_ += n;
  context_.counters->tcp_direct_delivered_bytes += n;
  // RFC 9293 §3.8.6.3 / RFC 5681 §4.2, as for buffered text; at once when the reader took a
  // whole pushed segment (ack_for_pushed_text()); in a batch, at its end, when Linux's reader
  // would have read it (tcp_cleanup_rbuf's ICSK_ACK_PUSHED2).
  schedule_ack(now, out, taken == payload.size() && ack_for_pushed_text(), true);
  return payload.subspan(taken);
}

void Connection::process_fin(Instant now, SegmentSink& out) {
  // "signal the user 'connection closing' ... advance RCV.NXT over the FIN, and send an
  // acknowledgment for the FIN."
  fin_received_ = true;
  pending_fin_.reset();
  rcv_nxt_ += 1;
  events_ |= event::PeerClosed | event::Readable;
  schedule_ack(now, out, true);
  switch (state_) {
    case State::SynReceived:
    case State::Established:
      set_state(State::CloseWait, Cause::RcvFin, now);
      break;
    case State::FinWait1:
      // "If our FIN has been ACKed (perhaps in this segment), then enter TIME-WAIT, start the
      // time-wait timer, turn off the other timers; otherwise, enter the CLOSING state."
      if (fin_sent() && snd_una_ == snd_max_) {
        enter_time_wait(Cause::RcvFinAck, now);
        ack_now_ = true;
      } else {
        set_state(State::Closing, Cause::RcvFin, now);
        // TcpConfig::prompt_fin_probe: the peer's FIN shows it will acknowledge ours at once
        // (RFC 9293 §3.10.7.4); when ours is all that is in flight, the PTO armed with
        // WCDelAckT when it went out comes sooner — never later than it was, and never
        // cancelled (schedule_loss_probe() counts from now and may decline an episode's
        // later probe).
        if (auto armed = timer(Timer::Probe);
            armed && config_->prompt_fin_probe && snd_una_ == fin_seq()) {
          const Instant before = *armed;
          schedule_loss_probe(now);
          if (!timer(Timer::Probe) || *timer(Timer::Probe) > before) arm(Timer::Probe, before);
        }
      }
      break;
    case State::FinWait2:
      enter_time_wait(Cause::RcvFin, now);
      ack_now_ = true;
      break;
    case State::TimeWait:
      arm(Timer::TimeWait, now + 2 * config_->msl);  // "Restart the 2 MSL time-wait timeout."
      break;
    default:
      break;  // CLOSE-WAIT, CLOSING, LAST-ACK: "Remain in the ... state."
  }
}

}  // namespace synack::tcp
