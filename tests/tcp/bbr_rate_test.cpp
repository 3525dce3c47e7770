// SPDX-License-Identifier: MIT
// Delivery rate estimation (draft-cheng-iccrg-delivery-rate-estimation, src/tcp/delivery_rate.*)
// and pacing (draft-ietf-ccwg-bbr §5.6.2), in virtual time: the rate sample's arithmetic, the
// app-limited marks, and the pacer spacing a BBR connection's segments at BBR.pacing_rate
// while CUBIC's go out at once.
#include <string>
#include <vector>

#include "harness.hpp"
#include "tcp/congestion/bbr.hpp"
#include "tcp/congestion/cubic.hpp"
#include "tcp/delivery_rate.hpp"

namespace synack::tcp::test {
namespace {

using std::chrono::milliseconds;

constexpr Instant t(int ms) { return instant_from_us(1'000'000 + ms * 1000); }
SeqNum at(int i) { return SeqNum{1000u + 1000u * static_cast<std::uint32_t>(i)}; }

// draft-cheng §3.3: delivery_rate = rs.delivered / rs.interval, where rs.delivered = C.delivered
// now - P.delivered and the interval runs from P's snapshot (P.delivered_time) to now.
TEST(DeliveryRate, DraftCheng_3_3_rate_is_delivered_over_interval) {
  DeliveryRate dr;
  SackScoreboard sb;
  for (int i = 0; i < 10; ++i) dr.on_send(at(i), at(i + 1), 1000 * i, t(0), false);
  // All ten ACKed 100 ms later: 10,000 bytes over 100 ms = 100,000 B/s.
  RateSample rs = dr.on_ack(at(10), sb, 10000, t(100), std::nullopt);
  ASSERT_TRUE(rs.valid);
  EXPECT_EQ(rs.delivered, 10000u);
  EXPECT_EQ(rs.interval, milliseconds(100));
  EXPECT_EQ(rs.delivery_rate, 100000u);
  EXPECT_EQ(rs.rtt, milliseconds(100)) << "rs.rtt: the newest segment's send-to-ACK time";
  EXPECT_EQ(rs.tx_in_flight, 10000u) << "in flight when the newest segment went out";
  EXPECT_EQ(dr.delivered(), 10000u);
  // The next flight: 5 segments sent at 100 ms, ACKed at 150 ms: 5000 B over 50 ms.
  for (int i = 10; i < 15; ++i) dr.on_send(at(i), at(i + 1), 1000 * (i - 10), t(100), false);
  rs = dr.on_ack(at(15), sb, 5000, t(150), std::nullopt);
  ASSERT_TRUE(rs.valid);
  EXPECT_EQ(rs.prior_delivered, 10000u);
  EXPECT_EQ(rs.delivered, 5000u);
  EXPECT_EQ(rs.delivery_rate, 100000u);
}

// draft-cheng §3.3: "rs.interval = max(rs.send_elapsed, rs.ack_elapsed)" — compressed ACKs
// (a short ACK phase) must not inflate the rate beyond what was sent.
TEST(DeliveryRate, DraftCheng_3_3_interval_is_the_longer_of_send_and_ack_phases) {
  DeliveryRate dr;
  SackScoreboard sb;
  dr.on_send(at(0), at(1), 0, t(0), false);         // A (the flight starts: first_sent = 0)
  dr.on_send(at(1), at(2), 1000, t(10), false);     // B
  dr.on_ack(at(1), sb, 1000, t(50), std::nullopt);  // A: delivered_time = 50
  dr.on_send(at(2), at(3), 1000, t(60), false);     // C: P.first_sent_time = 0, delivered_time 50
  dr.on_ack(at(2), sb, 1000, t(61), std::nullopt);  // B
  RateSample rs = dr.on_ack(at(3), sb, 1000, t(62), std::nullopt);  // C
  ASSERT_TRUE(rs.valid);
  // send_elapsed = 60 - 0 = 60 ms; ack_elapsed = 62 - 50 = 12 ms; delivered = 3000 - 1000.
  EXPECT_EQ(rs.interval, milliseconds(60));
  EXPECT_EQ(rs.delivered, 2000u);
  EXPECT_EQ(rs.delivery_rate, 2000u * 1000 / 60);
}

// draft-cheng §3.3: "if (rs.interval < MinRTT) ... ignore": an interval shorter than the path's
// RTT cannot be a rate; and a SACKed segment is delivered like a cumulatively ACKed one.
TEST(DeliveryRate, DraftCheng_3_3_interval_below_min_rtt_is_no_sample_and_SACK_delivers) {
  DeliveryRate dr;
  SackScoreboard sb;
  for (int i = 0; i < 4; ++i) dr.on_send(at(i), at(i + 1), 1000 * i, t(0), false);
  RateSample rs = dr.on_ack(at(1), sb, 1000, t(5), milliseconds(20));
  EXPECT_TRUE(rs.has_packet);
  EXPECT_FALSE(rs.valid) << "5 ms interval < min_rtt 20 ms";
  // Segment 2 SACKed (1 lost): delivered, its snapshot chosen.
  wire::SackBlock block{at(2).raw(), at(3).raw()};
  sb.update(at(1), at(4), std::span(&block, 1));
  rs = dr.on_ack(at(1), sb, 1000, t(40), milliseconds(20));
  ASSERT_TRUE(rs.valid);
  EXPECT_EQ(rs.prior_delivered, 0u);
  EXPECT_EQ(rs.delivered, 2000u);
  EXPECT_EQ(rs.interval, milliseconds(40));
  EXPECT_EQ(dr.records(), 2u) << "segments 1 and 3 remain";
  // A retransmission counts its bytes lost (C.lost); a segment sent before it and delivered
  // after it sees that loss in its interval (rs.lost = C.lost - P.lost).
  dr.on_send(at(1), at(2), 2000, t(41), true);
  EXPECT_EQ(dr.lost(), 1000u);
  wire::SackBlock block3{at(3).raw(), at(4).raw()};
  sb.update(at(1), at(4), std::span(&block3, 1));
  rs = dr.on_ack(at(1), sb, 1000, t(45), milliseconds(20));
  EXPECT_EQ(rs.lost, 1000u);
  EXPECT_EQ(rs.rtt, milliseconds(45));
  EXPECT_EQ(rs.newly_lost, 1000u);
  // The retransmission's own ACK: no RTT sample from it (Karn, RFC 6298 §3).
  rs = dr.on_ack(at(4), sb, 1000, t(70), milliseconds(20));
  EXPECT_TRUE(rs.has_packet);
  EXPECT_FALSE(rs.rtt.has_value());
  EXPECT_EQ(rs.lost, 0u);
}

// draft-cheng §3.4: segments sent while the application had nothing to send carry
// is_app_limited; the mark clears once everything in flight then is delivered.
TEST(DeliveryRate, DraftCheng_3_4_app_limited_marks_samples_until_the_bubble_is_delivered) {
  DeliveryRate dr;
  SackScoreboard sb;
  dr.on_send(at(0), at(1), 0, t(0), false);
  dr.on_app_limited(1000);  // C.app_limited = C.delivered (0) + inflight (1000)
  EXPECT_EQ(dr.app_limited(), 1000u);
  dr.on_send(at(1), at(2), 1000, t(1), false);
  RateSample rs = dr.on_ack(at(1), sb, 1000, t(50), std::nullopt);
  EXPECT_FALSE(rs.is_app_limited) << "sent before the application ran dry";
  EXPECT_EQ(dr.app_limited(), 1000u) << "delivered = 1000 is not yet beyond the mark";
  rs = dr.on_ack(at(2), sb, 1000, t(51), std::nullopt);
  EXPECT_TRUE(rs.is_app_limited);
  EXPECT_EQ(dr.app_limited(), 0u) << "delivered 2000 > 1000: the bubble is gone";
  dr.on_send(at(2), at(3), 0, t(52), false);
  rs = dr.on_ack(at(3), sb, 1000, t(100), std::nullopt);
  EXPECT_FALSE(rs.is_app_limited);
}

// --- pacing, on a connection ---

class Pacing : public Harness {
 protected:
  // These tests watch 1 ms windows of pacing; the tail loss probe is kept beyond them (2 SRTT
  // of the zero-time handshake + 2 ms, the linux profile's allowance).
  Pacing() { config.loss_probe_slack = std::chrono::milliseconds(2); }
  std::vector<Instant> send_times() {
    std::vector<Instant> v;
    while (tx_pending() > 0) v.push_back(pop_tx().at);
    return v;
  }
};

// draft-ietf-ccwg-bbr §5.6.2: BBR's segments leave at BBR.pacing_rate — before any RTT sample,
// 2.77 x InitialCwnd / 1 ms (BBRInitPacingRate) — one per len / pacing_rate, each released by
// the pacing deadline the connection exposes (next_deadline()), not in one burst.
TEST_F(Pacing, BBR_5_6_2_pacing_spaces_segments_at_pacing_rate) {
  config.congestion = CongestionAlgorithm::Bbr;
  establish_sack();
  ASSERT_NE(conn().bbr(), nullptr);
  const double rate = static_cast<double>(conn().bbr()->pacing_rate());
  // IW = 10 x 536 (RFC 6928), SRTT of the zero-time handshake is 0: the 1 ms default.
  EXPECT_NEAR(rate, 2.77 * 5360 / 1e-3, 2.77 * 5360 / 1e-3 * 0.01);
  send(std::string(10 * 536, 'x'));
  std::vector<Instant> times = send_times();
  ASSERT_EQ(times.size(), 1u) << "only the first segment goes at once";
  ASSERT_TRUE(conn().next_deadline().has_value());
  // 1 ms: the ten segments take ~0.35 ms; the tail loss probe is due 2 ms after the last.
  run_timers_until(now + milliseconds(1));
  std::vector<Instant> rest = send_times();
  times.insert(times.end(), rest.begin(), rest.end());
  ASSERT_EQ(times.size(), 10u) << "the initial window, paced";
  const double gap_us = 536 / rate * 1e6;  // ~36 us
  for (std::size_t i = 1; i < times.size(); ++i) {
    double d = static_cast<double>(to_us(times[i] - times[i - 1]));
    EXPECT_NEAR(d, gap_us, 1.0) << "gap before segment " << i;
  }
}

// The peer's receive window, not cwnd, leaves less than a segment to send: the samples that
// follow measure its reader, like an application's pauses (draft-cheng §3.4), and are marked
// app-limited (the persist timer's probes too: they go out under the mark). Unmarked, a slow
// reader's few octets at a time filled BBR's max_bw filter and took the pacing rate to ~2
// bytes/s (soak seed 344861).
TEST_F(Pacing, DraftCheng_3_4_a_peer_window_under_a_segment_marks_samples_app_limited) {
  config.congestion = CongestionAlgorithm::Bbr;
  establish_sack();
  send(std::string(40 * 536, 'x'));  // far more than the initial window: cwnd-limited
  run_timers_until(now + milliseconds(1));
  SeqNum sent_end = L + 1;
  while (tx_pending() > 0) {
    SentSegment d = pop_tx();
    sent_end = seq_max(sent_end, d.seq + static_cast<std::uint32_t>(d.payload.size()));
  }
  ASSERT_EQ(sent_end, L + 1 + 10 * 536) << "the initial window";
  // Half of it acknowledged in a wide window: more goes out, cwnd-limited, and the handshake's
  // app-limited mark is passed.
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1 + 5 * 536, .window = 65535});
  run_timers_until(now + milliseconds(1));
  while (tx_pending() > 0) {
    SentSegment d = pop_tx();
    sent_end = seq_max(sent_end, d.seq + static_cast<std::uint32_t>(d.payload.size()));
  }
  ASSERT_EQ(conn().rate_state()->delivery.app_limited(), 0u) << "cwnd-limited, not app-limited";
  // Everything sent is acknowledged, and the peer's window leaves 100 octets; the rest waits.
  inject({.flags = ACK, .seq = R + 1, .ack = sent_end, .window = 100});
  run_timers_until(now + milliseconds(1));
  while (tx_pending() > 0) pop_tx();
  EXPECT_NE(conn().rate_state()->delivery.app_limited(), 0u) << "limited by the peer's window";
}

// Issue 14's budget (≤ 1 KiB per idle connection): BBR's model is on the heap, so the variant
// the connection holds is no bigger with BBR among its members, and a CUBIC connection carries
// only the null RateState pointer.
TEST(BbrMemory, BBR_state_is_allocated_only_when_chosen) {
  EXPECT_LE(sizeof(Bbr), sizeof(Cubic));
  // 808 before BBR and RACK, plus the RateState, Rack and SpuriousRetransmit pointers, plus
  // each ring's high-water mark (ByteRing::high_water_, 8 bytes with padding, twice).
  EXPECT_LE(sizeof(Connection), 840u);
}

// The same window with CUBIC: no pacing, no pacing timer, all ten at once (unchanged).
TEST_F(Pacing, Cubic_is_not_paced) {
  establish_sack();
  EXPECT_EQ(conn().bbr(), nullptr);
  EXPECT_EQ(conn().rate_state(), nullptr) << "no delivery-rate state for CUBIC";
  send(std::string(10 * 536, 'x'));
  std::vector<Instant> times = send_times();
  ASSERT_EQ(times.size(), 10u);
  EXPECT_EQ(times.front(), times.back());
}

}  // namespace
}  // namespace synack::tcp::test
