// SPDX-License-Identifier: MIT
// RTT samples from RACK's per-segment records (src/tcp/rack.cpp Rack::on_ack, following Linux
// tcp_clean_rtx_queue / tcp_ack_update_rtt): every ACK that newly acknowledges segments sent
// once measures the path, Karn's algorithm (RFC 6298 §3) applied per segment rather than to one
// timed segment per flight; and every such sample collapses the backed-off RTO (RFC 6298 §5,
// note after rule 5.7). Scripted segment by segment in virtual time.
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "tcp/rack.hpp"

namespace synack::tcp::test {
namespace rtt_sample_rules_test {

std::string text(std::size_t n) { return std::string(n, 'x'); }

class RttSample : public SegmentHarness {
 protected:
  RttSample() { config.loss_detection = LossDetection::Rack; }
  // The harness's flight (in_flight_rtt_20ms: SRTT 20 ms, RTTVAR 10 ms, RTO 200 ms), checked.
  void in_flight_rtt_20ms(int n, int queued_more = 0) {
    SegmentHarness::in_flight_rtt_20ms(n, queued_more);
    ASSERT_EQ(*conn().status().srtt, 20ms);
  }
};

// RFC 6298 §3 per segment (Linux tcp_clean_rtx_queue's seq_rtt_us): not only the first segment
// of a flight is timed — the ACK of the second, sent once, is a sample too: 20 ms, then 100 ms
// (one segment in flight: ExpectedSamples 1), SRTT = 20 + (100 - 20) / 8 = 30 ms.
TEST_F(RttSample, RFC6298_3_every_ACK_of_segments_sent_once_is_a_sample) {
  in_flight_rtt_20ms(3);  // 1 and 2 in flight, sent 20 ms ago
  ack(seg(2));            // 20 ms after 1 was sent: SRTT stays 20 ms
  EXPECT_EQ(*conn().status().srtt, 20ms);
  advance(80ms);
  ack(seg(3));  // 100 ms after 2 was sent
  EXPECT_EQ(*conn().status().srtt, 30ms);
  EXPECT_EQ(sent(), std::vector<int>{});
}

// RFC 6298 §3 (Karn): a cumulative ACK that covers a retransmitted segment may answer either
// copy, and is no sample — not even for the once-sent segment it also covers (Linux's
// FLAG_RETRANS_DATA_ACKED), here one sent 320 ms before the ACK.
TEST_F(RttSample, RFC6298_3_Karn_cumulative_ACK_covering_a_retransmitted_segment_is_no_sample) {
  in_flight_rtt_20ms(6);  // 1..5 in flight
  ack(seg(1), {{2, 5}});  // 1 missing, 2..4 SACKed (a sample); DupThresh: 1 lost at once
  EXPECT_EQ(sent(), (std::vector<int>{1}));
  const auto srtt = *conn().status().srtt;
  const auto rttvar = conn().status().rttvar;
  advance(300ms);
  ack(seg(6));  // covers retransmitted 1 and once-sent 5
  sent();       // what the window let out
  EXPECT_EQ(*conn().status().srtt, srtt) << "no sample from an ACK covering a retransmission";
  EXPECT_EQ(conn().status().rttvar, rttvar);
}

// Linux tcp_sacktag_one's first_sackt / tcp_ack_update_rtt's sack_rtt_us: a SACK of a segment
// sent once measures the path, on an ACK that does not advance SND.UNA: segment 2, sent 40 ms
// ago, SACKed: SRTT = (7 * 20 + 40) / 8 = 22.5 ms.
TEST_F(RttSample, RFC6298_3_SACK_of_a_segment_sent_once_is_a_sample) {
  in_flight_rtt_20ms(4);  // 1..3 in flight, sent 20 ms ago
  advance(20ms);
  ack(seg(1), {{2, 3}});
  EXPECT_EQ(*conn().status().srtt, 22500us);
  run_timers_until(now + 1ms);  // nothing due yet (RACK's timer is 5 ms away)
  EXPECT_EQ(sent(), std::vector<int>{});
}

// RFC 6298 §3 (Karn): a SACK of a retransmitted segment is no sample (Linux: TCPCB_RETRANS
// segments give no first_sackt).
TEST_F(RttSample, RFC6298_3_Karn_SACK_of_a_retransmitted_segment_is_no_sample) {
  in_flight_rtt_20ms(7);  // 1..6 in flight
  ack(seg(1), {{3, 5}});  // 1 and 2 missing
  fire_next_timer();      // RACK's reordering timer: both lost; PRR lets 1 out
  EXPECT_EQ(sent(), (std::vector<int>{1}));
  ack(seg(1), {{3, 6}});  // 5 SACKed too: PRR lets 2 out
  ASSERT_EQ(sent(), (std::vector<int>{2}));
  const auto srtt = *conn().status().srtt;
  const auto rttvar = conn().status().rttvar;
  advance(30ms);
  ack(seg(1), {{2, 5}});  // the retransmitted 2 SACKed
  EXPECT_EQ(*conn().status().srtt, srtt) << "no sample from a retransmitted segment";
  EXPECT_EQ(conn().status().rttvar, rttvar);
  sent();
}

// RFC 6298 §3 (Karn), stricter than Linux: an ACK that cumulatively covers a retransmitted
// segment was most likely sent on that copy's arrival, so a once-sent segment it SACKs for the
// first time (an earlier ACK reporting it lost) would be timed across the retransmission —
// no sample either (seen in chaos seed 11867: a 3.2 s sample on a 79 ms path).
TEST_F(RttSample, RFC6298_3_Karn_SACK_on_an_ACK_covering_a_retransmission_is_no_sample) {
  in_flight_rtt_20ms(6);  // 1..5 in flight
  ack(seg(1), {{2, 4}});  // 1 missing, 2 and 3 SACKed
  fire_next_timer();      // RACK's reordering timer: 1 lost and resent
  EXPECT_EQ(sent(), (std::vector<int>{1}));
  const auto srtt = *conn().status().srtt;
  const auto rttvar = conn().status().rttvar;
  advance(300ms);
  ack(seg(4), {{5, 6}});  // covers the retransmitted 1; 5 (sent once) SACKed for the first time
  EXPECT_EQ(*conn().status().srtt, srtt);
  EXPECT_EQ(conn().status().rttvar, rttvar);
  run_timers_until(now + 1ms);
  sent();
}

// RFC 6298 §5 (note after rule 5.7): the backed-off RTO lasts only until a valid sample. Two
// RTOs back it off to 800 ms; the ACK of the retransmission, 5 ms after it left (sooner than
// half the 20 ms min_RTT: it answers an earlier copy, RFC 8985 §6.2 step 2,
// connection_input.cpp), is no sample (Karn)
// and the backoff carries over to the next data; the next once-sent segment's SACK — its
// predecessor lost again — is a sample, and the RTO is SRTT + 4 RTTVAR again (200 ms,
// rto_min). Before per-segment sampling, the lost segment's retransmission cancelled the one
// timed measurement.
TEST_F(RttSample, RFC6298_5_backoff_collapses_on_the_first_Karn_valid_sample) {
  config.tail_loss_probe = false;  // the RTO's backoff is scripted; no probe before it
  in_flight_rtt_20ms(2);           // 1 in flight
  ASSERT_EQ(conn().status().rto, 200ms);
  fire_next_timer();
  EXPECT_EQ(sent(), (std::vector<int>{1}));
  fire_next_timer();
  EXPECT_EQ(sent(), (std::vector<int>{1}));
  EXPECT_EQ(conn().status().rto, 800ms);
  advance(5ms);
  ack(seg(2));  // the retransmission's ACK, too soon to answer it: no sample
  EXPECT_EQ(conn().status().rto, 800ms) << "Karn: the backoff carries over";
  send(text(2 * kSegment));
  auto next = sent();
  ASSERT_GE(next.size(), 2u);
  EXPECT_EQ(next[0], 2);
  advance(20ms);
  ack(seg(2), {{3, 4}});  // 2 lost, 3 (sent once) SACKed 20 ms after it left
  EXPECT_EQ(conn().status().rto, 200ms) << "a valid sample: the backoff collapses";
  run_timers_until(now + 1s);
  sent();
  ack(seg(static_cast<int>(next.back()) + 1));
}

// RFC 8985 §6.2 step 2's test of an ACK of a retransmitted segment, applied to the backoff:
// arriving at least min_RTT (20 ms) less RTTVAR (7.5 ms) after the RTO's retransmission (here
// 13 ms: the samples' minimum runs above the path's own round trip), the ACK is taken to
// answer it, so the path delivers again and the backed-off RTO (800 ms) returns to SRTT +
// 4 RTTVAR (200 ms) — still no sample (Karn): SRTT and RTTVAR stay. Without it, on a lossy
// path without timestamps where every segment after going back N is a retransmission, RTOs
// of 96 and 120 s followed ACKs that advanced (issue 10, soak seeds 678 and 8897).
TEST_F(RttSample, RFC8985_6_2_ACK_a_min_RTT_after_the_RTO_retransmission_ends_the_backoff) {
  config.tail_loss_probe = false;
  in_flight_rtt_20ms(2);  // 1 in flight
  const auto srtt = *conn().status().srtt;
  const auto rttvar = conn().status().rttvar;
  fire_next_timer();
  fire_next_timer();
  EXPECT_EQ(sent(), (std::vector<int>{1, 1}));
  EXPECT_EQ(conn().status().rto, 800ms);
  ASSERT_EQ(conn().status().rttvar, 7500us);
  advance(13ms);
  ack(seg(2));
  EXPECT_EQ(conn().status().rto, 200ms) << "the retransmission was delivered";
  EXPECT_EQ(*conn().status().srtt, srtt) << "but measured nothing (Karn)";
  EXPECT_EQ(conn().status().rttvar, rttvar);
}

// RFC 6298 §3 at the record bound: a record merged with later data (kMaxRecords) carries the
// newest part's send time; an ACK of its older part alone would measure less than that part's
// round trip, so it is no sample.
TEST(RackRttSample, RFC6298_3_merged_record_is_no_sample) {
  tcp::Rack rack;
  const Instant t0 = instant_from_us(1'000'000);
  SeqNum s(1000);
  for (std::size_t i = 0; i < tcp::Rack::kMaxRecords; ++i, s = s + 100)
    rack.on_send(s, s + 100, t0, false);
  const SeqNum merged_start = s - 100;
  rack.on_send(s, s + 100, t0 + 500ms, false);  // merged into the last record
  ASSERT_EQ(rack.coalesced(), 1u);
  // Deliver everything below the merged record first (a sample, 1 s).
  rack.on_ack(merged_start, {}, t0 + 1s, std::nullopt);
  auto rtt = rack.take_rtt_sample();
  ASSERT_TRUE(rtt);
  EXPECT_EQ(*rtt, 1s);
  EXPECT_FALSE(rack.take_rtt_sample()) << "taken once";
  // Its older half, sent at t0 but looking sent at t0 + 500 ms: no sample.
  rack.on_ack(merged_start + 50, {}, t0 + 1s, std::nullopt);
  EXPECT_FALSE(rack.take_rtt_sample());
}

// RFC 6298 §3: a record sent as one burst, retransmitted whole, then split by a SACK of part of
// it: both parts are retransmissions, and the SACK is no sample.
TEST(RackRttSample, RFC6298_3_retransmitted_record_split_by_a_SACK_is_no_sample) {
  tcp::Rack rack;
  const Instant t0 = instant_from_us(1'000'000);
  const SeqNum a(1000);
  rack.on_send(a, a + 2000, t0, false);         // one burst, one record
  rack.on_send(a, a + 2000, t0 + 300ms, true);  // retransmitted whole
  const std::pair<SeqNum, SeqNum> block{a + 1000, a + 2000};
  EXPECT_EQ(rack.on_ack(a, std::span(&block, 1), t0 + 310ms, std::nullopt), 1000u);
  EXPECT_FALSE(rack.take_rtt_sample());
}

}  // namespace rtt_sample_rules_test
}  // namespace synack::tcp::test
