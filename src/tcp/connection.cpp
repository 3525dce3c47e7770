// SPDX-License-Identifier: MIT
// User calls (RFC 9293 §3.10.1–3.10.6), timeouts (§3.10.8) and the one state-change function.
#include "tcp/connection.hpp"

#include <algorithm>
#include <cassert>
#include <limits>

#include "tcp/syn_cookie.hpp"

namespace synack::tcp {
namespace {

// RFC 7323 §2.3: the shift that lets the window field cover the buffer (or the larger size
// window_scale_buffer names, as Linux does for its autotuning ceiling).
std::uint8_t our_shift(const TcpConfig& config) {
  return config.window_scale
             ? window_shift_for(std::max(config.receive_buffer, config.window_scale_buffer))
             : 0;
}

}  // namespace

Connection::Connection(SharedTcpConfig config, ConnectionContext context, wire::Endpoint local,
                       wire::Endpoint remote, SeqNum isn, std::uint32_t ts_offset)
    : config_(std::move(config)),
      context_(context),
      local_(local),
      remote_(remote),
      iss_(isn),
      snd_una_(isn),
      snd_nxt_(isn),
      snd_max_(isn),
      ts_offset_(ts_offset),
      snd_buf_(config_->send_buffer),
      snd_buf_seq_(isn + 1),
      // The slack holds the octets a window rounded up to the field's granularity offers past
      // the buffer (window_to_advertise()).
      rcv_buf_(config_->receive_buffer, config_->max_reassembly_ranges,
               (1u << our_shift(*config_)) - 1),
      rtt_(config_->rto_initial, config_->rto_min, config_->rto_max, config_->rto_min_in_variance),
      cc_(config_->congestion, config_->mss, config_->initial_window_segments,
          config_->slow_start_ack_limit) {
  rcv_wscale_ = our_shift(*config_);
  snd_buf_.set_budget(context.memory);
  rcv_buf_.set_budget(context.memory);
  // RFC 6582 §3.2 step 1: "recover" starts at the initial send sequence number.
  loss_.set_recover(isn);
  snd_sml_ = isn;
  assert(context_.counters && "ConnectionContext::counters is required");
  loss_.set_high_rxt(isn);
  // BBR: the delivery-rate estimator and pacer, allocated only for it (connection_rate.cpp).
  if (cc_.uses_rate_samples()) rate_ = std::make_unique<RateState>();
}

Connection Connection::for_listener(SharedTcpConfig config, ConnectionContext context,
                                    wire::Endpoint local, wire::Endpoint remote, SeqNum isn,
                                    std::uint32_t ts_offset) {
  Connection c(std::move(config), context, local, remote, isn, ts_offset);
  c.state_ = State::Listen;
  c.passive_ = true;
  return c;
}

Connection Connection::from_syn_cookie(SharedTcpConfig config, ConnectionContext context,
                                       wire::Endpoint local, wire::Endpoint remote,
                                       const CookieState& cookie, std::uint32_t ts_offset,
                                       Instant now) {
  Connection c = for_listener(std::move(config), context, local, remote, cookie.iss, ts_offset);
  c.irs_ = cookie.irs;
  c.rcv_nxt_ = cookie.irs + 1;
  // RFC 4987 §3.6: the MSS from the cookie's table; the other options only as the timestamp
  // bits preserved them (tcp/syn_cookie.hpp), intersected with our configuration.
  c.peer_mss_ = std::max<std::uint16_t>(cookie.peer_mss, 88);
  c.wscale_ok_ = c.config_->window_scale && cookie.snd_wscale.has_value();
  c.snd_wscale_ = c.wscale_ok_ ? std::min<std::uint8_t>(*cookie.snd_wscale, 14) : 0;
  if (!c.wscale_ok_) c.rcv_wscale_ = 0;
  c.sack_ok_ = c.config_->sack && cookie.sack;
  c.ts_ok_ = c.config_->timestamps && cookie.timestamps;
  if (c.ts_ok_) c.ts_recent_ = cookie.ts_recent;
  // Our SYN,ACK is out (SND.NXT = ISS + 1) and offered the unscaled window send_syn() offers.
  c.snd_nxt_ = cookie.iss + 1;
  c.snd_max_ = c.snd_nxt_;
  c.rcv_adv_ = c.rcv_nxt_ + std::min<std::uint32_t>(c.rcv_buf_.free_space(), 0xffff);
  c.cc_.set_mss(c.effective_mss());
  c.set_state(State::SynReceived, Cause::SynCookieAck, now);
  return c;
}

void Connection::set_keepalive(bool on, Duration idle, Duration interval, std::uint8_t probes,
                               Instant now) {
  TcpConfig& c = config_.edit();
  c.keepalive = on;
  c.keepalive_idle = idle;
  c.keepalive_interval = interval;
  c.keepalive_probes = probes;
  keepalive_sent_ = 0;
  if (on && is_synchronized(state_) && state_ != State::TimeWait)
    arm(Timer::Keepalive, now + idle);
  else
    disarm(Timer::Keepalive);
}

void Connection::set_congestion(CongestionAlgorithm a) {
  cc_ = AnyCongestionControl(a, effective_mss(), config_->initial_window_segments,
                             config_->slow_start_ack_limit);
  rate_ = cc_.uses_rate_samples() ? std::make_unique<RateState>() : nullptr;
  config_.edit().congestion = a;
}

// Every state change goes through here: the trace sees (from, to, cause, time), the cause
// in the table's words (tcp/transitions.hpp). A (from, to, cause) the table lacks is a bug
// here, not in the peer: debug builds stop; tests check every traced transition against the
// table (tests/tcp/transition_coverage_test.cpp).
void Connection::set_state(State to, Cause cause, Instant now) {
  State from = state_;
  assert(is_listed(from, to, cause) && "transition missing from tcp/transitions.hpp");
  state_ = to;
  release_finished_buffers();
  if (to == State::FinWait2) arm_orphan_fin_timeout(now);
  if (context_.trace)
    context_.trace->on_transition(
        TransitionEvent{now, context_.id, local_, remote_, from, to, label(cause)});
}

// A buffer no more data can enter goes back (to ring_memory's cache) once it is empty, with or
// without a memory budget: the send buffer after CLOSE (our FIN is queued; SEND is refused,
// RFC 9293 §3.10.2), the receive buffer after the peer's FIN (nothing past it is accepted,
// §3.10.7.4 eighth). So a connection in TIME-WAIT holds none once its application has read
// everything; Linux keeps a TIME-WAIT connection as an inet_timewait_sock without buffers
// (unread data there stays with the full socket until it is read or closed). Called on
// every transition, when an ACK empties the send buffer and when a read empties the receive
// buffer.
void Connection::release_finished_buffers() {
  if (fin_queued_ && snd_buf_.empty()) snd_buf_.release();
  if (fin_received_) rcv_buf_.release_if_empty();
}

void Connection::enter_closed(Cause cause, Instant now, std::optional<Error> error) {
  if (error && !error_) error_ = error;
  for (auto& t : timers_) t.reset();
  set_state(State::Closed, cause, now);
  events_ |= event::Closed;
  if (error) events_ |= event::Reset;
}

// RFC 9293 §3.10.7.4 eighth (FIN-WAIT-1/FIN-WAIT-2/CLOSING): "Start the time-wait timer,
// turn off the other timers."
void Connection::enter_time_wait(Cause cause, Instant now) {
  for (auto& t : timers_) t.reset();
  set_state(State::TimeWait, cause, now);
  arm(Timer::TimeWait, now + 2 * config_->msl);
}

void Connection::count_drop(std::uint64_t Counters::*counter, std::string_view name, Instant now) {
  ++(context_.counters->*counter);
  if (context_.trace) context_.trace->on_drop(DropEvent{now, context_.id, name});
}

// RFC 9293 §3.10.1 OPEN, active.
Expected<void, Error> Connection::open_active(Instant now, SegmentSink& out) {
  if (state_ != State::Closed) return Unexpected{Error::AlreadyConnected};
  passive_ = false;
  set_state(State::SynSent, Cause::ActiveOpen, now);
  send_syn(now, out, false);
  return {};
}

// RFC 9293 §3.10.1 OPEN, passive.
Expected<void, Error> Connection::open_passive(Instant now) {
  if (state_ != State::Closed) return Unexpected{Error::AlreadyConnected};
  passive_ = true;
  set_state(State::Listen, Cause::PassiveOpen, now);
  return {};
}

std::uint32_t Connection::send_space() const {
  if (fin_queued_) return 0;
  return snd_buf_.free_space();
}

bool Connection::accepts_reincarnation(const Segment& syn) const {
  if (state_ != State::TimeWait || !syn.has(SYN) || syn.has(ACK) || syn.has(RST)) return false;
  if (syn.seq > rcv_nxt_) return true;
  // RFC 6191 §2: with timestamps, a SYN whose TSval is greater than TS.Recent is new.
  return ts_ok_ && syn.options.timestamps &&
         static_cast<std::int32_t>(syn.options.timestamps->value - ts_recent_) > 0;
}

// RFC 9293 §3.10.2 SEND.
Expected<void, Error> Connection::check_send(Instant now, SegmentSink& out) {
  switch (state_) {
    case State::Closed:
      return Unexpected{error_.value_or(Error::NotConnected)};
    case State::Listen:
      // "If the foreign socket is specified, then change the connection from passive to
      // active, select an ISS. Send a SYN segment, set SND.UNA to ISS, SND.NXT to ISS+1."
      passive_ = false;
      set_state(State::SynSent, Cause::SendSyn, now);
      send_syn(now, out, false);
      break;
    case State::SynSent:
    case State::SynReceived:
    case State::Established:
    case State::CloseWait:
      break;  // queue; sent once the window allows
    default:
      // FIN-WAIT-*, CLOSING, LAST-ACK, TIME-WAIT: "error: connection closing".
      return Unexpected{Error::ShutDown};
  }
  if (fin_queued_) return Unexpected{Error::ShutDown};
  return {};
}

Expected<std::size_t, Error> Connection::send(std::span<const std::byte> data, Instant now,
                                              SegmentSink& out, bool then_close) {
  if (auto ok = check_send(now, out); !ok) return Unexpected{ok.error()};
  if (data.empty()) {
    // A SEND of nothing pushes what is queued (what Nagle may now let go, after the
    // application turned it off: Linux's tcp_push_pending_frames on TCP_NODELAY).
    if (is_synchronized(state_)) output(now, out);
    return std::size_t{0};
  }
  std::uint32_t taken = snd_buf_.append(data);
  if (taken == 0) return Unexpected{Error::WouldBlock};
  if (then_close && taken == data.size() &&
      (state_ == State::Established || state_ == State::CloseWait)) {
    (void)close(now, out);  // output() sends the data with the FIN on its last segment
  } else {
    output_or_hold(now, out);
  }
  return std::size_t{taken};
}

Expected<std::size_t, Error> Connection::send_with(const BufferWriter& writer, Instant now,
                                                   SegmentSink& out) {
  if (auto ok = check_send(now, out); !ok) return Unexpected{ok.error()};
  std::uint32_t total = 0;
  bool last = false;
  // The ring may wrap, and grows a step at a time as it fills (ByteRing::writable): a few
  // runs of free space.
  for (int run = 0; run < 4 && !last; ++run) {
    auto space = snd_buf_.writable(snd_buf_.free_space());
    if (space.empty()) break;
    auto wrote = static_cast<std::uint32_t>(std::min(writer(space, last), space.size()));
    snd_buf_.commit(wrote);
    total += wrote;
    if (wrote < space.size()) break;
  }
  if (last && (state_ == State::Established || state_ == State::CloseWait)) {
    (void)close(now, out);  // output() sends the data with the FIN on its last segment
  } else if (total > 0) {
    output_or_hold(now, out);
  }
  return std::size_t{total};
}

// RFC 9293 §3.10.3 RECEIVE.
Expected<std::size_t, Error> Connection::receive(std::span<std::byte> buffer, Instant now,
                                                 SegmentSink& out) {
  if (state_ == State::Listen || state_ == State::SynSent || state_ == State::SynReceived) {
    return Unexpected{Error::WouldBlock};  // "queue for processing after ... ESTABLISHED"
  }
  return after_read(rcv_buf_.read(buffer), now, out);
}

Expected<std::size_t, Error> Connection::receive_with(const BufferReader& reader, Instant now,
                                                      SegmentSink& out) {
  if (state_ == State::Listen || state_ == State::SynSent || state_ == State::SynReceived) {
    return Unexpected{Error::WouldBlock};  // "queue for processing after ... ESTABLISHED"
  }
  const bool had_data = rcv_buf_.readable() > 0;
  std::uint32_t n = rcv_buf_.read_with(reader);
  if (n == 0 && had_data) return Unexpected{Error::WouldBlock};  // the reader took nothing
  return after_read(n, now, out);
}

// Text that came with PSH — the end of what the peer's application wrote — and that the
// application has now read to the last byte is acknowledged at once, not after the
// delayed-ACK time, when the flow is one-way: a second pushed segment with no data of ours
// sent since the first. Such a sender may be holding its next, short segment for this ACK
// (Nagle, RFC 9293 §3.7.4), and with a send buffer under two segments every segment is short
// and would wait for our delayed-ACK timer (issue 10: soak seeds 75497, 81658 and 90587,
// lossless paths with a 2 KiB send buffer, 40 ms per 2 KiB, 118 s for 3.2 MB). Like Linux's
// tcp_cleanup_rbuf() (ICSK_ACK_PUSHED), which does this outside its interactive mode; a
// request answered at once (the first one too, which Linux ACKs in its quick-ACK mode) keeps
// its ACK for the reply, one segment fewer per short connection. RFC 9293 §3.8.6.3 (SHLD-18)
// lets an ACK be delayed, never asks it to be.
bool Connection::ack_for_pushed_text() const {
  return pushed_ && pushes_unanswered_ >= 2 && !pingpong_;
}

Expected<std::size_t, Error> Connection::after_read(std::uint32_t n, Instant now,
                                                    SegmentSink& out) {
  // Issue 11 §4: under a memory budget, a ring the application emptied goes back to it (as
  // Linux frees consumed skbs) rather than staying with an idle connection.
  if (context_.memory || fin_received_) rcv_buf_.release_if_empty();
  if (n == 0) {
    if (fin_received_) return std::size_t{0};  // end of stream
    if (state_ == State::Closed) return Unexpected{error_.value_or(Error::NotConnected)};
    return Unexpected{Error::WouldBlock};
  }
  // The reader emptied the buffer of pushed text whose ACK is being delayed: ACK now.
  if (rcv_buf_.readable() == 0 && ack_for_pushed_text() &&
      (timer(Timer::DelayedAck) || ack_pending_ > 0)) {
    send_ack(now, out);
    return std::size_t{n};
  }
  // Reading opened buffer space: announce it if the window grew enough (receiver SWS
  // avoidance decides in window_to_advertise()).
  if (is_synchronized(state_) && state_ != State::TimeWait && !fin_received_) {
    std::uint32_t offered = static_cast<std::uint32_t>(rcv_adv_ - rcv_nxt_);
    // RFC 9293 §3.8.6.2.2: only a window that can actually grow is worth an update. The
    // window field cannot advertise more than 0xffff << RCV.WIND.SHIFT (RFC 7323 §2.3); an
    // ACK that cannot show more is a duplicate ACK to the peer (RFC 5681 §2).
    const std::uint32_t free = rcv_buf_.free_space();
    const std::uint32_t field_max = 0xffffu << rcv_wscale_;
    std::uint32_t room = std::min(free, field_max);
    std::uint32_t threshold = std::min<std::uint32_t>(rcv_buf_.capacity() / 2, effective_mss());
    // Only a read that opened the window is answered: when the room was already there before
    // it (a SYN,ACK can show at most 65,535 bytes, RFC 7323 §2.2, however large the buffer),
    // the next ACK for data carries the larger window anyway, and a separate update would
    // cost a segment per short connection. Linux decides alike in tcp_cleanup_rbuf(): an
    // update only when the window at least doubles.
    // Except for a sender that may be waiting for it: the sender's SWS rule (§3.8.6.2.1) holds
    // a segment shorter than min(Eff.snd.MSS, Max(SND.WND)/2), and its Max(SND.WND) is at
    // least what our SYN or SYN,ACK offered, min(buffer, 65,535). Below that bound it gets the
    // update on every read that opens the window, so it never waits for its override timer.
    // (The bound, not the MSS alone: with a 64 KiB MSS, MTU 65520, the 65,535 bytes of a
    // SYN,ACK are "less than one MSS" and every short connection would send the update.)
    std::uint32_t room_before = std::min(free - std::min(n, free), field_max);
    std::uint32_t sender_waits_below =
        std::min(threshold, std::min(rcv_buf_.capacity(), 0xffffu) / 2);
    bool opened = room_before < offered + threshold || offered < sender_waits_below;
    if (room >= offered + threshold && opened) {
      send_ack(now, out);
    }
  }
  return std::size_t{n};
}

// RFC 9293 §3.10.4 CLOSE.
Expected<void, Error> Connection::close(Instant now, SegmentSink& out) {
  switch (state_) {
    case State::Closed:
      return Unexpected{error_.value_or(Error::NotConnected)};
    case State::Listen:
      // "Any outstanding RECEIVEs are returned ... delete TCB, enter CLOSED state."
      enter_closed(Cause::CloseDelete, now, std::nullopt);
      return {};
    case State::SynSent:
      // "Delete the TCB and return 'error: closing' responses to any queued SENDs."
      enter_closed(Cause::CloseDelete, now, std::nullopt);
      return {};
    case State::SynReceived:
      // "If no SENDs have been issued and there is no pending data to send, then form a FIN
      // segment and send it, and enter FIN-WAIT-1 state; otherwise, queue for processing
      // after entering ESTABLISHED state." We send the FIN after any queued data.
    case State::Established:
    case State::CloseWait:
      // The FIN follows the queued data (output() sends it once SND.NXT reaches it).
      fin_queued_ = true;
      set_state(state_ == State::CloseWait ? State::LastAck : State::FinWait1, Cause::CloseSndFin,
                now);
      output(now, out);
      return {};
    default:
      // FIN-WAIT-1/2, CLOSING, LAST-ACK, TIME-WAIT: "error: connection closing".
      return Unexpected{Error::ShutDown};
  }
}

// RFC 9293 §3.10.5 ABORT.
void Connection::abort(Instant now, SegmentSink& out) {
  switch (state_) {
    case State::Closed:
      return;
    case State::Listen:
    case State::SynSent:
      enter_closed(Cause::AbortDelete, now, Error::ConnectionAborted);
      return;
    case State::Closing:
    case State::LastAck:
    case State::TimeWait:
      // "Respond with 'ok' and delete the TCB, enter CLOSED state."
      enter_closed(Cause::AbortDelete, now, Error::ConnectionAborted);
      return;
    default:
      // SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT: "Send a reset segment:
      // <SEQ=SND.NXT><CTL=RST>".
      send_rst(acceptable_seq(true), now, out, config_->abort_rst_with_ack);
      enter_closed(Cause::AbortSndRst, now, Error::ConnectionAborted);
      return;
  }
}

ConnectionStatus Connection::status() const {
  ConnectionStatus s;
  s.state = state_;
  s.iss = iss_;
  s.irs = irs_;
  s.snd_una = snd_una_;
  s.snd_nxt = snd_nxt_;
  s.rcv_nxt = rcv_nxt_;
  s.snd_wnd = snd_wnd_;
  s.rcv_wnd = static_cast<std::uint32_t>(std::max(0, rcv_adv_ - rcv_nxt_));
  s.send_queue = snd_buf_.size();
  s.receive_queue = rcv_buf_.readable();
  s.buffer_memory = snd_buf_.allocated_bytes() + rcv_buf_.allocated_bytes();
  s.cwnd = cc_.cwnd();
  s.ssthresh = cc_.ssthresh();
  s.snd_mss = effective_mss();
  s.snd_wscale = snd_wscale_;
  s.rcv_wscale = rcv_wscale_;
  s.window_scale = wscale_ok_;
  s.sack = sack_ok_;
  s.timestamps = ts_ok_;
  s.srtt = rtt_.srtt();
  s.rttvar = rtt_.rttvar();
  s.rto = rtt_.rto();
  s.retransmits = retransmits_;
  s.rto_expirations = rto_expirations_;
  s.fast_retransmits = fast_retransmits_;
  s.undos = undo_ ? undo_->undos() : 0;
  s.bytes_sent = bytes_sent_;
  s.bytes_acked = bytes_acked_;
  s.bytes_received = bytes_received_;
  s.congestion = cc_.algorithm();
  s.pacing_rate = cc_.pacing_rate();
  if (const Bbr* b = cc_.bbr()) {
    ConnectionStatus::BbrModel m;
    m.mode = to_string(b->state());
    m.max_bw = static_cast<std::uint64_t>(b->max_bw());
    m.bw = static_cast<std::uint64_t>(b->bw());
    m.min_rtt = b->min_rtt();
    m.pacing_gain = b->pacing_gain();
    m.cwnd_gain = b->cwnd_gain();
    constexpr auto kUnbounded = std::numeric_limits<std::uint64_t>::max();
    if (b->inflight_hi() != kUnbounded) m.inflight_hi = b->inflight_hi();
    if (b->inflight_lo() != kUnbounded) m.inflight_lo = b->inflight_lo();
    s.bbr = m;
  }
  return s;
}

void Connection::on_icmp_error(Error error, bool hard, Instant now) {
  ++context_.counters->icmp_errors_delivered;
  // RFC 5461 / RFC 1122 §4.2.3.9: hard errors abort a connection still in SYN-SENT; in
  // synchronized states they are reported, not fatal.
  if (state_ == State::SynSent && hard) {
    enter_closed(Cause::IcmpUnreachable, now, error);
  } else if (!error_) {
    soft_error_ = error;
  }
}

// ---------------------------------------------------------------------------------------
// RFC 9293 §3.10.8 timeouts.

void Connection::set_orphaned(Instant now) {
  orphaned_ = true;
  arm_orphan_fin_timeout(now);
}

// Follows Linux (tcp_close, tcp_rcv_state_process): an orphan that is, or comes to be, in
// FIN-WAIT-2 is deleted tcp_fin_timeout later unless the peer's FIN takes it to TIME-WAIT
// first (enter_time_wait() re-arms this slot for 2 MSL).
void Connection::arm_orphan_fin_timeout(Instant now) {
  if (orphaned_ && state_ == State::FinWait2 && config_->orphan_fin_timeout > Duration{0})
    arm(Timer::TimeWait, now + config_->orphan_fin_timeout);
}

std::optional<Instant> Connection::next_deadline() const {
  std::optional<Instant> earliest;
  for (const auto& t : timers_)
    if (t && (!earliest || *t < *earliest)) earliest = t;
  // RFC 8985 §6.3 reordering timer, kept in the Rack (no slot for connections without one).
  if (rack_ && rack_->timer() && (!earliest || *rack_->timer() < *earliest))
    earliest = rack_->timer();
  // draft-ietf-ccwg-bbr §5.6.2: data held back by the pacer (BBR only).
  if (rate_ && rate_->pacer.deadline && (!earliest || *rate_->pacer.deadline < *earliest))
    earliest = rate_->pacer.deadline;
  return earliest;
}

void Connection::on_timer(Instant now, SegmentSink& out) {
  auto due = [&](Timer t) { return timer(t) && *timer(t) <= now; };
  if (due(Timer::TimeWait)) {
    disarm(Timer::TimeWait);
    if (state_ == State::FinWait2) {
      // An orphan's FIN-WAIT-2 ran out (arm_orphan_fin_timeout()): deleted without a word,
      // as Linux's timewait socket in its FIN-WAIT-2 substate expires.
      ++context_.counters->tcp_orphan_timeouts;
      enter_closed(Cause::TimeoutFinWait2, now, std::nullopt);
      return;
    }
    // "If the time-wait timeout expires on a connection, delete the TCB, enter the CLOSED
    // state."
    enter_closed(Cause::Timeout2Msl, now, std::nullopt);
    return;
  }
  // RFC 8985 §6.3: the reordering timer.
  if (rack_ && rack_->timer() && *rack_->timer() <= now) {
    on_rack_timeout(now, out);
    if (state_ == State::Closed) return;
  }
  // RFC 8985 §7.2-7.3: the PTO before the RTO; due together, the probe goes and rearms the RTO.
  if (due(Timer::Probe)) {
    disarm(Timer::Probe);
    on_loss_probe_timeout(now, out);
  }
  if (due(Timer::Retransmit)) {
    disarm(Timer::Retransmit);
    // RFC 8985 §7: an RTO ends any TLP episode; no probe until new data or a new ACK.
    disarm(Timer::Probe);
    tlp_end_.reset();
    on_retransmit_timeout(now, out);
    if (state_ == State::Closed) return;
  }
  if (due(Timer::Persist)) {
    disarm(Timer::Persist);
    on_persist_timeout(now, out);
  }
  if (due(Timer::Keepalive)) {
    disarm(Timer::Keepalive);
    on_keepalive_timeout(now, out);
    if (state_ == State::Closed) return;
  }
  if (due(Timer::DelayedAck)) {
    disarm(Timer::DelayedAck);
    ++context_.counters->tcp_delayed_acks;
    pingpong_ = false;  // follows Linux (tcp_delack_timer_handler): a missed delayed ACK ends it
    send_ack(now, out);
  }
  // The pacing time came (BBR): send what the windows allow.
  if (rate_ && rate_->pacer.deadline && *rate_->pacer.deadline <= now) {
    rate_->pacer.deadline.reset();
    output(now, out);
  }
}

void Connection::on_rack_timeout(Instant now, SegmentSink& out) {
  ++context_.counters->tcp_rack_reorder_timeouts;
  rack_->disarm_timer();
  // §6.3: "RACK_detect_loss_and_arm_timer()"; a loss starts fast recovery, whose first
  // retransmission PRR allows at once (RFC 6937 §3, as on the ACK that starts it).
  bool was_sack = loss_.phase() == Recovery::Sack;
  rack_detect_loss(false, now, out);
  if (loss_.phase() == Recovery::Sack && !was_sack) apply_prr(0);
  output(now, out);
}

// RFC 6298 §5.7 (MUST): "If the timer expires awaiting the ACK of a SYN segment and the TCP
// implementation is using an RTO less than 3 seconds, the RTO MUST be re-initialized to 3
// seconds when data transmission begins (i.e., after the three-way handshake completes)."
// Off in the linux profile (TcpConfig::rto_after_syn_timeout).
Duration Connection::rto_without_srtt() const {
  const Duration fallback = config_->rto_after_syn_timeout;
  if (syn_timed_out_ && fallback > Duration{0} && config_->rto_initial < fallback) return fallback;
  return config_->rto_initial;
}

void Connection::begin_data_transfer() {
  if (!syn_timed_out_ || config_->rto_after_syn_timeout == Duration{0}) return;
  if (config_->rto_initial < config_->rto_after_syn_timeout)
    rtt_.syn_timeout_fallback(config_->rto_after_syn_timeout);  // §5.7, when no sample was taken
  // A sample the handshake gave after a timeout may span the peer's backoff as well
  // (rtt_estimator.hpp, treat_as_provisional()).
  rtt_.treat_as_provisional(config_->rto_after_syn_timeout);
}

void Connection::on_retransmit_timeout(Instant now, SegmentSink& out) {
  if (is_synchronized(state_) && snd_wnd_ == 0 && snd_una_ != iss_) {
    // The peer's window is closed: what is outstanding is a window probe or data the peer
    // has no room for. Probe with the persist timer (RFC 9293 §3.8.6.1) instead of
    // retransmitting into the zero window and counting toward R2.
    if (!timer(Timer::Persist)) arm(Timer::Persist, now + rtt_.rto());
    return;
  }
  ++rto_expirations_;
  ++context_.counters->tcp_rto_expirations;
  ++retries_;
  if (!first_unacked_retransmit_) first_unacked_retransmit_ = now;
  bool handshake = state_ == State::SynSent || state_ == State::SynReceived;
  std::uint8_t limit = !handshake ? config_->data_retries
                       : state_ == State::SynReceived
                           ? config_->synack_retries.value_or(config_->syn_retries)
                           : config_->syn_retries;
  // An orphan's retransmissions keep R2 — not Linux's shorter tcp_orphan_retries (about
  // 100 s, data and FIN alike): close() after write() is how an application hands TCP its
  // last bytes, and on a bad path they and the FIN may need the time (a 100 s limit, tried on
  // 2026-12-06, gave up an orphan's last 39 KB at 15 % loss each way, soak seed 2364, and a
  // FIN at 27 %, leaving the peer in FIN-WAIT-2, seed 65903). R2 bounds it all the same.
  bool user_timeout_passed = config_->user_timeout > Duration{0} &&
                             now - *first_unacked_retransmit_ >= config_->user_timeout;
  // RFC 9293 §3.8.3: at R2 (a count of retransmissions here, or the user timeout) close
  // the connection and tell the application why.
  if (retries_ > limit || user_timeout_passed) {
    ++context_.counters->tcp_timeouts;
    Cause cause = handshake ? Cause::TimeoutSynRetries : Cause::TimeoutR2;
    enter_closed(cause, now, soft_error_.value_or(Error::TimedOut));
    return;
  }
  // RFC 6298 §5.5: back off the timer; §5.4: retransmit the earliest unacknowledged segment.
  // Follows Linux (tcp_syn_linear_timeouts): the first SYN retransmissions do not back off.
  if (!(state_ == State::SynSent && retries_ <= config_->syn_linear_timeouts)) rtt_.backoff();
  timed_seq_.reset();  // Karn: no sample from a retransmitted segment
  if (handshake) syn_timed_out_ = true;
  if (state_ == State::SynSent) {
    send_syn(now, out, true);
    return;
  }
  if (state_ == State::SynReceived) {
    send_syn(now, out, true);
    return;
  }
  if (snd_una_ == iss_) {
    // RFC 9293 §3.10.4: a CLOSE in SYN-RECEIVED sends the FIN (FIN-WAIT-1) before our SYN
    // is acknowledged; the head of the retransmission queue is still the SYN,ACK (RFC 6298
    // §5.4), which retransmit_first() cannot send (it holds no data).
    send_syn(now, out, true);
    return;
  }
  if (flight_size() == 0) return;
  rto_retransmit_at_ = now;  // retransmit_first() below, in every branch
  // RFC 5681 §3.1 eq. 4 and RFC 6582 §4: leave fast recovery, cwnd = 1 SMSS.
  undo_on_reduction(true, now);  // spurious_retransmit.cpp (and F-RTO's step 1)
  cc_.on_rto(flight_size(), now);
  loss_.retransmit_log().clear();
  loss_.reset_dup_acks();
  loss_.set_recover(snd_max_);
  // RFC 2018 §8 feared the receiver may have reneged. RFC 6675 §5.1 keeps the scoreboard
  // across a timeout given a reneging test: Linux's (tcp_check_sack_reneging) — SACKed data
  // at SND.UNA that the cumulative ACK does not cover — clears it here.
  if (loss_.scoreboard().sacked_range_at_or_after(snd_una_) &&
      loss_.scoreboard().sacked_range_at_or_after(snd_una_)->first == snd_una_) {
    ++context_.counters->tcp_sack_reneging;
    loss_.scoreboard().clear();
  }
  if (use_rack() && rack_) {
    // RFC 8985 §6.3 upon RTO: the first segment is lost, the others when sent RACK.rtt +
    // reo_wnd ago (reo_wnd is 0 in recovery after an RTO unless reordering was seen). They
    // are resent as cwnd allows (output()), lost retransmissions found by time.
    if (loss_.scoreboard().empty()) rack_->forget_sacks();
    loss_.set_phase(Recovery::Loss);
    Duration reo_wnd =
        rack_->update_reo_wnd(false, snd_una_, snd_max_, true, loss_.scoreboard().sacked_bytes(),
                              effective_mss(), rtt_.srtt());
    context_.counters->tcp_rack_lost_bytes += rack_->on_rto(snd_una_, now, reo_wnd);
    loss_.set_high_rxt(retransmit_first(now, out));
    return;
  }
  if (sack_ok_ && !loss_.scoreboard().empty()) {
    // RFC 6675 §5.1 / RFC 8985 §6.3: every unSACKed octet below RecoveryPoint is lost; the
    // holes are resent as NextSeg and cwnd allow, never what the peer holds — and a
    // retransmission lost again is found by SACK (RFC 8985 §6.2), not by another RTO.
    loss_.set_phase(Recovery::Loss);
    loss_.scoreboard().mark_lost_below(loss_.recover());
    loss_.set_high_rxt(retransmit_first(now, out));  // HighRxt restarts: every hole goes again
    loss_.retransmit_log().on_retransmit(snd_una_, loss_.high_rxt(), snd_max_);
    return;
  }
  // Without SACK information: go back N from SND.UNA.
  loss_.set_phase(Recovery::Open);
  snd_nxt_ = snd_una_;
  retransmit_first(now, out);
}

// RFC 9293 §3.8.6.1 (MUST-36, MUST-37): probe a zero window with one octet, backing off,
// and never give up while the peer keeps answering the probes. The same timer is the
// sender SWS override of §3.8.6.2.1 (MUST-38): a short, window-limited segment held back with
// nothing in flight goes out when it fires.
void Connection::on_persist_timeout(Instant now, SegmentSink& out) {
  if (snd_wnd_ != 0) {
    force_send_ = true;
    output(now, out);
    force_send_ = false;
    return;
  }
  // Only probes nobody answers count toward R2; any acceptable ACK resets the count.
  if (unanswered_probes_ >= config_->data_retries) {
    ++context_.counters->tcp_timeouts;
    enter_closed(Cause::TimeoutR2, now, soft_error_.value_or(Error::TimedOut));
    return;
  }
  // The last probe drew an answer (any acceptable ACK resets the count) and we are still
  // probing: the answer showed a zero window.
  if (persist_backoff_ > 0 && unanswered_probes_ == 0 && zero_window_answers_ < 255)
    ++zero_window_answers_;
  // Follows Linux (tcp_probe_timer, b248230c): MUST-37 keeps a connection open while its
  // probes are answered — for an application waiting to send; RFC 9293 §3.8.6.1 leaves it
  // "subject to the implementation's resource management concerns". An orphan whose probes
  // drew orphan_retries zero-window answers since the window closed is given up: nobody is
  // waiting, and a receiver that never opens would otherwise hold it for ever. Linux counts
  // every probe; here a probe or answer lost on the way does not count (it counts toward R2,
  // above): at 27 % loss each way, a reader taking 1 KiB a minute opened its window while the
  // probes and the updates were lost, and an orphan counting every probe gave up its FIN and
  // last 588 octets (soak seed 65903).
  if (orphaned_ && config_->orphan_retries > 0 && zero_window_answers_ >= config_->orphan_retries) {
    ++context_.counters->tcp_timeouts;
    ++context_.counters->tcp_orphan_timeouts;
    enter_closed(Cause::TimeoutR2, now, soft_error_.value_or(Error::TimedOut));
    return;
  }
  ++unanswered_probes_;
  // Octets not yet sent: none once SND.NXT is past the FIN (the FIN is what is outstanding;
  // FIN sequence - SND.NXT would wrap to 2^32 - 1 and "probe" beyond the send buffer).
  std::uint32_t unsent =
      snd_nxt_ < fin_seq() ? static_cast<std::uint32_t>(fin_seq() - snd_nxt_) : 0;
  ++context_.counters->tcp_window_probes;
  if (config_->zero_window_probe_empty) {
    // Follows Linux (tcp_xmit_probe_skb): an old sequence number draws an ACK (§3.10.7.4).
    Segment probe;
    probe.seq = snd_una_ - 1;
    probe.flags = ACK;
    emit(probe, now, out);
  } else if (snd_nxt_ != snd_una_ && snd_buf_.size() > 0) {
    send_data_segment(snd_una_, 1, false, now, out, true);
  } else if (unsent > 0) {
    send_data_segment(snd_nxt_, 1, false, now, out, false);
    snd_nxt_ += 1;
    snd_max_ = seq_max(snd_max_, snd_nxt_);
    probe_end_ = snd_nxt_;
  } else if (fin_queued_) {
    // Only our FIN is left: RFC 9293 §3.8.6.1 (MUST-36) "transmit at least one octet of new
    // data (if available), or retransmit": the FIN, which occupies a sequence number, is the
    // probe. A receiver whose window is still zero finds it unacceptable and answers with an
    // ACK that carries its window (§3.10.7.4); one whose window has opened — an update we
    // never saw, or one that arrived before an older zero-window ACK reordered behind it —
    // takes it. A bare ACK at SND.NXT (what this was until 2026-12-06) is acceptable and
    // draws no answer: soak seed 111889 waited in LAST-ACK against FIN-WAIT-2 for ever.
    const bool resend = fin_sent();
    send_data_segment(fin_seq(), 0, true, now, out, resend);
    if (!resend) {
      snd_nxt_ = fin_seq() + 1;
      snd_max_ = seq_max(snd_max_, snd_nxt_);
      probe_end_ = snd_nxt_;
    }
  } else {
    send_ack(now, out);
  }
  // The probe is paced by the persist timer, not the retransmission timer (whose expiries
  // would count toward R2 although the peer answers).
  disarm(Timer::Retransmit);
  if (persist_backoff_ < 16) ++persist_backoff_;
  Duration interval =
      std::min(rtt_.rto() * (1 << std::min<int>(persist_backoff_, 10)), Duration{60s});
  arm(Timer::Persist, now + interval);
}

// RFC 9293 §3.8.4: after keepalive_idle without activity send <SEQ=SND.NXT-1> with no
// data; after keepalive_probes unanswered probes, close.
void Connection::on_keepalive_timeout(Instant now, SegmentSink& out) {
  if (!config_->keepalive || !is_synchronized(state_) || state_ == State::TimeWait) return;
  // RFC 9293 §3.8.4 (MUST-26): keep-alives only on an idle connection — with data
  // outstanding or queued, the retransmission and persist timers watch the peer.
  if (flight_size() > 0 || snd_nxt_ < fin_seq()) {
    arm(Timer::Keepalive, now + config_->keepalive_idle);
    return;
  }
  if (keepalive_sent_ >= config_->keepalive_probes) {
    ++context_.counters->tcp_timeouts;
    // Follows Linux (tcp_keepalive_timer): tell the peer, should it still be there.
    if (config_->reset_on_keepalive_timeout) send_rst(acceptable_seq(true), now, out, true);
    enter_closed(Cause::TimeoutKeepalive, now, Error::TimedOut);
    return;
  }
  ++keepalive_sent_;
  ++context_.counters->tcp_keepalive_probes;
  Segment probe;
  probe.seq = snd_max_ - 1;  // RFC's SND.NXT - 1: our snd_max_ (snd_nxt_ may be rewound)
  probe.flags = ACK;
  emit(probe, now, out);
  arm(Timer::Keepalive, now + config_->keepalive_interval);
}

}  // namespace synack::tcp
