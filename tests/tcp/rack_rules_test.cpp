// SPDX-License-Identifier: MIT
// RACK (RFC 8985 §6, src/tcp/rack.cpp), scripted segment by segment in virtual time: losses
// found by time instead of by three duplicate ACKs, the reordering window and its timer,
// D-SACK widening it, lost retransmissions, the tail loss probe with RACK, and a lying peer.
#include <string>
#include <vector>

#include "harness.hpp"

namespace synack::tcp::test {
namespace rack_rules_test {

constexpr std::uint32_t kMss = 536;  // the harness's peer sends no MSS option

class Rack : public SegmentHarness {
 protected:
  Rack() { config.loss_detection = LossDetection::Rack; }
  // in_flight_rtt_20ms (harness.hpp): SRTT = RACK.min_RTT = RACK.rtt = 20 ms and reo_wnd =
  // min(min_RTT / 4, SRTT) = 5 ms.

  // Segments 1-5 in flight (`queued_more` more wait), 2-4 SACKed: RACK marks 1 lost at once
  // (reo_wnd 0 with three SACKed), recovery starts and 1 is retransmitted, at retransmitted_at.
  void hole_1_retransmitted(int queued_more = 0) {
    in_flight_rtt_20ms(6, queued_more);
    ack(seg(1), {{2, 5}});
    ASSERT_EQ(sent(), (std::vector<int>{1}));
    retransmitted_at = now;
  }
  Instant retransmitted_at;
};

// §6.2 step 5 and §6.3: one segment SACKed above a hole is not DupThresh (3), but RACK marks
// the hole lost once RACK.rtt + reo_wnd has passed since it was sent: the reordering timer
// fires reo_wnd (5 ms) after the SACK and the segment is retransmitted, with one DupAck.
TEST_F(Rack, RFC8985_6_2_lost_by_time_after_reo_wnd_without_three_dupacks) {
  in_flight_rtt_20ms(4);
  ack(seg(1), {{2, 3}});  // segment 1 missing, 2 delivered
  EXPECT_EQ(sent(), std::vector<int>{}) << "within the reordering window: not lost yet";
  const Instant sacked_at = now;
  auto at = fire_next_timer();
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, sacked_at + 5ms) << "§6.3: the timer is due at xmit_ts + rtt + reo_wnd";
  EXPECT_EQ(sent(), (std::vector<int>{1})) << "fast recovery on RACK's loss (§9.3)";
  EXPECT_EQ(counters.tcp_rack_reorder_timeouts, 1u);
  EXPECT_EQ(counters.tcp_fast_retransmits, 1u);
  EXPECT_EQ(counters.tcp_rack_lost_bytes, kMss);
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
}

// §6.2 step 4: reordering within reo_wnd is not loss — the "missing" segment's ACK arrives
// before the timer, nothing is retransmitted and the timer is gone.
TEST_F(Rack, RFC8985_6_2_reordering_within_reo_wnd_is_not_marked_lost) {
  in_flight_rtt_20ms(4);
  ack(seg(1), {{2, 3}});
  advance(3ms);
  ack(seg(4));  // segment 1 arrived late: everything acknowledged
  run_timers_until(now + 1s);
  EXPECT_EQ(sent(), std::vector<int>{});
  EXPECT_EQ(counters.tcp_rack_reorder_timeouts, 0u);
  EXPECT_EQ(counters.tcp_retransmitted_segments, 0u);
  EXPECT_FALSE(conn().next_deadline()) << "nothing in flight, no timer left";
}

// §6.2 step 4: with DupThresh segments SACKed above it and no reordering seen, reo_wnd is 0:
// the hole is lost on the ACK itself (what DupThresh would do, no timer).
TEST_F(Rack, RFC8985_6_2_three_SACKed_segments_mean_reo_wnd_zero) {
  in_flight_rtt_20ms(6);
  ack(seg(1), {{2, 5}});
  EXPECT_EQ(sent(), (std::vector<int>{1}));
  EXPECT_EQ(counters.tcp_rack_reorder_timeouts, 0u);
}

// §6.2 RACK_sent_after(): "t1 == t2 AND seq1 > seq2" — segments that left in one burst (one
// GSO packet, cut by the link in sequence order) share a send time, and the later ones of the
// burst, SACKed, show the earlier one lost. Here the burst is the whole flight and nothing is
// sent after it: without the tie broken by sequence the hole would wait for the probe and the
// RTO (what bench/loss.sh showed at the end of 2 MiB transfers at 10 % loss).
TEST_F(Rack, RFC8985_6_2_a_segment_lost_inside_one_burst_is_found_by_the_burst) {
  config.gso_max_bytes = 65000;
  config.no_delay = true;
  config.initial_window_segments = 10;
  establish_sack(20ms);
  send(std::string(kMss, 'x'));  // segment 0 alone: RACK.min_RTT and SRTT 20 ms
  EXPECT_EQ(sent(), (std::vector<int>{0}));
  advance(20ms);
  ack(seg(1));
  send(std::string(6 * kMss, 'x'));  // segments 1..6 in one burst
  SentSegment burst = pop_tx();
  ASSERT_EQ(burst.seq, seg(1));
  ASSERT_EQ(burst.payload.size(), 6u * kMss) << "one packet for the link to cut";
  advance(20ms);
  ack(seg(2), {{3, 6}});  // 1 delivered, 2 lost, 3..5 SACKed (6 still on its way)
  EXPECT_EQ(sent(), (std::vector<int>{2})) << "fast retransmit on the ACK itself";
  EXPECT_EQ(counters.tcp_rack_lost_bytes, kMss);
  EXPECT_EQ(counters.tcp_loss_probes, 0u);
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
}

// §6.2 step 4: a D-SACK (the peer got a segment twice) widens the window: reo_wnd_mult 2,
// reo_wnd = 2 * min_RTT / 4 = 10 ms, so the same SACK as above waits 10 ms instead of 5.
TEST_F(Rack, RFC8985_6_2_DSACK_widens_reo_wnd) {
  in_flight_rtt_20ms(4);
  ack(seg(1), {{0, 1}});  // D-SACK: below the cumulative ACK
  EXPECT_EQ(counters.tcp_dsacks_received, 1u);
  ack(seg(1), {{2, 3}});
  const Instant sacked_at = now;
  auto at = fire_next_timer();
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, sacked_at + 10ms);
  EXPECT_EQ(sent(), (std::vector<int>{1}));
}

// §6.2 step 4: "RACK.dsack_round": many D-SACKs in one round trip widen the window once — a
// peer sending D-SACKs at random cannot stretch it without bound.
TEST_F(Rack, RFC8985_6_2_DSACKs_widen_once_per_round) {
  in_flight_rtt_20ms(4);
  for (int i = 0; i < 20; ++i) ack(seg(1), {{0, 1}});
  ack(seg(1), {{2, 3}});
  const Instant sacked_at = now;
  auto at = fire_next_timer();
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, sacked_at + 10ms) << "mult 2, not 21";
  EXPECT_EQ(sent(), (std::vector<int>{1}));
}

// §6.2: a retransmission is judged like any segment — when data sent after it is SACKed and
// RACK.rtt has passed, it is lost again and resent (RFC 6675 alone never resends a range;
// DupThresh's lost-retransmission rule would want 3 segments SACKed above it).
TEST_F(Rack, RFC8985_6_2_lost_retransmission_detected_and_resent) {
  in_flight_rtt_20ms(8, 20);  // 0..7 at t0; the ACK of 0 at 20 ms let 8 and 9 out
  ack(seg(1), {{2, 5}});      // 1 lost: fast retransmit at once
  EXPECT_EQ(sent(), (std::vector<int>{1}));
  advance(1ms);
  ack(seg(1), {{2, 8}});  // more delivered: PRR sends new data, after the retransmission
  auto after = sent();
  ASSERT_FALSE(after.empty());
  EXPECT_GE(after.front(), 10);
  const int new_seg = after.front();
  advance(20ms);
  // The new segment is SACKed, segment 1 (its retransmission, older) is not: lost again.
  ack(seg(1), {{2, new_seg + 1}});
  auto again = sent();
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(again.front(), 1) << "the lost retransmission goes first";
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
}

// §6.2 step 2, "If rtt < RACK.min_RTT: Return", with RACK.min_RTT taken from the handshake as
// well (follows Linux: tcp_min_rtt() holds the SYN,ACK's sample): the handshake took 2 ms,
// the first data 20 ms (data waits in queues a lone SYN does not). Two holes are sent again;
// the second retransmission is SACKed 5 ms later — sooner than any data sample, later than
// the handshake — and so shows the first retransmission, sent before it, lost again.
TEST_F(Rack,
       RFC8985_6_2_min_RTT_includes_the_handshake_so_a_quick_SACK_of_a_retransmission_counts) {
  config.initial_window_segments = 8;
  establish_sack(2ms);
  send(std::string(28 * kMss, 'x'));
  ASSERT_EQ(sent().size(), 8u);  // 0..7
  advance(20ms);
  ack(seg(1));  // a 20 ms data sample; more new data goes out
  sent();
  advance(1ms);
  ack(seg(1), {{2, 3}, {4, 8}});  // 1 and 3 lost (DupThresh segments SACKed above each)
  auto resent = sent();           // (PRR lets new data follow)
  ASSERT_GE(resent.size(), 2u);
  EXPECT_EQ(resent[0], 1);
  EXPECT_EQ(resent[1], 3);
  advance(5ms);
  ack(seg(1), {{2, 8}});  // 3's retransmission delivered, 1's not
  auto again = sent();
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(again.front(), 1) << "the lost retransmission found without the RTO";
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
}

// §7 with RACK: the last segment is lost, nothing after it can be SACKed; the probe (the
// last segment again) is acknowledged with everything — the loss repaired without an RTO.
TEST_F(Rack, RFC8985_7_probe_after_the_last_segments_loss) {
  config.tail_loss_probe = true;
  in_flight_rtt_20ms(4);
  ack(seg(3));  // 0..2 delivered, 3 lost
  auto at = fire_next_timer();
  ASSERT_TRUE(at);
  auto probe = pop_tx();
  EXPECT_EQ(probe.seq, seg(3));
  EXPECT_TRUE(probe.retransmission);
  EXPECT_EQ(counters.tcp_loss_probes, 1u);
  advance(20ms);
  ack(seg(4));
  EXPECT_EQ(counters.tcp_loss_probe_repairs, 1u);
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
  EXPECT_FALSE(conn().next_deadline());
}

// §7.3: with unsent data the peer's window allows (here cwnd-limited), the probe is a new
// segment, not a retransmission; its SACK then lets RACK mark the unacknowledged ones lost.
// One segment, as RFC 8985 (and Linux, the linux profile) send it: loss_probe_segments = 1.
TEST_F(Rack, RFC8985_7_3_probe_sends_new_data_when_the_window_allows) {
  config.tail_loss_probe = true;
  config.loss_probe_segments = 1;
  in_flight_rtt_20ms(4, 40);  // cwnd-limited: data is queued that the peer's window allows
  const SeqNum snd_max = conn().status().snd_nxt;
  auto at = fire_next_timer();
  ASSERT_TRUE(at);
  auto probe = pop_tx();
  EXPECT_EQ(tx_pending(), 0u);
  EXPECT_EQ(probe.seq, snd_max) << "the next unsent segment";
  EXPECT_EQ(probe.payload.size(), kMss);
  EXPECT_FALSE(probe.retransmission);
  EXPECT_EQ(counters.tcp_loss_probes, 1u);
  EXPECT_EQ(counters.tcp_retransmitted_segments, 0u);
}

// The default, two new segments (TcpConfig::loss_probe_segments, RFC 9002 §6.2.4's two probe
// datagrams): a receiver that holds its ACK for one in-order segment answers two at once
// (RFC 9293 §3.8.6.3 SHLD-19). Both are new data, one probe episode; the RTO follows.
TEST_F(Rack, Probe_of_new_data_is_two_segments_so_a_delayed_ACK_receiver_answers_at_once) {
  config.tail_loss_probe = true;
  config.loss_probes_per_episode = 1;
  ASSERT_EQ(config.loss_probe_segments, 2);
  in_flight_rtt_20ms(4, 40);
  const SeqNum snd_max = conn().status().snd_nxt;
  ASSERT_TRUE(fire_next_timer());
  auto first = pop_tx();
  ASSERT_EQ(tx_pending(), 1u);
  auto second = pop_tx();
  EXPECT_EQ(first.seq, snd_max);
  EXPECT_EQ(second.seq, snd_max + kMss);
  EXPECT_EQ(first.payload.size(), kMss);
  EXPECT_EQ(second.payload.size(), kMss);
  EXPECT_FALSE(first.retransmission);
  EXPECT_FALSE(second.retransmission);
  EXPECT_EQ(counters.tcp_loss_probes, 1u);
  // §7.3: "the sender MUST arm the RTO timer, not the PTO timer": nothing before rto_min
  // (with RFC 8985's one probe an episode, set above; tail_loss_probe_test.cpp has more).
  ASSERT_TRUE(conn().next_deadline());
  EXPECT_GE(*conn().next_deadline(), now + config.rto_min);
}

// TcpConfig::recovery_probe (on by default; RFC 8985 §7.2 probes only outside recovery): the
// hole's retransmission (or its ACK) is lost and nothing else is in flight to draw an ACK.
// 2 SRTT + 200 µs (TcpConfig::loss_probe_slack) after the retransmission a probe goes — here the
// segment at SND.UNA, as no new data is queued — instead of the RTO 200 ms or more later, with no
// backoff.
TEST_F(Rack, Recovery_probe_when_the_last_retransmission_draws_no_ACK) {
  hole_1_retransmitted();
  auto at = fire_next_timer();
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, retransmitted_at + 2 * 20ms + 200us);
  EXPECT_EQ(sent(), (std::vector<int>{1}));
  EXPECT_EQ(counters.tcp_loss_probes, 1u);
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
}

// When that probe draws no ACK either (it, or every ACK it drew, was lost — common with a few
// segments in flight on a lossy path), up to kRecoveryProbes (3) probes go, each after twice
// the last one's PTO (RFC 9002 §6.2.1's doubling), while they come before the RTO the first
// one armed; the later ones do not move it (RFC 8985 §7.3's RTO stays armed).
TEST_F(Rack, Recovery_probes_repeat_with_backoff_before_the_RTO_without_moving_it) {
  hole_1_retransmitted();
  auto first = fire_next_timer();
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, retransmitted_at + 2 * 20ms + 200us);
  EXPECT_EQ(sent(), (std::vector<int>{1}));
  const Duration rto = conn().status().rto;
  ASSERT_GT(rto, 4 * 20ms + 200us) << "room for a second probe before the RTO";
  auto second = fire_next_timer();
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, *first + 4 * 20ms + 200us) << "twice the first probe's 2 SRTT";
  EXPECT_EQ(sent(), (std::vector<int>{1}));
  EXPECT_EQ(counters.tcp_loss_probes, 2u);
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
  // A third would be due 8 SRTT after the second, later than the RTO: the RTO goes instead,
  // where the first probe put it.
  ASSERT_GT(*second + 8 * 20ms + 200us, *first + rto);
  auto third = fire_next_timer();
  ASSERT_TRUE(third);
  EXPECT_EQ(*third, *first + rto);
  EXPECT_EQ(sent(), (std::vector<int>{1}));
  EXPECT_EQ(counters.tcp_loss_probes, 2u);
  EXPECT_EQ(counters.tcp_rto_expirations, 1u);
}

// The same in the linux profile's choice (recovery_probe off, as Linux): the RTO.
TEST_F(Rack, No_recovery_probe_when_off_the_RTO_repairs) {
  config.recovery_probe = false;
  hole_1_retransmitted();
  auto at = fire_next_timer();
  ASSERT_TRUE(at);
  EXPECT_GE(*at, retransmitted_at + config.rto_min);
  EXPECT_EQ(sent(), (std::vector<int>{1}));  // the RTO's retransmission
  EXPECT_EQ(counters.tcp_loss_probes, 0u);
  EXPECT_EQ(counters.tcp_rto_expirations, 1u);
}

// The same with data queued: the recovery probe is new data, two segments (as outside
// recovery, §7.3): the peer answers them at once whether the hole's retransmission or its ACK
// was lost, and RACK then sees what is still missing.
TEST_F(Rack, Recovery_probe_sends_new_data_when_queued) {
  hole_1_retransmitted(20);
  auto at = fire_next_timer();
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, retransmitted_at + 2 * 20ms + 200us);
  EXPECT_EQ(sent(), (std::vector<int>{8, 9}));
  EXPECT_EQ(counters.tcp_loss_probes, 1u);
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
  // The peer had the retransmission; its ACK was lost. The probe's ACK ends the recovery.
  ack(seg(10));
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
  EXPECT_GT(sent().size(), 0u) << "the window opens again: new data";
}

// A retransmitted recovery probe whose ACK ends the recovery repaired a loss of that
// recovery: the window was reduced once when it began, and not again (§7.4.2's reduction is
// for a probe outside recovery).
TEST_F(Rack, Recovery_probe_repair_does_not_reduce_the_window_twice) {
  hole_1_retransmitted();
  const std::uint32_t ssthresh = conn().status().ssthresh;
  ASSERT_TRUE(fire_next_timer());
  ASSERT_EQ(sent(), (std::vector<int>{1}));
  ack(seg(6));
  sent();
  EXPECT_EQ(counters.tcp_loss_probe_repairs, 0u);
  EXPECT_EQ(conn().status().ssthresh, ssthresh);
  EXPECT_GE(conn().status().cwnd, ssthresh);
}

// Our FIN was sent after segment 5; the recovery probe resends SND.UNA's segment (1) without
// it — a FIN there would end the stream four segments early. (Soak seed 296 lost the last
// 437 octets of a first draft that put it there.)
TEST_F(Rack, Recovery_probe_of_SND_UNA_does_not_carry_our_FIN) {
  in_flight_rtt_20ms(6);
  close();
  expect_transition(State::Established, State::FinWait1);
  SentSegment fin = pop_tx();
  ASSERT_TRUE(fin.has(FIN));
  ASSERT_EQ(fin.seq, seg(6));
  ack(seg(1), {{2, 5}});
  ASSERT_EQ(sent(), (std::vector<int>{1}));
  ASSERT_TRUE(fire_next_timer());
  SentSegment probe = pop_tx();
  EXPECT_EQ(probe.seq, seg(1));
  EXPECT_EQ(probe.payload.size(), kSegment);
  EXPECT_FALSE(probe.has(FIN));
  EXPECT_EQ(counters.tcp_loss_probes, 1u);
}

// Bad input (issue 10): SACK blocks outside the window, ACKs of data never sent and reversed
// blocks deliver nothing to RACK, mark nothing lost and draw no retransmission.
TEST_F(Rack, lying_peer_cannot_make_it_retransmit) {
  in_flight_rtt_20ms(4);
  for (int i = 0; i < 50; ++i) {
    wire::TcpOptions o;
    o.sack[0] = {(seg(10) + static_cast<std::uint32_t>(i)).raw(), seg(20).raw()};  // beyond
    o.sack[1] = {seg(3).raw(), seg(2).raw()};                                      // reversed
    o.sack[2] = {(seg(0) - 100000).raw(), (seg(0) - 99000).raw()};                 // far below
    o.sack_count = 3;
    inject({.flags = ACK, .seq = R + 1, .ack = seg(1), .options = o});
    inject({.flags = ACK, .seq = R + 1, .ack = seg(30)});  // never sent
    advance(1ms);
  }
  std::vector<SentSegment> out;
  while (tx_pending() > 0) out.push_back(pop_tx());
  for (const auto& s : out) EXPECT_TRUE(s.payload.empty()) << describe(s);
  EXPECT_EQ(counters.tcp_retransmitted_segments, 0u);
  EXPECT_EQ(counters.tcp_rack_lost_bytes, 0u);
  EXPECT_EQ(counters.tcp_fast_retransmits, 0u);
  EXPECT_GT(counters.drop_sack_invalid, 0u);
  EXPECT_GT(counters.drop_ack_future, 0u);
}

// The old behaviour stays selectable: with DupThresh only, one SACKed segment never makes a
// loss (no timer), and the RTO finds it.
TEST_F(Rack, DupThresh_selectable_one_SACK_is_not_a_loss) {
  config.loss_detection = LossDetection::DupThresh;
  config.tail_loss_probe = false;  // the RTO, not the probe (on by default), is scripted
  in_flight_rtt_20ms(4);
  ack(seg(1), {{2, 3}});
  fire_next_timer();
  EXPECT_EQ(sent(), (std::vector<int>{1}));
  EXPECT_EQ(counters.tcp_rto_expirations, 1u);
  EXPECT_EQ(counters.tcp_rack_reorder_timeouts, 0u);
}

// Issue 14: RACK costs an idle connection one pointer; its state is made with the first data.
TEST(RackMemory, an_idle_connection_holds_no_RACK_state) {
  // 808 before RACK and BBR, plus the Rack pointer, BBR's RateState pointer and the
  // spurious-retransmission state's (made at the first loss episode), plus the rings'
  // high-water marks (ByteRing::high_water_).
  EXPECT_LE(sizeof(Connection), 840u);
  // What a connection that has sent data keeps between flights: the RACK variables only.
  EXPECT_LE(sizeof(synack::tcp::Rack), 160u);
}

// The records follow what is in flight; once all is ACKed no timer is left.
TEST_F(Rack, RFC8985_6_1_records_empty_when_nothing_is_in_flight) {
  in_flight_rtt_20ms(4);
  ack(seg(1), {{2, 3}});
  ack(seg(4));
  EXPECT_FALSE(conn().next_deadline()) << "no RTO, no reordering timer";
  EXPECT_EQ(counters.tcp_retransmitted_segments, 0u);
}

}  // namespace rack_rules_test
}  // namespace synack::tcp::test
