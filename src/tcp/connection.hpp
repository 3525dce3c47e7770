// SPDX-License-Identifier: MIT
// One TCP connection: the TCB of RFC 9293 §3.3.1 and the event processing of §3.10.
// Sans-I/O: every entry point takes `now` and a SegmentSink for what it sends; the driver
// asks next_deadline() when to call on_timer(). No clock, socket or RNG is touched here.
#pragma once

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "synack/buffer_access.hpp"
#include "synack/config.hpp"
#include "synack/counters.hpp"
#include "synack/error.hpp"
#include "synack/expected.hpp"
#include "synack/seqnum.hpp"
#include "synack/state.hpp"
#include "synack/status.hpp"
#include "synack/trace.hpp"
#include "tcp/byte_ring.hpp"
#include "tcp/congestion/any_congestion_control.hpp"
#include "tcp/cwnd_use.hpp"
#include "tcp/loss_recovery.hpp"
#include "tcp/maybe_instant.hpp"
#include "tcp/rack.hpp"
#include "tcp/rate_limit.hpp"
#include "tcp/receive_buffer.hpp"
#include "tcp/rtt_estimator.hpp"
#include "tcp/sack_scoreboard.hpp"
#include "tcp/segment.hpp"
#include "tcp/spurious_retransmit.hpp"
#include "tcp/transitions.hpp"

namespace synack::tcp {

// Where a connection reports: the stack's counters and trace, and its id there.
struct ConnectionContext {
  Counters* counters = nullptr;  // required: a Connection asserts it is not null
  TraceSink* trace = nullptr;    // may be null
  ConnectionId id = 0;
  // The stack-wide limit on ACKs to unacceptable segments (RFC 5961 §7); may be null.
  PerSecondLimit* invalid_ack_limit = nullptr;
  // Issue 11 §4: the send and receive rings are charged to it; may be null (unbounded).
  MemoryBudget* memory = nullptr;
};

// A connection's configuration, shared: every connection a stack makes with the same settings
// points at one TcpConfig instead of holding a 160-byte copy (issue 14: memory per idle
// connection ≤ 1 KiB). Made from a TcpConfig (a private copy) or from a stack's shared one; a
// connection that changes its own settings (keep-alive, TCP_NODELAY, ...) copies it first.
class SharedTcpConfig {
 public:
  SharedTcpConfig(const TcpConfig& config)  // NOLINT(google-explicit-constructor): a copy
      : config_(std::make_shared<TcpConfig>(config)) {}
  SharedTcpConfig(std::shared_ptr<TcpConfig> config)  // NOLINT(google-explicit-constructor)
      : config_(std::move(config)) {}
  const TcpConfig* operator->() const { return config_.get(); }
  const TcpConfig& operator*() const { return *config_; }
  // Copy-on-write: the connection's own TcpConfig, copied first if anyone else holds it.
  TcpConfig& edit() {
    if (config_.use_count() != 1) config_ = std::make_shared<TcpConfig>(*config_);
    return *config_;
  }

 private:
  std::shared_ptr<TcpConfig> config_;
};

class Connection {
 public:
  // A connection between `local` and `remote`; starts in CLOSED. `isn` is this side's ISS,
  // chosen by the caller (RFC 6528, see IsnGenerator). `ts_offset` randomizes TSval (RFC 7323
  // §5.4).
  Connection(SharedTcpConfig config, ConnectionContext context, wire::Endpoint local,
             wire::Endpoint remote, SeqNum isn, std::uint32_t ts_offset);

  // A child of a listener: born in LISTEN (its listener's CLOSED -> LISTEN is traced by the
  // listener), marked passive so that an RST in SYN-RECEIVED returns it to LISTEN.
  static Connection for_listener(SharedTcpConfig config, ConnectionContext context,
                                 wire::Endpoint local, wire::Endpoint remote, SeqNum isn,
                                 std::uint32_t ts_offset);

  // RFC 4987 §3.6: what a valid SYN cookie restores (see tcp/syn_cookie.hpp).
  struct CookieState {
    SeqNum iss;  // the cookie: SEG.ACK - 1 of the ACK that returned it
    SeqNum irs;  // the peer's ISN: SEG.SEQ - 1
    std::uint16_t peer_mss = 536;
    std::optional<std::uint8_t> snd_wscale;  // the peer's shift; nullopt: no window scaling
    bool sack = false;
    bool timestamps = false;
    std::uint32_t ts_recent = 0;  // the returning ACK's TSval
  };
  // A listener's child rebuilt from a valid SYN cookie: in SYN-RECEIVED (LISTEN -> SYN-RECEIVED
  // is traced) as if it had sent the cookie SYN,ACK itself, with the options the cookie kept
  // and no retransmission timer (the SYN,ACK is not ours to resend). The ACK that returned
  // the cookie is then handed to on_segment() and completes the handshake the ordinary way
  // (§3.10.7.4 fifth, SYN-RECEIVED), data and FIN included — as Linux builds a request sock
  // from the cookie and lets tcp_check_req() finish it.
  static Connection from_syn_cookie(SharedTcpConfig config, ConnectionContext context,
                                    wire::Endpoint local, wire::Endpoint remote,
                                    const CookieState& cookie, std::uint32_t ts_offset,
                                    Instant now);

  // RFC 9293 §3.10.1 OPEN, active: CLOSED -> SYN-SENT, sends SYN.
  // Errors: AlreadyConnected unless CLOSED.
  Expected<void, Error> open_active(Instant now, SegmentSink& out);
  // RFC 9293 §3.10.1 OPEN, passive: CLOSED -> LISTEN. Errors: AlreadyConnected unless CLOSED.
  Expected<void, Error> open_passive(Instant now);

  // RFC 9293 §3.10.2 SEND: queues what fits in the send buffer, returns how much was taken.
  // In LISTEN, turns the connection active (LISTEN -> SYN-SENT). Errors: ShutDown after
  // close(); WouldBlock when the buffer is full; ConnectionReset/TimedOut/... once failed;
  // NotConnected when CLOSED.
  // then_close: when all of `data` was taken, CLOSE follows at once, so that the FIN rides
  // on the last data segment instead of a segment of its own.
  Expected<std::size_t, Error> send(std::span<const std::byte> data, Instant now, SegmentSink& out,
                                    bool then_close = false);

  // RFC 9293 §3.10.3 RECEIVE: copies in-order data out; may send a window update. Returns 0
  // at end of stream (after the peer's FIN). Errors: WouldBlock when nothing is there yet;
  // the connection's error once failed; NotConnected in CLOSED/LISTEN.
  Expected<std::size_t, Error> receive(std::span<std::byte> out, Instant now, SegmentSink& sink);
  // RECEIVE without a copy: in-order data handed to `reader` where it lies in the receive
  // buffer. As receive(); also WouldBlock when data was there but the reader took none.
  Expected<std::size_t, Error> receive_with(const BufferReader& reader, Instant now,
                                            SegmentSink& sink);
  // SEND without a copy: `writer` fills the send buffer in place. As send(); returns 0 (not
  // WouldBlock) when the writer wrote nothing into free space. A writer that sets `last`
  // closes the sending side after its bytes (then_close) in ESTABLISHED and CLOSE-WAIT; in
  // other states `last` is ignored and the caller closes once established (as send_last).
  Expected<std::size_t, Error> send_with(const BufferWriter& writer, Instant now, SegmentSink& out);

  // RFC 9293 §3.10.4 CLOSE: "I have no more data to send" — a FIN after the queued data. The
  // receive side stays open (half-close). Errors: ShutDown if already closing; NotConnected
  // in CLOSED.
  Expected<void, Error> close(Instant now, SegmentSink& out);

  // RFC 9293 §3.10.5 ABORT: RST in synchronized states, then CLOSED.
  void abort(Instant now, SegmentSink& out);

  // RFC 9293 §3.10.7 SEGMENT ARRIVES, for a segment addressed to this connection's 4-tuple.
  void on_segment(const Segment& segment, Instant now, SegmentSink& out);

  // The output held during a batch (TcpConfig::batch_output, SegmentSink::batch()), sent
  // now; nothing when none is held.
  void flush_held(Instant now, SegmentSink& out);

  // RFC 9293 §3.10.8 timeouts (retransmission, TIME-WAIT, delayed ACK, persist, keepalive).
  void on_timer(Instant now, SegmentSink& out);
  std::optional<Instant> next_deadline() const;

  // An ICMP error for this connection (RFC 9293 §3.9.2.2 / RFC 5461): in SYN-SENT a
  // port-unreachable fails the connection with `error`; otherwise it is noted only.
  void on_icmp_error(Error error, bool hard, Instant now);

  State state() const { return state_; }
  bool passive() const { return passive_; }
  const wire::Endpoint& local() const { return local_; }
  const wire::Endpoint& remote() const { return remote_; }
  ConnectionId id() const { return context_.id; }
  std::optional<Error> error() const { return error_; }
  ConnectionStatus status() const;
  std::uint8_t take_events() {
    auto e = events_;
    events_ = 0;
    return e;
  }
  std::uint32_t send_space() const;
  // RFC 9293 §3.6.1 (MAY-2) with RFC 6191: a SYN that may reopen this connection from
  // TIME-WAIT — its sequence number lies beyond RCV.NXT, or (timestamps in use) its TSval
  // is newer than TS.Recent — so it cannot be an old duplicate of this incarnation.
  bool accepts_reincarnation(const Segment& syn) const;
  // The lowest ISN the new incarnation may use: beyond every sequence number this one used
  // (condition (1) of MAY-2), with a window's room, as Linux does.
  SeqNum reincarnation_isn_floor() const { return snd_max_ + 65537; }
  std::uint32_t readable() const { return rcv_buf_.readable(); }
  bool write_shut() const { return fin_queued_; }
  void set_no_delay(bool on) { config_.edit().no_delay = on; }
  // In-order text that would land in an empty receive buffer is offered to `reader` first
  // (deliver_direct()); nullptr turns it off. The reader is called from input(), must not
  // call back into the connection, and must outlive its use here.
  void set_direct_reader(const BufferReader* reader) { direct_reader_ = reader; }
  // RFC 9293 §3.8.4 (MUST-24, MUST-27): keep-alives on or off for this connection, with its
  // idle time, probe interval and probe count.
  void set_keepalive(bool on, Duration idle, Duration interval, std::uint8_t probes, Instant now);
  // RFC 9293 §3.8.3 (MUST-21): R2 for this connection, as backed-off retransmissions and/or a
  // time (0 = none).
  void set_user_timeout(std::uint8_t data_retries, Duration user_timeout) {
    TcpConfig& c = config_.edit();
    c.data_retries = data_retries;
    c.user_timeout = user_timeout;
  }
  void set_congestion(CongestionAlgorithm a);
  // The application has closed the connection and holds no handle to it (Stack::close): an
  // orphan, given up sooner than a connection someone waits for (TcpConfig::orphan_retries,
  // orphan_fin_timeout; Linux's bounds). Not undone.
  void set_orphaned(Instant now);
  // BBR's model and the rate estimator behind it (null for the other algorithms): for tests
  // and status.
  const Bbr* bbr() const { return cc_.bbr(); }
  const RateState* rate_state() const { return rate_.get(); }
  void set_context(ConnectionContext context) {
    assert(context.counters && "ConnectionContext::counters is required");
    context_ = context;
    snd_buf_.set_budget(context.memory);
    rcv_buf_.set_budget(context.memory);
  }

  // RFC 9293 §3.10.7.1: the RST answering a segment that reaches no connection.
  static std::optional<Segment> reset_for(const Segment& in);

 private:
  enum class Timer : std::uint8_t {
    Retransmit,
    TimeWait,
    DelayedAck,
    Persist,
    Keepalive,
    Probe,  // RFC 8985 §7.2 PTO
    Count
  };

  // --- state changes: the one function every transition goes through ---
  // (state_, to, cause) must be a row of kTransitions (tcp/transitions.hpp).
  void set_state(State to, Cause cause, Instant now);
  // Buffers no more data can enter, given back once empty (connection.cpp).
  void release_finished_buffers();
  // The handshake is done and data transmission begins (RFC 6298 §5.7).
  void begin_data_transfer();
  void enter_closed(Cause cause, Instant now, std::optional<Error> error);
  void enter_time_wait(Cause cause, Instant now);

  // --- input steps (connection_input.cpp) ---
  void on_segment_listen(const Segment& seg, Instant now, SegmentSink& out);
  void on_segment_syn_sent(const Segment& seg, Instant now, SegmentSink& out);
  bool check_sequence(const Segment& seg, Instant now, SegmentSink& out);
  bool check_rst(const Segment& seg, Instant now, SegmentSink& out);
  // An RST one below RCV.NXT after the peer's FIN (Linux's tcp_reset_check()).
  bool resets_after_peer_fin(const Segment& seg) const;
  bool check_syn(const Segment& seg, Instant now, SegmentSink& out);
  bool process_ack(const Segment& seg, Instant now, SegmentSink& out);
  void process_text(const Segment& seg, Instant now, SegmentSink& out);
  void process_fin(Instant now, SegmentSink& out);
  // Whether reading pushed text to its end owes the peer an ACK at once (connection.cpp).
  bool ack_for_pushed_text() const;
  // Whether the ACK an out-of-order segment owes may wait for the batch's end (Linux's SACK
  // compression); counts it either way.
  bool compress_sack();
  // Offers in-order text to the direct reader; returns what it left, `seq` moved past what it
  // took.
  std::span<const std::byte> deliver_direct(SeqNum& seq, std::span<const std::byte> payload,
                                            Instant now, SegmentSink& out);
  void apply_peer_syn_options(const Segment& seg);
  void update_send_window(const Segment& seg, Instant now);
  void handle_new_ack(const Segment& seg, Instant now, SegmentSink& out);
  void handle_duplicate_ack(const Segment& seg, bool new_sack_info);
  void enter_recovery(Instant now, SegmentSink& out);
  void take_rtt_sample(const Segment& seg, Instant now);
  // The RTO before any backoff while no RTT was measured: RFC 6298 §2.1, §5.7.
  Duration rto_without_srtt() const;
  void update_ts_recent(const Segment& seg);
  void count_drop(std::uint64_t Counters::*counter, std::string_view name, Instant now);

  // SEND's checks (RFC 9293 §3.10.2) before data is queued.
  Expected<void, Error> check_send(Instant now, SegmentSink& out);
  // After data was taken from the receive buffer: the memory budget, end of stream, and a
  // window update when the window grew enough.
  Expected<std::size_t, Error> after_read(std::uint32_t n, Instant now, SegmentSink& out);

  // --- output (connection_output.cpp) ---
  void output(Instant now, SegmentSink& out);
  // output(), or, inside a batch, a promise of it at the batch's end (flush_held()).
  void output_or_hold(Instant now, SegmentSink& out);
  void send_syn(Instant now, SegmentSink& out, bool retransmission);
  void send_ack(Instant now, SegmentSink& out);
  // An ACK in reply to an unacceptable segment or a challenge (RFC 5961 §7): sent unless the
  // rate limits say no. Returns whether it was sent.
  // `data_exempt`: a segment with data (and no SYN) is answered at once, not limited; false
  // for the RFC 5961 §5.2 ACK checks, whose reply is a challenge ACK whatever the segment
  // carries (Linux's tcp_send_challenge_ack).
  bool send_invalid_reply_ack(const Segment& seg, Instant now, SegmentSink& out,
                              bool data_exempt = true);
  // The rate limits of such replies (per connection, then the stack's): whether one may go
  // now; a refusal is counted (tcp_invalid_acks_suppressed).
  bool invalid_reply_allowed(Instant now);
  // for_rst: an RST's sequence number (never beyond the peer's window, see the definition).
  SeqNum acceptable_seq(bool for_rst = false) const;
  void send_rst(SeqNum seq, Instant now, SegmentSink& out, bool with_ack = false);
  void send_data_segment(SeqNum seq, std::uint32_t len, bool fin, Instant now, SegmentSink& out,
                         bool retransmission);
  void emit(Segment& seg, Instant now, SegmentSink& out);
  std::uint16_t window_to_advertise();
  std::uint32_t ts_now(Instant now) const;
  // Returns the end of what it sent (SND.UNA when nothing).
  SeqNum retransmit_first(Instant now, SegmentSink& out);
  bool sack_retransmit_next(Instant now, SegmentSink& out);
  bool resend_lost_retransmission(Instant now, SegmentSink& out);
  std::optional<SeqNum> retransmit_hole(SeqNum start, std::uint32_t length, Instant now,
                                        SegmentSink& out);
  std::uint32_t recovery_pipe(std::uint32_t mss) const;
  // RFC 6937 §3 on every ACK of SACK recovery: cwnd = pipe + sndcnt.
  void apply_prr(std::uint32_t delivered);
  bool fin_sent() const;
  SeqNum fin_seq() const { return snd_buf_seq_ + snd_buf_.size(); }
  std::uint32_t flight_size() const { return static_cast<std::uint32_t>(snd_max_ - snd_una_); }
  // Cwnd validation (TcpConfig::cwnd_validation, tcp/cwnd_use.hpp): may this ACK grow cwnd?
  bool may_grow_cwnd() const {
    return !config_->cwnd_validation ||
           cwnd_use_.allows_growth(cc_.cwnd(), cc_.cwnd() < cc_.ssthresh());
  }
  // New data acknowledged outside fast recovery: cwnd grows if it may; if not, or once the
  // flight has drained (the sender idles), a clock-driven algorithm stops its clock
  // (RFC 9438 §5.8, CongestionControl::on_growth_held()).
  void grow_cwnd(std::uint32_t acked, Instant now) {
    if (may_grow_cwnd())
      cc_.on_ack(acked, now, rtt_.srtt());
    else
      cc_.on_growth_held(now);
    if (snd_una_ == snd_max_) cc_.on_growth_held(now);
  }
  // What a fast retransmit's reduction starts from: FlightSize (RFC 5681 §3.2 eq. 4, RFC 9438
  // §4.6), or for CUBIC with cwnd validation the window itself, as RFC 9438 §4.6 allows with
  // validation and Linux's and Windows' CUBIC do (TcpConfig::cwnd_validation).
  std::uint32_t reduction_basis() const {
    if (config_->cwnd_validation && cc_.algorithm() == CongestionAlgorithm::Cubic)
      return std::max(flight_size(), cc_.cwnd());
    return flight_size();
  }
  std::uint32_t effective_mss() const;
  std::uint16_t announced_mss() const;
  std::uint32_t sack_option_bytes() const;
  void arm(Timer t, Instant at) { timers_[static_cast<int>(t)] = at; }
  void disarm(Timer t) { timers_[static_cast<int>(t)].reset(); }
  const std::optional<Instant>& timer(Timer t) const { return timers_[static_cast<int>(t)]; }
  void restart_retransmit_timer(Instant now);
  // RFC 5681 §4.1: new data about to leave an idle connection (connection_output.cpp).
  void restart_after_idle(Instant now);
  // batchable: an ACK owed at once that may still wait for the end of a batch (output_or_hold).
  void schedule_ack(Instant now, SegmentSink& out, bool immediately, bool batchable = false);
  void note_data_arrival(Instant now);

  // --- tail loss probe, RFC 8985 §7 (tail_loss_probe.cpp) ---
  // §7.2: (re)arm the PTO after new data went out or new data was acknowledged; disarm it when
  // no probe may be sent.
  void schedule_loss_probe(Instant now);
  bool may_probe_in_recovery() const;
  // §7.3: the PTO fired: send the last segment again and arm the RTO.
  void on_loss_probe_timeout(Instant now, SegmentSink& out);
  // After a probe went out: the RTO (§7.3) and, in a recovery, the next probe's PTO.
  void after_probe(bool again, Instant now);
  // §7.4: an ACK during a TLP episode — a D-SACK of the probe, the episode's end, or a SACK of
  // the probe showing the older segments lost (then fast recovery starts).
  // cwnd_before: the window before this ACK grew it (a repair reduces from it).
  void on_loss_probe_ack(const Segment& seg, std::uint32_t cwnd_before, Instant now,
                         SegmentSink& out);
  std::optional<SeqNum> tlp_end_;    // TLP.end_seq: SND.MAX when the probe went out
  SeqNum tlp_start_;                 // first octet the probe carried
  bool tlp_is_retrans_ = false;      // TLP.is_retrans: the probe was a retransmission
  bool tlp_in_recovery_ = false;     // sent during a recovery (TcpConfig::recovery_probe)
  std::uint8_t episode_probes_ = 0;  // probes the open episode has sent
  // TcpConfig::loss_probes_per_episode: a probe whose episode is still open may be followed
  // by another (tail_loss_probe.cpp).
  bool may_probe_again() const;

  // --- RACK, RFC 8985 §6 (rack.hpp; driven from connection_input.cpp and connection.cpp) ---
  // RACK decides what is lost when SACK is in use and TcpConfig::loss_detection is Rack.
  bool use_rack() const { return sack_ok_ && config_->loss_detection == LossDetection::Rack; }
  // §6.2 steps 1-3 for an ACK (before SND.UNA moves).
  void rack_on_ack(const Segment& seg, bool dsack, Instant now);
  // §6.2 steps 4-5: reo_wnd, detect_loss and the reordering timer; the first loss starts
  // fast recovery (§9.3). Returns whether recovery started.
  bool rack_detect_loss(bool dsack, Instant now, SegmentSink& out);
  // §6.3: the reordering timer fired.
  void on_rack_timeout(Instant now, SegmentSink& out);
  // NextSeg under RACK: the first segment marked lost, as cwnd - pipe allows.
  bool rack_retransmit_next(Instant now, SegmentSink& out);
  // RFC 2883 §4 / RFC 3708 §3: the first SACK block reports a duplicate.
  bool has_dsack(const Segment& seg) const;
  std::unique_ptr<Rack> rack_;  // made when data first goes out under RACK

  // --- spurious retransmissions: F-RTO, D-SACK and Eifel detection, the undo (RFC 5682,
  // RFC 3708, RFC 3522, RFC 4015; spurious_retransmit.cpp) ---
  // Before cwnd is cut for a loss (fast recovery, or a timeout): an episode starts or goes on.
  void undo_on_reduction(bool timeout, Instant now);
  // After an ACK moved SND.UNA (or did not): D-SACKs, the echo, F-RTO steps 2-3, the undo.
  void undo_on_ack(const Segment& seg, SeqNum una_before, std::uint32_t sacked_before, bool dsack,
                   Instant now, SegmentSink& out);
  void undo_spurious_timeout(SeqNum una_before, std::optional<std::uint32_t> echo, bool times_delay,
                             Instant now);
  std::uint32_t frto_send_new_data(Instant now, SegmentSink& out);
  std::unique_ptr<SpuriousRetransmit> undo_;  // made at the first loss episode

  // --- delivery rate and pacing, for BBR only (connection_rate.cpp; rate_ is null otherwise) ---
  // One transmission of [seq, end): the rate snapshot (draft-cheng §3.2) and the pacer.
  void rate_on_send(SeqNum seq, SeqNum end, Instant now, bool retransmission);
  // An ACK was processed: a rate sample (draft-cheng §3.3) for the congestion control.
  void rate_on_ack(SeqNum una_before, std::uint32_t sacked_before, Instant now);
  // Whether the pacer holds data back at `now` (and, if so, arms its deadline).
  bool pacing_holds(Instant now);
  // After output(): app-limited detection (draft-cheng §3.4), the peer's window counted too.
  void rate_after_output();
  std::unique_ptr<RateState> rate_;

  // --- timers (connection.cpp) ---
  void on_retransmit_timeout(Instant now, SegmentSink& out);
  void on_persist_timeout(Instant now, SegmentSink& out);
  void on_keepalive_timeout(Instant now, SegmentSink& out);
  // An orphan in FIN-WAIT-2: the TIME-WAIT timer's slot (unused until TIME-WAIT) holds its
  // deadline, as Linux hands such a socket to a timewait socket for tcp_fin_timeout.
  void arm_orphan_fin_timeout(Instant now);

  SharedTcpConfig config_;
  ConnectionContext context_;
  wire::Endpoint local_;
  wire::Endpoint remote_;
  State state_ = State::Closed;
  bool passive_ = false;
  std::optional<Error> error_;
  std::optional<Error> soft_error_;  // last ICMP error, reported if we time out
  std::uint8_t events_ = 0;

  // RFC 9293 §3.3.1 send sequence variables.
  SeqNum iss_;
  SeqNum snd_una_;
  SeqNum snd_nxt_;
  SeqNum snd_max_;  // highest sequence number sent + 1 (SND.NXT before a go-back-N rewind)
  std::uint32_t snd_wnd_ = 0;
  std::uint32_t max_snd_wnd_ = 0;  // RFC 9293 §3.8.6.2.1 and RFC 5961 §5 MAX.SND.WND
  SeqNum snd_wl1_;
  SeqNum snd_wl2_;
  // Receive sequence variables.
  SeqNum irs_;
  SeqNum rcv_nxt_;
  SeqNum rcv_adv_;  // right edge of the window we last advertised (RCV.NXT + RCV.WND)

  // Negotiated options.
  std::uint16_t peer_mss_ = 536;  // RFC 9293 §3.7.1: 536 (IPv4) / 1220 (IPv6) without option
  std::uint8_t snd_wscale_ = 0;
  std::uint8_t rcv_wscale_ = 0;
  bool wscale_ok_ = false;
  bool sack_ok_ = false;
  bool ts_ok_ = false;
  std::uint32_t ts_offset_ = 0;
  std::uint32_t ts_recent_ = 0;
  SeqNum last_ack_sent_;

  // Buffers: the send ring's unacknowledged prefix is the retransmission queue.
  ByteRing snd_buf_;
  SeqNum snd_buf_seq_;  // sequence number of snd_buf_ byte 0
  ReceiveBuffer rcv_buf_;
  bool fin_queued_ = false;    // user called CLOSE
  bool fin_received_ = false;  // peer's FIN processed (RCV.NXT passed it)
  bool ack_now_ = false;       // an ACK must leave with the next output
  bool ack_urgent_ = false;    // ... and may not wait for a batch's end (output_or_hold)
  bool output_held_ = false;   // output held until the batch ends (flush_held)
  // The last batch whose first segment was answered at once, its number's low 16 bits (one
  // connection's memory, issue 14): after 65,536 batches without a segment of this connection
  // a match may be false, and that batch's first answer waits for the batch's end.
  std::uint16_t batch_seen_ = 0;
  std::optional<SeqNum> pending_fin_;  // peer's FIN seen beyond a hole

  // Timers, RTT, congestion, recovery.
  std::array<std::optional<Instant>, static_cast<int>(Timer::Count)> timers_{};
  RttEstimator rtt_;
  AnyCongestionControl cc_;
  std::uint8_t retries_ = 0;            // consecutive RTO expirations
  bool syn_timed_out_ = false;          // our SYN or SYN,ACK was retransmitted (RFC 6298 §5.7)
  bool pingpong_ = false;               // quick-ACK mode: the connection is interactive (below)
  bool pushed_ = false;                 // in-order text with PSH since our last ACK (after_read())
  std::uint8_t pushes_unanswered_ = 0;  // pushed segments since we last sent data (max 2)
  std::uint8_t unbatched_ = 0;  // answers still to leave at once after a loss (output_or_hold)
  // SACK compression (compress_sack()): duplicate ACKs sent at once for this RCV.NXT (up to
  // 3), and whether the ACK owed now is one that may wait for the batch's end.
  std::uint8_t dup_acks_sent_ = 0;
  bool sack_compressed_ = false;
  std::optional<Instant> first_unacked_retransmit_;  // for the user timeout
  // When the RTO last retransmitted SND.UNA's segment (Instant{}: not since the last ACK of
  // new data); handle_new_ack() tells from it whether the retransmission was delivered.
  Instant rto_retransmit_at_{};
  std::uint8_t persist_backoff_ = 0;
  std::uint8_t unanswered_probes_ = 0;    // zero-window probes since the last acceptable ACK
  std::uint8_t zero_window_answers_ = 0;  // probes answered, window still zero (persist episode)
  std::optional<SeqNum> probe_end_;       // end of the last new-data zero-window probe
  bool force_send_ = false;               // SWS override timer fired (RFC 9293 §3.8.6.2.1)
  bool orphaned_ = false;                 // set_orphaned()
  std::uint8_t keepalive_sent_ = 0;
  // Karn: the segment being timed for an RTT sample, while no Rack times every segment.
  std::optional<SeqNum> timed_seq_;
  Instant timed_at_{};
  // Loss recovery: phase, recover point, scoreboard, HighRxt, DupAcks (tcp/loss_recovery.hpp).
  LossRecovery loss_;
  using Recovery = LossRecovery::Phase;
  bool in_recovery() const { return loss_.in_recovery(); }
  bool sack_driven() const { return loss_.sack_driven(); }
  // Segments received since our last ACK: full-sized in-order ones (SHLD-19), and the
  // out-of-order ones a compressed SACK holds (compress_sack()).
  std::uint32_t ack_pending_ = 0;
  // Linux's quick-ACK mode (TcpConfig::quick_acks): ACKs still to send at once, whether the
  // connection is interactive (pingpong_, with the flags above) and when in-order data last
  // arrived.
  std::uint32_t quick_acks_left_ = 0;
  SeqNum snd_sml_{};  // end of the last short segment sent (Minshall's Nagle)
  // RFC 2883: a duplicate range to report in the next ACK's first SACK block.
  std::optional<std::pair<SeqNum, SeqNum>> dsack_;
  // Whether cwnd is in use this round trip: only then does an ACK grow it (cwnd validation,
  // TcpConfig::cwnd_validation; tcp/cwnd_use.hpp).
  CwndUse cwnd_use_;
  void note_duplicate(SeqNum begin, SeqNum end);
  MaybeInstant last_data_at_;
  MaybeInstant last_invalid_ack_;  // RFC 5961 §7 rate limit: the last such ACK sent
  // When data last went out (Linux's lsndtime): RFC 5681 §4.1's restart after an idle period
  // (restart_after_idle(), connection_output.cpp).
  MaybeInstant last_send_at_;
  const BufferReader* direct_reader_ = nullptr;  // set_direct_reader()

  std::uint64_t retransmits_ = 0;
  // Recovery episodes: 2^32 of either is beyond any connection's life (32 bits each keep
  // CwndUse within the 1 KiB a connection may take, issue 14).
  std::uint32_t rto_expirations_ = 0, fast_retransmits_ = 0;
  std::uint64_t bytes_sent_ = 0, bytes_acked_ = 0, bytes_received_ = 0;
};

}  // namespace synack::tcp
