// SPDX-License-Identifier: MIT
// Cwnd validation (TcpConfig::cwnd_validation, tcp/cwnd_use.hpp): only a window in use grows
// (draft-ietf-ccwg-ratelimited-increase §3: "When FlightSize < cwnd ... MUST constrain the
// growth of cwnd"; Linux's tcp_is_cwnd_limited()), and CUBIC, so validated, takes its
// ssthresh after a fast retransmit from cwnd (RFC 9438 §4.6, as Linux's and Windows' CUBIC).
// The round-trip bookkeeping on its own, then through a connection in virtual time.
#include <algorithm>
#include <string>
#include <vector>

#include "harness.hpp"
#include "tcp/cwnd_use.hpp"

namespace synack::tcp::test {
namespace cwnd_validation_test {

constexpr std::uint32_t kMss = 1000;
constexpr SeqNum kUna{5000};

// A round whose window filled lets ACKs grow it for the rest of the round, even when later
// outputs in the round leave room; the next round starts afresh.
TEST(CwndUse, a_full_window_lets_the_rest_of_its_round_grow_it) {
  CwndUse use;
  use.after_output(10 * kMss, 10 * kMss, kMss, kUna, kUna + 10 * kMss);  // round ends at +10
  EXPECT_TRUE(use.full());
  use.after_output(4 * kMss, 10 * kMss, kMss, kUna + 6 * kMss, kUna + 10 * kMss);
  EXPECT_TRUE(use.full()) << "within the round";
  EXPECT_TRUE(use.allows_growth(10 * kMss, false));
  // Everything of the round acknowledged; the application has 2 segments to send.
  use.after_output(2 * kMss, 10 * kMss, kMss, kUna + 10 * kMss, kUna + 12 * kMss);
  EXPECT_FALSE(use.full());
  EXPECT_EQ(use.max_flight(), 2 * kMss);
  EXPECT_FALSE(use.allows_growth(10 * kMss, false)) << "congestion avoidance, window not in use";
}

// In slow start a window may grow to twice the round's largest flight (Linux:
// tcp_is_cwnd_limited(), "ensure cwnd grows to twice what was ACKed"), not beyond.
TEST(CwndUse, slow_start_grows_up_to_twice_the_rounds_largest_flight) {
  CwndUse use;
  use.after_output(3 * kMss, 10 * kMss, kMss, kUna, kUna + 3 * kMss);
  use.after_output(6 * kMss, 10 * kMss, kMss, kUna, kUna + 6 * kMss);
  EXPECT_FALSE(use.full());
  EXPECT_EQ(use.max_flight(), 6 * kMss);
  EXPECT_TRUE(use.allows_growth(11 * kMss, true));
  EXPECT_FALSE(use.allows_growth(12 * kMss, true));
  EXPECT_FALSE(use.allows_growth(11 * kMss, false));
}

// A window of 2^30 octets (RFC 7323 §2.3's largest, about) in flight is kept whole.
TEST(CwndUse, a_flight_of_a_largest_window_is_kept) {
  CwndUse use;
  const std::uint32_t big = (1u << 30) - (1u << 14);
  use.after_output(big, big + 2 * kMss, kMss, kUna, kUna + big);
  EXPECT_FALSE(use.full());
  EXPECT_EQ(use.max_flight(), big);
}

class CwndValidation : public SegmentHarness {
 protected:
  // CUBIC, SACK, no timestamps, a 10-segment initial window of 536-octet segments; the
  // handshake takes 20 ms.
  void establish(bool validation) {
    config.congestion = CongestionAlgorithm::Cubic;
    config.cwnd_validation = validation;
    config.initial_window_segments = 10;
    establish_sack_20ms();
  }
  // The application writes two segments a round trip, and each round is acknowledged.
  std::uint32_t cwnd_after_app_limited_rounds(bool validation) {
    establish(validation);
    int next = 0;
    for (int round = 0; round < 20; ++round) {
      send(std::string(2 * kSegment, 'x'));
      EXPECT_EQ(sent().size(), 2u);
      next += 2;
      advance(std::chrono::milliseconds(20));
      ack(seg(next));
    }
    return conn().status().cwnd;
  }
  // Four segments in flight of a 10-segment window; segment 0 lost and 1, 2 and 3 SACKed:
  // three segments above it (RFC 8985 §6.2 with DupThresh, no reordering seen) mark it lost
  // at once. The ssthresh the fast retransmit leaves.
  std::uint32_t ssthresh_after_a_loss_among_four(bool validation) {
    establish(validation);
    send(std::string(4 * kSegment, 'x'));
    EXPECT_EQ(sent().size(), 4u);
    advance(std::chrono::milliseconds(20));
    ack(seg(0), {{1, 2}});
    ack(seg(0), {{1, 3}});
    ack(seg(0), {{1, 4}});
    EXPECT_EQ(counters.tcp_fast_retransmits, 1u);
    EXPECT_EQ(sent(), (std::vector<int>{0})) << "the fast retransmit";
    return conn().status().ssthresh;
  }
};

// Two segments a round never fill a 10-segment window: with validation it stays at the
// initial window (slow start may grow it only to twice the 2-segment flight, which it
// already exceeds); without, every ACK grew it.
TEST_F(CwndValidation, an_application_limited_sender_does_not_grow_its_window) {
  EXPECT_EQ(cwnd_after_app_limited_rounds(true), 10 * kSegment);
}

TEST_F(CwndValidation, without_it_every_ACK_grows_the_window) {
  EXPECT_GT(cwnd_after_app_limited_rounds(false), 40 * kSegment);
}

// A bulk sender fills its window every round: slow start doubles it, as without validation.
TEST_F(CwndValidation, a_sender_that_fills_its_window_grows_it) {
  establish(true);
  send(std::string(100 * kSegment, 'x'));
  EXPECT_EQ(sent().size(), 10u);
  advance(std::chrono::milliseconds(20));
  for (int i = 1; i <= 10; ++i) ack(seg(i));
  EXPECT_EQ(conn().status().cwnd, 20 * kSegment);
  EXPECT_EQ(sent().size(), 20u) << "each ACK let out two segments";
}

// RFC 9438 §4.6: with its growth validated, CUBIC's ssthresh after a fast retransmit is 0.7
// cwnd (here the 10-segment initial window), not 0.7 of the 4 segments the application had
// in flight; without validation, 0.7 FlightSize.
TEST_F(CwndValidation, RFC9438_4_6_CUBIC_reduces_from_the_validated_window) {
  EXPECT_NEAR(ssthresh_after_a_loss_among_four(true), 10 * kSegment * 0.7, 1.0);
}

TEST_F(CwndValidation, RFC9438_4_6_CUBIC_without_validation_reduces_from_FlightSize) {
  EXPECT_NEAR(ssthresh_after_a_loss_among_four(false), 4 * kSegment * 0.7, 1.0);
}

// RFC 9438 §5.8: "t ... MUST NOT include any periods during which cwnd has not been updated
// due to application-limited behavior". After a loss (W_max = 10 segments) the sender is held
// by its application to two segments a round for 5 s, then writes in bulk: W_cubic(t) resumes
// where its clock stopped, and the window grows as a sender that never paused would (about
// 7.6 -> 8.0 -> 8.4 segments a round here). With the clock running through the pause, t was
// 5 s past K and each round grew the window by half (7.2 -> 10.7 -> 15.6).
class CubicClock : public CwndValidation {
 protected:
  int una_ = 0;
  int high_ = 0;
  void take() {
    for (int i : sent()) high_ = std::max(high_, i + 1);
  }
  // One round trip: 20 ms, then every segment sent is acknowledged, one ACK each.
  void round() {
    advance(std::chrono::milliseconds(20));
    const int top = high_;
    for (int i = una_ + 1; i <= top; ++i) {
      ack(seg(i));
      take();
    }
    una_ = top;
  }
  // Ten segments, the first lost and repaired by a fast retransmit; the recovery ends; a first
  // round of seven starts the congestion-avoidance epoch. The window then, in segments.
  double after_a_loss() {
    establish(true);
    send(std::string(10 * kSegment, 'x'));
    take();
    advance(std::chrono::milliseconds(20));
    ack(seg(0), {{1, 2}});
    ack(seg(0), {{1, 3}});
    ack(seg(0), {{1, 4}});
    EXPECT_EQ(counters.tcp_fast_retransmits, 1u);
    (void)sent();
    advance(std::chrono::milliseconds(20));
    ack(seg(10));
    (void)sent();
    una_ = high_ = 10;
    send(std::string(7 * kSegment, 'x'));
    take();
    round();
    return segments();
  }
  double segments() { return conn().status().cwnd / static_cast<double>(kSegment); }
  // Bulk data, two round trips: the window's growth over them, as a ratio.
  double growth_over_two_bulk_rounds() {
    const double before = segments();
    send(std::string(2000 * kSegment, 'x'));
    take();
    round();
    round();
    return segments() / before;
  }
};

TEST_F(CubicClock, RFC9438_5_8_the_clock_stops_while_the_application_holds_the_window) {
  after_a_loss();
  for (int k = 0; k < 250; ++k) {  // 5 s of two segments a round
    send(std::string(2 * kSegment, 'x'));
    take();
    round();
  }
  EXPECT_LT(growth_over_two_bulk_rounds(), 1.2);
}

TEST_F(CubicClock, RFC9438_5_8_the_clock_stops_while_the_sender_idles) {
  after_a_loss();
  round();  // the last segment (a 7-segment window is 3,751 octets) is acknowledged
  // A last round that fills the window (each of its ACKs may grow it), and the flight drains.
  send(std::string(7 * kSegment, 'x'));
  take();
  round();
  ASSERT_EQ(conn().status().send_queue, 0u);
  advance(std::chrono::seconds(5));  // nothing in flight, nothing to send
  EXPECT_LT(growth_over_two_bulk_rounds(), 1.2);
}

// The pause's reference: the same flow without it.
TEST_F(CubicClock, a_sender_that_never_paused_grows_as_slowly) {
  after_a_loss();
  EXPECT_LT(growth_over_two_bulk_rounds(), 1.2);
}

// RFC 8985 §7.4.2: a probe that repaired a loss brings a reduction "equivalent to fast
// recovery": from the window as it was (Linux's tcp_process_tlp_ack(): CUBIC's 0.7 cwnd) —
// not from FlightSize after the ACK of the probe, which is nothing (that left 2 SMSS), nor
// from the window the same ACK has just grown.
TEST_F(CwndValidation, RFC8985_7_4_2_a_repairing_probe_reduces_from_the_window_before_its_ACK) {
  config.loss_probes_per_episode = 1;
  establish(true);
  send(std::string(4 * kSegment, 'x'));
  EXPECT_EQ(sent().size(), 4u);
  const std::uint32_t cwnd = conn().status().cwnd;
  EXPECT_EQ(cwnd, 10 * kSegment);
  fire_next_timer();  // the probe: segment 3 again
  EXPECT_EQ(sent(), (std::vector<int>{3}));
  ack(seg(4));
  EXPECT_EQ(counters.tcp_loss_probe_repairs, 1u);
  EXPECT_NEAR(conn().status().ssthresh, cwnd * 0.7, 1.0);
  EXPECT_EQ(conn().status().cwnd, conn().status().ssthresh);
}

// Outside a SACK recovery the sender is held by FlightSize (snd_una + cwnd), SACKed data
// included; the window counts as full by that measure, not by pipe. Here a round ends on an
// ACK that also SACKs the segment after a hole (segment 20 delayed, 21 SACKed): the round's
// first output fills FlightSize to cwnd while pipe is a segment short of it. Judged by pipe,
// that round was "not full" and its ACKs could not grow the window (4,611 octets stayed
// 4,611); judged by FlightSize they do.
TEST_F(CwndValidation, outside_recovery_a_window_held_by_FlightSize_counts_as_full) {
  establish(true);
  send(std::string(200 * kSegment, 'x'));
  EXPECT_EQ(sent().size(), 10u);
  advance(std::chrono::milliseconds(20));
  ack(seg(0), {{1, 2}});
  ack(seg(0), {{1, 3}});
  ack(seg(0), {{1, 4}});  // segment 0 lost: the fast retransmit
  ack(seg(0), {{1, 5}});
  EXPECT_EQ(counters.tcp_fast_retransmits, 1u);
  advance(std::chrono::milliseconds(20));
  ack(seg(12));  // the recovery ends; a round of segments 12-19 starts
  advance(std::chrono::milliseconds(20));
  for (int i = 13; i <= 19; ++i) ack(seg(i));
  ack(seg(20), {{21, 22}});  // the round's end; segment 20 delayed, 21 SACKed
  (void)sent();
  const std::uint32_t before = conn().status().cwnd;
  ack(seg(22));  // segment 20 arrives late: new data acknowledged, no recovery
  EXPECT_EQ(counters.tcp_fast_retransmits, 1u);
  EXPECT_GT(conn().status().cwnd, before) << "the round that FlightSize filled did not grow";
  (void)sent();  // what the ACK let out (the same two segments either way)
}

}  // namespace cwnd_validation_test
}  // namespace synack::tcp::test
