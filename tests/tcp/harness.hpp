// SPDX-License-Identifier: MIT
// A scripted harness for one synack::tcp::Connection, in the style of smoltcp's
// send!/recv! tests and ngtcp2's unit tests: a test injects one segment at a time,
// built from a template with designated initializers, and asserts each segment the
// connection sends, in virtual time. Nothing here sleeps or reads a clock.
//
//   class Transition : public Harness {};
//   TEST_F(Transition, SynSent_to_Established_on_rcv_SYN_ACK) {
//     open_active();
//     expect_tx({.flags = SYN, .seq = L});
//     inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = 1000});
//     expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
//     expect_state(State::Established);
//   }
//
// A test fails if it ends with a sent segment it never checked. Every transition any
// harness observes is also added to a process-wide set (see observed_transitions()), which
// the transition-coverage check reads at the end of the run.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "synack/config.hpp"
#include "synack/counters.hpp"
#include "synack/seqnum.hpp"
#include "synack/state.hpp"
#include "synack/time.hpp"
#include "synack/trace.hpp"
#include "tcp/connection.hpp"
#include "tcp/segment.hpp"

namespace synack::tcp::test {

// --- the process-wide transition recorder (harness.cpp) ---------------------------------

using StatePair = std::pair<State, State>;
// (from, to, the cause's text as traced).
using TracedTransition = std::tuple<State, State, std::string>;

// Every (from, to) any connection traced through a Harness (or through a
// GlobalTransitionRecorder) during this process.
const std::set<StatePair>& observed_transitions();
// The same with the traced cause (checked against tcp/transitions.hpp).
const std::set<TracedTransition>& observed_causes();
void record_transition(State from, State to, std::string_view cause);

// A TraceSink that only feeds the process-wide recorder; for tcp tests that build their
// own connections without a Harness.
class GlobalTransitionRecorder : public TraceSink {
 public:
  void on_transition(const TransitionEvent& e) override {
    record_transition(e.from, e.to, e.cause);
  }
};

// The caller's file and line, for failure messages from inside the helpers. (Not
// std::source_location: clang before 15 cannot provide it with libstdc++.)
// A defaulted Loc() in a default argument takes the location of the helper's caller.
struct Loc {
  constexpr Loc(const char* f = __builtin_FILE(), int l = __builtin_LINE()) : file(f), line(l) {}
  const char* file;
  int line;
};

// --- segment templates ------------------------------------------------------------------

// One segment as a test writes it. For inject(): fields left unset take the harness's
// template (`defaults`). For expect_tx(): flags and seq are always compared, ack only when
// ACK is among the expected flags, payload always (unset = must be empty), window and
// options only when given.
// (Every member has a default initializer so designated initializers may leave any out.)
struct Seg {
  std::uint8_t flags = 0;
  SeqNum seq{};
  SeqNum ack{};
  std::optional<std::uint16_t> window{};
  std::string payload{};
  std::optional<wire::TcpOptions> options{};
};

// A copy of one segment the connection sent, payload bytes included (the connection's
// span is valid only during SegmentSink::send).
struct SentSegment {
  Instant at;
  std::uint8_t flags = 0;
  SeqNum seq;
  SeqNum ack;
  std::uint16_t window = 0;
  wire::TcpOptions options;
  std::vector<std::byte> payload;
  bool retransmission = false;

  bool has(std::uint8_t f) const { return (flags & f) != 0; }
  std::string payload_string() const;
};

struct RecordedTransition {
  Instant at;
  State from;
  State to;
  std::string cause;
};

std::string describe(const SentSegment& s);
std::string describe_flags(std::uint8_t flags);
std::vector<std::byte> bytes_of(std::string_view text);

// --- the harness ------------------------------------------------------------------------

class Harness : public ::testing::Test {
 public:
  // Our ISS and the peer's. The peer's sits just below 2^32 so that sequence numbers wrap
  // during the tests: modular arithmetic is exercised on every test without asking.
  static constexpr SeqNum L{0x00010000};
  static constexpr SeqNum R{0xfffffff0};
  static constexpr Instant kStart = instant_from_us(1'000'000);

  Harness();
  ~Harness() override;
  // Fails the test if a sent segment was never checked: every segment is part of the script.
  void TearDown() override;

  // Configuration used when the connection is built (on first use of conn()); change it
  // before that.
  TcpConfig config;
  // Build the connection as a listener's child, born in LISTEN (Connection::for_listener)
  // instead of CLOSED. Call before the first conn().
  void use_listener_child() { listener_child_ = true; }
  // Build the connection between IPv6 endpoints (fd00::1 -> fd00::2) instead of IPv4. Call
  // before the first conn().
  void use_ipv6() { ipv6_ = true; }
  // Fields of inject() left unset come from here.
  Seg defaults{.flags = ACK, .window = 65535};

  Connection& conn();
  Counters counters;
  Instant now = kStart;

  // --- virtual time ---
  void advance(Duration d) { now += d; }
  // Calls on_timer at each next_deadline() that is <= limit (moving `now` there), then
  // leaves `now` at `limit`. Returns the number of timer calls.
  int run_timers_until(Instant limit);
  // Moves `now` to the next deadline and calls on_timer once. Fails (and returns nullopt)
  // when no timer is armed.
  // Calls on_timer at `now`, whether or not anything is due.
  void call_on_timer();
  std::optional<Instant> fire_next_timer(Loc loc = Loc());

  // --- user calls (RFC 9293 §3.10.1-3.10.5), at `now`, sent segments recorded ---
  void open_active(Loc loc = Loc());
  void open_passive(Loc loc = Loc());
  std::size_t send(std::string_view data, Loc loc = Loc());
  // SEND without expecting success.
  Expected<std::size_t, Error> try_send(std::string_view data);
  // Reads everything readable.
  std::string receive_all();
  // One RECEIVE call into `buffer`.
  Expected<std::size_t, Error> receive(std::span<std::byte> buffer);
  void close(Loc loc = Loc());
  void abort(Loc loc = Loc());

  // --- segments in and out ---
  void inject(const Seg& seg);
  // Asserts the oldest unchecked sent segment matches `want` (see Seg) and pops it.
  SentSegment expect_tx(const Seg& want, Loc loc = Loc());
  void expect_no_tx(Loc loc = Loc());
  // Pops the oldest sent segment without checking (fails when there is none).
  SentSegment pop_tx(Loc loc = Loc());
  std::size_t tx_pending() const { return sent_.size(); }

  // --- state and transitions ---
  void expect_state(State s, Loc loc = Loc());
  // Asserts the oldest unchecked transition is (from, to) and pops it; the returned record
  // has its time and cause.
  RecordedTransition expect_transition(State from, State to, Loc loc = Loc());
  void expect_no_transition(Loc loc = Loc());
  const std::deque<RecordedTransition>& transitions() const { return transitions_; }

  // --- scripted setups; each one asserts its own segments and leaves nothing unchecked ---
  // CLOSED -> SYN-SENT -> ESTABLISHED (peer sends no options, window `defaults.window`).
  void establish_active(Loc loc = Loc());
  // The same, with the peer's SYN,ACK permitting SACK (RFC 2018 §2), `handshake_rtt` after
  // the SYN (the handshake's RTT sample).
  void establish_sack(Duration handshake_rtt = Duration{0}, Loc loc = Loc());
  // CLOSED -> LISTEN -> SYN-RECEIVED -> ESTABLISHED.
  void establish_passive(Loc loc = Loc());
  // ESTABLISHED, then CLOSE: FIN-WAIT-1 with our FIN (seq L+1) unacknowledged.
  void reach_fin_wait_1(Loc loc = Loc());
  // ... and the peer ACKs the FIN: FIN-WAIT-2.
  void reach_fin_wait_2(Loc loc = Loc());
  // ESTABLISHED, then the peer's FIN: CLOSE-WAIT.
  void reach_close_wait(Loc loc = Loc());
  // CLOSE-WAIT, then CLOSE: LAST-ACK with our FIN unacknowledged.
  void reach_last_ack(Loc loc = Loc());
  // FIN-WAIT-1, then the peer's FIN not acking ours: CLOSING.
  void reach_closing(Loc loc = Loc());
  // FIN-WAIT-2, then the peer's FIN: TIME-WAIT (entered at `now`).
  void reach_time_wait(Loc loc = Loc());

 private:
  // The connection's SegmentSink and TraceSink: copies everything into the queues below.
  class Recorder : public SegmentSink, public TraceSink {
   public:
    explicit Recorder(Harness& h) : h_(h) {}
    void send(const Segment& segment) override;
    void on_transition(const TransitionEvent& e) override;

   private:
    Harness& h_;
  };

  Recorder recorder_{*this};
  std::optional<Connection> conn_;
  bool listener_child_ = false;
  bool ipv6_ = false;
  std::deque<SentSegment> sent_;
  std::deque<RecordedTransition> transitions_;
};

// Loss-recovery scripts count in whole segments of 536 bytes (the harness's peer sends no MSS
// option): segment i starts at L + 1 + 536 i. One fixture for RACK, RTO recovery and TLP tests.
class SegmentHarness : public Harness {
 protected:
  static constexpr std::uint32_t kSegment = 536;
  static SeqNum seg(int i) { return L + 1 + kSegment * i; }
  // The peer's ACK of `a`, SACKing the [from, to) segment ranges given; a block below `a` is a
  // D-SACK (RFC 2883).
  void ack(SeqNum a, std::initializer_list<std::pair<int, int>> sacked = {}) {
    wire::TcpOptions o;
    for (auto [from, to] : sacked) o.sack[o.sack_count++] = {seg(from).raw(), seg(to).raw()};
    inject({.flags = ACK, .seq = R + 1, .ack = a, .options = o});
  }
  // Segment indexes of everything sent since the last call.
  std::vector<int> sent() {
    std::vector<int> v;
    while (tx_pending() > 0) v.push_back(static_cast<int>((pop_tx().seq - seg(0)) / kSegment));
    return v;
  }
  // An active open to a peer that permits SACK (no timestamps, window 65535); the SYN,ACK
  // comes 20 ms after the SYN. ESTABLISHED at return, the handshake's segments consumed.
  void establish_sack_20ms() {
    wire::TcpOptions peer;
    peer.sack_permitted = true;
    open_active();
    expect_tx({.flags = SYN, .seq = L});
    advance(std::chrono::milliseconds(20));
    inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = 65535, .options = peer});
    expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  }
  // SACK in use, no timestamps; the handshake and the first data take 20 ms each (SRTT 20 ms,
  // RTTVAR 10 ms, RTO 200 ms = rto_min; with RACK, RACK.min_RTT = RACK.rtt = 20 ms). `n`
  // segments sent at once and the first acknowledged; `queued_more` segments wait behind them
  // (what the ACK's cwnd growth let out is read and dropped).
  void in_flight_rtt_20ms(int n, int queued_more = 0) {
    config.initial_window_segments = static_cast<std::uint32_t>(n);
    wire::TcpOptions peer;
    peer.sack_permitted = true;
    open_active();
    expect_tx({.flags = SYN, .seq = L});
    expect_transition(State::Closed, State::SynSent);
    advance(std::chrono::milliseconds(20));
    inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = 65535, .options = peer});
    expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
    expect_transition(State::SynSent, State::Established);
    send(std::string(static_cast<std::size_t>(n + queued_more) * kSegment, 'x'));
    ASSERT_EQ(sent().size(), static_cast<std::size_t>(n));
    advance(std::chrono::milliseconds(20));
    ack(seg(1));
    sent();
  }
};

}  // namespace synack::tcp::test
