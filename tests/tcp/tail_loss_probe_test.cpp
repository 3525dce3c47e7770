// SPDX-License-Identifier: MIT
// RFC 8985 §7, the tail loss probe (src/tcp/tail_loss_probe.cpp), scripted segment by segment
// in virtual time: when the probe goes out, what it carries, and what its ACK starts.
#include <string>
#include <vector>

#include "harness.hpp"

namespace synack::tcp::test {
namespace tail_loss_probe_test {

std::string text(std::size_t n, char c = 'x') { return std::string(n, c); }

class TailLossProbe : public SegmentHarness {
 protected:
  // The default (RFC 8985), with RFC 8985's one probe per episode unless a test says otherwise
  // (TcpConfig::loss_probes_per_episode; 3 by default).
  TailLossProbe() {
    EXPECT_TRUE(config.tail_loss_probe);
    config.loss_probes_per_episode = 1;
  }
  // SACK in use, four segments (0-3) sent and unacknowledged. The handshake took no virtual
  // time, so SRTT is its 1 µs floor and the PTO 2 SRTT + 200 µs (TcpConfig::loss_probe_slack).
  void four_in_flight() {
    config.initial_window_segments = 4;
    establish_sack();
    send(text(4 * 536));
    ASSERT_EQ(sent(), (std::vector<int>{0, 1, 2, 3}));
  }
};

// §7.2 and §7.3: 2 SRTT (+ 200 µs; Linux adds 2 ms) after the last transmission the most recent
// segment goes out again, once; the RTO timer is then armed from the probe.
TEST_F(TailLossProbe, RFC8985_7_3_probe_resends_the_last_segment_after_the_PTO) {
  four_in_flight();
  const Instant sent_at = now;
  auto at = fire_next_timer();
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, sent_at + 2 * 1us + 200us);
  auto probe = expect_tx({.flags = ACK | PSH, .seq = seg(3), .ack = R + 1, .payload = text(536)});
  EXPECT_TRUE(probe.retransmission);
  EXPECT_EQ(counters.tcp_loss_probes, 1u);
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
  // §7.3: the RTO, not another probe, is next: from the probe's time, at least rto_min.
  ASSERT_TRUE(conn().next_deadline());
  EXPECT_GE(*conn().next_deadline(), now + config.rto_min);
  fire_next_timer();
  EXPECT_EQ(sent(), (std::vector<int>{0}));  // the RTO's retransmission
  EXPECT_EQ(counters.tcp_loss_probes, 1u);
  EXPECT_EQ(counters.tcp_rto_expirations, 1u);
}

// TcpConfig::loss_probe_slack is what the PTO adds to 2 SRTT with more than one segment out:
// Linux's 2 ms (the linux profile) puts the probe 1.8 ms later than the default's 200 µs.
TEST_F(TailLossProbe, RFC8985_7_2_the_PTO_adds_the_configured_slack_to_2_SRTT) {
  config.loss_probe_slack = 2ms;
  four_in_flight();
  const Instant sent_at = now;
  auto at = fire_next_timer();
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, sent_at + 2 * 1us + 2ms);
  expect_tx({.flags = ACK | PSH, .seq = seg(3), .ack = R + 1, .payload = text(536)});
  EXPECT_EQ(counters.tcp_loss_probes, 1u);
}

// §7.3: "retransmit the highest-sequence segment sent so far" — sent, not queued. The peer's
// window (four segments) holds back segments 4-7; the probe resends segment 3, the last sent.
// (Seed 1763 of the soak, and 39 more of seeds 1-2,000: the probe carried the end of the send
// buffer, beyond the window; the peer dropped it as unacceptable.)
TEST_F(TailLossProbe, RFC8985_7_3_probe_resends_the_highest_segment_sent_not_unsent_data) {
  config.initial_window_segments = 8;
  wire::TcpOptions peer;
  peer.sack_permitted = true;
  open_active();
  expect_tx({.flags = SYN, .seq = L});
  expect_transition(State::Closed, State::SynSent);
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = 4 * kSegment, .options = peer});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  expect_transition(State::SynSent, State::Established);
  send(text(8 * kSegment));
  ASSERT_EQ(sent(), (std::vector<int>{0, 1, 2, 3}));
  fire_next_timer();
  EXPECT_EQ(sent(), (std::vector<int>{3}));
  EXPECT_EQ(counters.tcp_loss_probes, 1u);
}

// §7.2: one segment in flight: the PTO adds WCDelAckT (200 ms), the peer may delay its ACK;
// "PTO = min(PTO, RTO)": here the RTO (rto_min, 200 ms) is earlier, and the probe takes its
// place — no RTO expiration, no backoff, no cwnd collapse.
TEST_F(TailLossProbe, RFC8985_7_2_single_segment_probe_waits_for_a_delayed_ACK_capped_at_RTO) {
  establish_sack();
  send("abc");
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "abc"});
  const Instant sent_at = now;
  auto at = fire_next_timer();
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, sent_at + config.rto_min);
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "abc"});
  EXPECT_EQ(counters.tcp_loss_probes, 1u);
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
}

// §7.4 with §6.2: segments 0-2 lost, the probe (3) arrives and is SACKed. Every older segment
// was sent a PTO before it, so they are lost: fast recovery starts at this ACK — one SACKed
// segment, below DupThresh, would not start it otherwise — instead of waiting for the RTO.
TEST_F(TailLossProbe, RFC8985_7_4_SACK_of_the_probe_starts_fast_recovery_at_once) {
  four_in_flight();
  fire_next_timer();
  EXPECT_EQ(sent(), (std::vector<int>{3}));
  ack(seg(0), {{3, 4}});
  EXPECT_EQ(counters.tcp_fast_retransmits, 1u);
  std::vector<int> resent = sent();
  ASSERT_FALSE(resent.empty());
  EXPECT_EQ(resent.front(), 0);
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
}

// §7.4.1: everything arrived and only the ACKs were lost; the peer reports the probe as a
// duplicate (D-SACK). Nothing was lost: the window is left alone.
TEST_F(TailLossProbe, RFC8985_7_4_1_DSACK_of_the_probe_leaves_cwnd_alone) {
  four_in_flight();
  fire_next_timer();
  EXPECT_EQ(sent(), (std::vector<int>{3}));
  const std::uint32_t cwnd = conn().status().cwnd;
  ack(seg(4), {{3, 4}});
  EXPECT_EQ(counters.tcp_loss_probe_repairs, 0u);
  EXPECT_GE(conn().status().cwnd, cwnd);
  EXPECT_EQ(counters.tcp_fast_retransmits, 0u);
}

// §7.4.2: the episode ends (ACK beyond TLP.end_seq) with no D-SACK: the probe repaired a loss
// of segment 3, and the congestion control reduces the window once.
TEST_F(TailLossProbe, RFC8985_7_4_2_probe_that_repaired_a_loss_reduces_cwnd) {
  four_in_flight();
  fire_next_timer();
  EXPECT_EQ(sent(), (std::vector<int>{3}));
  const std::uint32_t cwnd = conn().status().cwnd;
  ack(seg(4));
  EXPECT_EQ(counters.tcp_loss_probe_repairs, 1u);
  EXPECT_LT(conn().status().cwnd, cwnd);
  EXPECT_EQ(conn().status().ssthresh, conn().status().cwnd);
}

// §7.2/§7.3: at most one probe per episode: "TLP.end_seq" is set until the episode ends. An
// ACK of segment 0 (new data, below the probe's end) does not schedule a second probe; the
// RTO, armed after the probe, comes next.
TEST_F(TailLossProbe, RFC8985_7_2_one_probe_per_episode_partial_ACK_schedules_no_second) {
  four_in_flight();
  fire_next_timer();
  EXPECT_EQ(sent(), (std::vector<int>{3}));
  advance(std::chrono::milliseconds(1));
  ack(seg(1));
  const Instant acked_at = now;
  auto at = fire_next_timer();
  ASSERT_TRUE(at);
  EXPECT_GE(*at, acked_at + config.rto_min);
  EXPECT_EQ(sent(), (std::vector<int>{1}));  // the RTO's retransmission
  EXPECT_EQ(counters.tcp_loss_probes, 1u);
  EXPECT_EQ(counters.tcp_rto_expirations, 1u);
}

// TcpConfig::loss_probes_per_episode (3 by default; RFC 8985 §7.2 sends one): a probe whose
// episode draws no ACK is followed by another 2 PTOs later (4 SRTT + slack), then a third 8
// SRTT after that, each the same segment; the RTO stays where the first probe armed it
// (§7.3) and comes after them. RFC 9002 §6.2.1 doubles QUIC's PTO so.
TEST_F(TailLossProbe, Repeated_probes_back_off_and_leave_the_RTO_where_the_first_armed_it) {
  config.loss_probes_per_episode = 3;
  four_in_flight();
  auto first = fire_next_timer();
  ASSERT_TRUE(first);
  EXPECT_EQ(sent(), (std::vector<int>{3}));
  ASSERT_TRUE(conn().next_deadline());
  const Instant rto_at = *first + conn().status().rto;
  auto second = fire_next_timer();
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, *first + 4 * 1us + 200us);
  EXPECT_EQ(sent(), (std::vector<int>{3}));
  auto third = fire_next_timer();
  ASSERT_TRUE(third);
  EXPECT_EQ(*third, *second + 8 * 1us + 200us);
  EXPECT_EQ(sent(), (std::vector<int>{3}));
  EXPECT_EQ(counters.tcp_loss_probes, 3u);
  // No fourth: the RTO, where the first probe put it.
  auto rto = fire_next_timer();
  ASSERT_TRUE(rto);
  EXPECT_EQ(*rto, rto_at);
  EXPECT_EQ(sent(), (std::vector<int>{0}));
  EXPECT_EQ(counters.tcp_loss_probes, 3u);
  EXPECT_EQ(counters.tcp_rto_expirations, 1u);
}

// A later probe's ACK ends the episode as the first one's would: an ACK of everything (the
// peer had it all; every earlier ACK was lost) stops the probes and the RTO.
TEST_F(TailLossProbe, Repeated_probe_answered_ends_the_episode) {
  config.loss_probes_per_episode = 3;
  four_in_flight();
  ASSERT_TRUE(fire_next_timer());
  ASSERT_TRUE(fire_next_timer());
  EXPECT_EQ(sent(), (std::vector<int>{3, 3}));
  ack(seg(4));
  EXPECT_FALSE(conn().next_deadline());
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
}

// No probe into a zero window (ours; Linux's probe of new data also waits for the window):
// the peer acknowledged segments 0-1 and closed its window, holding the rest; what follows is
// the RTO (with data in flight, RFC 9293 §3.8.6.1), not a probe 2 SRTT later.
TEST_F(TailLossProbe, No_probe_into_a_zero_window) {
  four_in_flight();
  inject({.flags = ACK, .seq = R + 1, .ack = seg(2), .window = 0});
  const Instant acked_at = now;
  auto at = fire_next_timer();
  ASSERT_TRUE(at);
  EXPECT_GE(*at, acked_at + config.rto_min);
  EXPECT_EQ(counters.tcp_loss_probes, 0u);
}

// §7.2: "the connection has SACK enabled" — without SACK no probe; the RTO comes first.
TEST_F(TailLossProbe, RFC8985_7_2_no_probe_without_SACK) {
  config.initial_window_segments = 4;
  establish_active();
  send(text(4 * 536));
  EXPECT_EQ(sent(), (std::vector<int>{0, 1, 2, 3}));
  fire_next_timer();
  EXPECT_EQ(sent(), (std::vector<int>{0}));
  EXPECT_EQ(counters.tcp_loss_probes, 0u);
  EXPECT_EQ(counters.tcp_rto_expirations, 1u);
}

// TcpConfig::tail_loss_probe off (on by default): the RTO as before.
TEST_F(TailLossProbe, Off_by_config_means_RTO_first) {
  config.tail_loss_probe = false;
  four_in_flight();
  fire_next_timer();
  EXPECT_EQ(sent(), (std::vector<int>{0}));
  EXPECT_EQ(counters.tcp_loss_probes, 0u);
}

// The peer closed first (its FIN acknowledged), then we did: our FIN alone is in flight in
// LAST-ACK. The peer, in FIN-WAIT-2, acknowledges a FIN at once (RFC 9293 §3.10.7.4), so the
// probe comes 2 SRTT + loss_probe_slack after it, not WCDelAckT (TcpConfig::prompt_fin_probe),
// and it is the FIN again; its ACK ends the connection.
TEST_F(TailLossProbe, Prompt_FIN_probe_in_LAST_ACK_comes_2_SRTT_after_the_FIN) {
  establish_sack();
  inject({.flags = FIN | ACK, .seq = R + 1, .ack = L + 1});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 2});
  expect_transition(State::Established, State::CloseWait);
  close();
  expect_tx({.flags = FIN | ACK, .seq = L + 1, .ack = R + 2});
  expect_transition(State::CloseWait, State::LastAck);
  const Instant sent_at = now;
  auto at = fire_next_timer();
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, sent_at + 2 * 1us + config.loss_probe_slack);
  auto probe = expect_tx({.flags = FIN | ACK, .seq = L + 1, .ack = R + 2});
  EXPECT_TRUE(probe.retransmission);
  EXPECT_EQ(counters.tcp_loss_probes, 1u);
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
  inject({.flags = ACK, .seq = R + 2, .ack = L + 2});
  expect_transition(State::LastAck, State::Closed);
}

// The same in CLOSING (both FINs crossed): the peer acknowledges ours at once too.
TEST_F(TailLossProbe, Prompt_FIN_probe_in_CLOSING_comes_2_SRTT_after_the_FIN) {
  establish_sack();
  close();
  expect_tx({.flags = FIN | ACK, .seq = L + 1, .ack = R + 1});
  expect_transition(State::Established, State::FinWait1);
  inject({.flags = FIN | ACK, .seq = R + 1, .ack = L + 1});
  expect_tx({.flags = ACK, .seq = L + 2, .ack = R + 2});
  expect_transition(State::FinWait1, State::Closing);
  const Instant acked_at = now;
  auto at = fire_next_timer();
  ASSERT_TRUE(at);
  EXPECT_LT(*at, acked_at + config.rto_min);
  expect_tx({.flags = FIN | ACK, .seq = L + 1, .ack = R + 2});
  EXPECT_EQ(counters.tcp_loss_probes, 1u);
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
}

// The peer's FIN arrives (CLOSING) while data is still unacknowledged: the PTO armed when the
// data and our FIN went out stays where it was — the peer's FIN says nothing of our data's
// fate, and the probe is not pushed later by it.
TEST_F(TailLossProbe, Peers_FIN_in_CLOSING_leaves_a_data_probe_where_it_was) {
  establish_sack_20ms();
  send(text(2 * kSegment));
  close();
  EXPECT_EQ(tx_pending(), 3u);  // two segments, then our FIN
  sent();
  const Instant sent_at = now;
  ASSERT_TRUE(conn().next_deadline());
  const Instant probe_at = *conn().next_deadline();
  EXPECT_EQ(probe_at, sent_at + 2 * 20ms + config.loss_probe_slack);
  advance(30ms);
  inject({.flags = FIN | ACK, .seq = R + 1, .ack = L + 1});  // acknowledges nothing
  expect_state(State::Closing);
  sent();  // its ACK
  ASSERT_TRUE(conn().next_deadline());
  EXPECT_EQ(*conn().next_deadline(), probe_at);
}

// An episode's later probe (TcpConfig::loss_probes_per_episode) is not pushed back by the
// peer's FIN either (rescheduled from the FIN's arrival it could even fall after the RTO the
// first probe armed, and be dropped): it goes where it was, before that RTO.
TEST_F(TailLossProbe, Peers_FIN_in_CLOSING_leaves_an_episodes_later_probe_where_it_was) {
  config.loss_probes_per_episode = 3;
  establish_sack_20ms();
  send(text(2 * kSegment));
  close();
  sent();  // two segments and our FIN
  auto first = fire_next_timer();
  ASSERT_TRUE(first);
  EXPECT_EQ(counters.tcp_loss_probes, 1u);
  sent();
  ASSERT_TRUE(conn().next_deadline());
  const Instant second_at = *conn().next_deadline();  // the episode's second probe
  EXPECT_LT(second_at, *first + config.rto_min);      // before the RTO the first armed
  advance(std::chrono::milliseconds(50));
  inject({.flags = FIN | ACK, .seq = R + 1, .ack = L + 1});
  expect_state(State::Closing);
  sent();
  ASSERT_TRUE(conn().next_deadline());
  EXPECT_EQ(*conn().next_deadline(), second_at);
  fire_next_timer();
  // The last data segment again, our FIN on it (RFC 8985 §7.3).
  expect_tx({.flags = FIN | PSH | ACK, .seq = seg(1), .ack = R + 2, .payload = text(kSegment)});
  EXPECT_EQ(counters.tcp_loss_probes, 2u);
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
}

// Our FIN first (FIN-WAIT-1): the peer, in ESTABLISHED, may delay the ACK of a lone FIN
// (Linux's, in its ping-pong mode, does), so §7.2's WCDelAckT stands and the probe takes the
// RTO's place at rto_min — a probe (§7.3), not an RTO expiration: no backoff.
TEST_F(TailLossProbe, RFC8985_7_2_lone_FIN_first_is_probed_at_the_RTO_not_timed_out) {
  establish_sack();
  close();
  expect_tx({.flags = FIN | ACK, .seq = L + 1, .ack = R + 1});
  const Instant sent_at = now;
  auto at = fire_next_timer();
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, sent_at + config.rto_min);
  expect_tx({.flags = FIN | ACK, .seq = L + 1, .ack = R + 1});
  EXPECT_EQ(counters.tcp_loss_probes, 1u);
  EXPECT_EQ(counters.tcp_rto_expirations, 0u);
}

// TcpConfig::prompt_fin_probe off (the linux profile): LAST-ACK's lone FIN waits WCDelAckT,
// capped at the RTO, as any single segment does.
TEST_F(TailLossProbe, Prompt_FIN_probe_off_waits_as_for_any_single_segment) {
  config.prompt_fin_probe = false;
  establish_sack();
  inject({.flags = FIN | ACK, .seq = R + 1, .ack = L + 1});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 2});
  close();
  expect_tx({.flags = FIN | ACK, .seq = L + 1, .ack = R + 2});
  const Instant sent_at = now;
  auto at = fire_next_timer();
  ASSERT_TRUE(at);
  EXPECT_EQ(*at, sent_at + config.rto_min);
  expect_tx({.flags = FIN | ACK, .seq = L + 1, .ack = R + 2});
  EXPECT_EQ(counters.tcp_loss_probes, 1u);
}

}  // namespace tail_loss_probe_test
}  // namespace synack::tcp::test
