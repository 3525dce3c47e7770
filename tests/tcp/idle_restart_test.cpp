// SPDX-License-Identifier: MIT
// RFC 5681 §4.1, restarting idle connections (TcpConfig::restart_after_idle): "TCP SHOULD set
// cwnd to no more than RW before beginning transmission if the TCP has not sent data in an
// interval exceeding the retransmission timeout", RW = min(IW, cwnd); ssthresh keeps 3/4 of the
// old window (as Linux's tcp_cwnd_restart()). In virtual time: a bulk transfer grows the window
// to 80 segments, everything is acknowledged, the sender idles, then writes in bulk again.
#include <string>
#include <vector>

#include "harness.hpp"
#include "tcp/congestion/new_reno.hpp"

namespace synack::tcp::test {
namespace idle_restart_test {

class IdleRestart : public SegmentHarness {
 protected:
  // NewReno (its growth counts ACKs, so the window is exact), SACK, a 10-segment initial
  // window; round trips of 20 ms (SRTT 20 ms, the RTO at its 200 ms floor). Slow start to an
  // 80-segment window (the last round's 40 in flight filled a 40-segment one), all of it
  // acknowledged: the connection idles from `now`.
  void grow_to_80_segments_then_drain(CongestionAlgorithm cc = CongestionAlgorithm::NewReno) {
    config.congestion = cc;
    config.initial_window_segments = 10;
    establish_sack_20ms();
    send(std::string(70 * kSegment, 'x'));
    // Round 1: 10 segments, each ACK grows the window by one (20); round 2: 20 more (40).
    EXPECT_EQ(sent().size(), 10u);
    advance(std::chrono::milliseconds(20));
    for (int i = 1; i <= 10; ++i) ack(seg(i));
    EXPECT_EQ(sent().size(), 20u);
    advance(std::chrono::milliseconds(20));
    for (int i = 11; i <= 30; ++i) ack(seg(i));
    EXPECT_EQ(sent().size(), 40u) << "the rest of the 70";
    advance(std::chrono::milliseconds(20));
    ack(seg(70));
    EXPECT_TRUE(sent().empty());
    if (cc != CongestionAlgorithm::Bbr) {
      EXPECT_EQ(conn().status().cwnd, 80 * kSegment);
    }
  }
  // After `idle`, 100 segments written at once: how many leave before any ACK.
  std::size_t burst_after(Duration idle) {
    advance(idle);
    send(std::string(100 * kSegment, 'x'));
    return sent().size();
  }
};

TEST_F(IdleRestart, RFC5681_4_1_after_more_than_an_RTO_idle_cwnd_restarts_at_the_initial_window) {
  grow_to_80_segments_then_drain();
  EXPECT_EQ(burst_after(std::chrono::seconds(5)), 10u);
  EXPECT_EQ(conn().status().cwnd, 10 * kSegment);
  EXPECT_EQ(conn().status().ssthresh, 0x7fffffffu)
      << "max(ssthresh, 3/4 cwnd): still the initial slow start's arbitrarily high one";
  // Slow start from there: the first round's ten ACKs let out twenty segments.
  advance(std::chrono::milliseconds(20));
  for (int i = 71; i <= 80; ++i) ack(seg(i));
  EXPECT_EQ(sent().size(), 20u);
}

TEST_F(IdleRestart, RFC5681_4_1_an_idle_period_within_the_RTO_keeps_the_window) {
  grow_to_80_segments_then_drain();
  EXPECT_EQ(burst_after(std::chrono::milliseconds(150)), 80u) << "RTO 200 ms";
  EXPECT_EQ(conn().status().cwnd, 80 * kSegment);
}

TEST_F(IdleRestart, switched_off_the_window_survives_any_idle_period) {
  config.restart_after_idle = false;
  grow_to_80_segments_then_drain();
  EXPECT_EQ(burst_after(std::chrono::seconds(5)), 80u);
}

// Only an empty network restarts: data sent long ago that is still unacknowledged is the
// RTO's business (and the window the RTO's), not the idle rule's. (The harness fires no timer
// by itself: 5 s pass here without the retransmission timeout.)
TEST_F(IdleRestart, RFC5681_4_1_a_sender_with_data_in_flight_is_not_idle) {
  grow_to_80_segments_then_drain();
  send(std::string(5 * kSegment, 'x'));
  EXPECT_EQ(sent().size(), 5u);
  advance(std::chrono::seconds(5));
  send(std::string(10 * kSegment, 'x'));
  EXPECT_EQ(sent().size(), 10u) << "within the window: 15 of 80 in flight";
  EXPECT_EQ(conn().status().cwnd, 80 * kSegment);
}

// RW = min(IW, cwnd): a window already below the initial one (here 1 SMSS after an RTO) is
// not raised, and ssthresh never falls (max(ssthresh, 3/4 cwnd)).
TEST(IdleRestartWindow, RFC5681_4_1_RW_never_raises_a_window_or_lowers_ssthresh) {
  NewReno cc(1000, 10);
  EXPECT_EQ(cc.cwnd(), 10'000u);
  cc.on_rto(20'000, Instant{});
  EXPECT_EQ(cc.cwnd(), 1000u);
  const std::uint32_t ssthresh = cc.ssthresh();
  EXPECT_EQ(ssthresh, 10'000u) << "FlightSize / 2";
  cc.restart_after_idle();
  EXPECT_EQ(cc.cwnd(), 1000u);
  EXPECT_EQ(cc.ssthresh(), ssthresh);
}

// Where 3/4 of the window is above ssthresh, ssthresh rises to it: a fast retransmit leaves
// ssthresh = cwnd = 20 segments, congestion avoidance grows the window to 28 or more, and the
// restart keeps 3/4 of it for slow start to reach again.
TEST(IdleRestartWindow, RFC5681_4_1_ssthresh_keeps_three_quarters_of_the_window) {
  NewReno cc(1000, 10);
  cc.on_congestion_event(40'000, Instant{});
  EXPECT_EQ(cc.ssthresh(), 20'000u);
  for (int i = 0; i < 10'000 && cc.cwnd() < 28'000; ++i) cc.on_ack(1000, Instant{}, {});
  const std::uint32_t cwnd = cc.cwnd();
  ASSERT_GE(cwnd, 28'000u);
  cc.restart_after_idle();
  EXPECT_EQ(cc.cwnd(), 10'000u);
  EXPECT_EQ(cc.ssthresh(), cwnd / 2 + cwnd / 4);
}

}  // namespace idle_restart_test
}  // namespace synack::tcp::test
