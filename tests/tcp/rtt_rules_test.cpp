// SPDX-License-Identifier: MIT
// One test per rule of round-trip timing: Karn's algorithm (RFC 6298 §3) against every kind of
// retransmission, the backoff's collapse when new data is acknowledged (RFC 6298 §5), and the
// timestamps of RFC 7323 (§4 RTTM, Appendix G, and the receiver's TS.Recent for a
// retransmitted duplicate). Scripted segment by segment in virtual time.
#include <string>

#include "harness.hpp"

namespace synack::tcp::test {
namespace rtt_rules_test {

std::string text(std::size_t n, char c = 'x') { return std::string(n, c); }

wire::TcpOptions ts(std::uint32_t value, std::uint32_t echo) {
  wire::TcpOptions o;
  o.timestamps = wire::Timestamps{value, echo};
  return o;
}

class Rtt : public Harness {
 protected:
  // CLOSED -> ESTABLISHED with the peer's SYN,ACK `rtt` after our SYN (first sample).
  void establish_with(const wire::TcpOptions& peer, Duration rtt) {
    open_active();
    expect_tx({.flags = SYN, .seq = L});
    expect_transition(State::Closed, State::SynSent);
    advance(rtt);
    inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = 65535, .options = peer});
    expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
    expect_transition(State::SynSent, State::Established);
  }
  std::uint32_t ts_clock() const { return static_cast<std::uint32_t>(to_us(now) / 1000); }
  // With timestamps: our SYN times out once, and 3 s after the retransmission the SYN,ACK
  // arrives echoing its TSval (the peer's own SYN,ACK timed out meanwhile).
  void syn_timeout_then_a_3s_echo() {
    config.timestamps = true;
    open_active();
    expect_tx({.flags = SYN, .seq = L});
    advance(std::chrono::seconds(1));
    call_on_timer();
    auto syn = expect_tx({.flags = SYN, .seq = L});
    ASSERT_TRUE(syn.options.timestamps);
    advance(std::chrono::seconds(3));
    inject({.flags = SYN | ACK,
            .seq = R,
            .ack = L + 1,
            .window = 65535,
            .options = ts(500, syn.options.timestamps->value)});
    expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  }
  // The peer ACKs `data` (100 octets after L + 1) 10 ms after it left, echoing its TSval.
  void ack_data_after_10ms(const SentSegment& data) {
    advance(10ms);
    inject({.flags = ACK,
            .seq = R + 1,
            .ack = L + 101,
            .window = 65535,
            .options = ts(510, data.options.timestamps->value)});
  }
};

// RFC 6298 §3 (Karn): the ACK of a segment that was fast-retransmitted (RFC 5681 §3.2) may
// answer either copy; the measurement running on it is cancelled, not taken when the ACK
// finally covers it (a sample spanning the whole recovery).
TEST_F(Rtt, RFC6298_Karn_fast_retransmission_cancels_the_running_sample) {
  establish_with({}, 100ms);  // SRTT 100 ms, RTTVAR 50 ms, RTO 300 ms
  send(text(4 * 536));        // the first segment is timed
  for (int i = 0; i < 4; ++i) pop_tx();
  advance(10ms);
  for (int i = 0; i < 3; ++i) inject({.flags = ACK, .seq = R + 1, .ack = L + 1});
  auto rx = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .payload = text(536)});
  EXPECT_TRUE(rx.retransmission);
  advance(250ms);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1 + 4 * 536});
  auto st = conn().status();
  EXPECT_EQ(*st.srtt, 100ms) << "no sample from a retransmitted segment";
  EXPECT_EQ(st.rttvar, 50ms);
}

// RFC 6298 §3 (Karn) again, for a retransmission by SACK recovery (RFC 6675 §5), with the one
// segment per flight timed as without RACK's records (DupThresh loss detection; with RACK every
// SACK of a segment sent once is a sample: rtt_sample_rules_test.cpp).
TEST_F(Rtt, RFC6298_Karn_SACK_retransmission_cancels_the_running_sample) {
  config.loss_detection = LossDetection::DupThresh;
  wire::TcpOptions sack_ok;
  sack_ok.sack_permitted = true;
  establish_with(sack_ok, 100ms);
  send(text(5 * 536));
  for (int i = 0; i < 5; ++i) pop_tx();
  advance(10ms);
  for (int k = 2; k <= 4; ++k) {
    wire::TcpOptions o;
    o.sack[o.sack_count++] = {(L + 537).raw(), (L + 1 + 536 * k).raw()};
    inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .options = o});
  }
  EXPECT_TRUE(pop_tx().retransmission);
  advance(400ms);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1 + 5 * 536});
  EXPECT_EQ(*conn().status().srtt, 100ms) << "no sample from a retransmitted segment";
}

// RFC 6298 §5 (note after rule 5.7) with timestamps: an ACK of new data whose echoed TSval
// is implausible (from the future here, a lying peer) gives no sample — dropped and counted —
// but the backed-off RTO collapses back to SRTT + 4 RTTVAR: the path delivers again.
TEST_F(Rtt, RFC6298_backoff_collapses_on_new_ACK_even_when_its_TS_sample_is_discarded) {
  establish_with(ts(500, 0), 100ms);  // RTO 300 ms
  send("x");
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = "x"});
  fire_next_timer();
  pop_tx();
  fire_next_timer();
  pop_tx();
  EXPECT_EQ(conn().status().rto, 1200ms);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 2, .options = ts(600, ts_clock() + 5000)});
  auto st = conn().status();
  EXPECT_EQ(*st.srtt, 100ms) << "no sample from an echo in the future";
  EXPECT_EQ(counters.tcp_rtt_samples_discarded, 1u);
  EXPECT_EQ(st.rto, 300ms) << "the backoff is gone";
}

// RFC 7323 §4.1 with Appendix G: a timestamp sample on an ACK in the middle of a flight of
// F bytes weighs alpha / ExpectedSamples, ExpectedSamples = ceil(F / (2 SMSS)).
TEST_F(Rtt, RFC7323_AppendixG_timestamp_samples_weigh_one_over_ExpectedSamples) {
  establish_with(ts(500, 0), 100ms);  // SRTT 100 ms, RTTVAR 50 ms
  std::uint32_t mss = conn().status().snd_mss;
  send(text(8 * mss));
  for (int i = 0; i < 8; ++i) pop_tx();
  std::uint32_t sent_ts = ts_clock();
  advance(150ms);
  // The timed first segment's ACK gives a sequence sample: 150 ms, full weight.
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1 + mss, .options = ts(600, sent_ts)});
  auto st = conn().status();
  EXPECT_EQ(*st.srtt, 106250us);  // (7 * 100 + 150) / 8
  EXPECT_EQ(st.rttvar, 50ms);     // (3 * 50 + 50) / 4
  // The next ACK: a timestamp sample, 7 segments in flight -> ExpectedSamples = 4.
  advance(10ms);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1 + 3 * mss, .options = ts(610, sent_ts)});
  st = conn().status();
  EXPECT_EQ(*st.srtt, (106250us * 31 + 160ms) / 32);
  EXPECT_EQ(st.rttvar, (50ms * 15 + (160ms - 106250us)) / 16);
}

// The receiver's side of the same measurement: a retransmitted duplicate (its ACK was lost)
// makes TS.Recent its TSval when newer, so the immediate ACK echoes the retransmission and
// the sender's sample does not span its backoff. Follows Linux; see check_sequence() for
// where this departs from RFC 7323 §4.3 read literally.
TEST_F(Rtt, RFC7323_ACK_of_a_retransmitted_duplicate_echoes_its_TSval) {
  establish_with(ts(500, 0), 10ms);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .payload = "data", .options = ts(600, 0)});
  fire_next_timer();  // delayed ACK
  auto ack = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 5});
  EXPECT_EQ(ack.options.timestamps->echo, 600u);
  advance(3s);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .payload = "data", .options = ts(3600, 0)});
  auto dup_ack = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 5});
  EXPECT_EQ(dup_ack.options.timestamps->echo, 3600u) << "the retransmission's TSval";
  EXPECT_EQ(counters.drop_sequence_unacceptable, 1u);
  EXPECT_EQ(receive_all(), "data");
}

// RFC 6298 §5.7 (MUST): after our SYN timed out (with the 1 s initial RTO, under 3 s), "the
// RTO MUST be re-initialized to 3 seconds when data transmission begins": the SYN,ACK brings
// no sample (Karn, §3), and the first data waits 3 s, not the backed-off 2 s.
TEST_F(Rtt, RFC6298_5_7_syn_timeout_makes_the_first_data_rto_3s) {
  open_active();
  expect_tx({.flags = SYN, .seq = L});
  advance(std::chrono::seconds(1));
  call_on_timer();
  expect_tx({.flags = SYN, .seq = L});
  advance(std::chrono::milliseconds(10));
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = 65535});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  EXPECT_EQ(send(text(100)), 100u);
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = text(100)});
  EXPECT_EQ(conn().next_deadline(), now + std::chrono::seconds(3));
}

// The same for a SYN,ACK that timed out (SYN-RECEIVED): the first data's RTO is 3 s.
TEST_F(Rtt, RFC6298_5_7_synack_timeout_makes_the_first_data_rto_3s) {
  open_passive();
  inject({.flags = SYN, .seq = R, .window = 65535});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  advance(std::chrono::seconds(1));
  call_on_timer();
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  advance(std::chrono::milliseconds(10));
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .window = 65535});
  EXPECT_EQ(send(text(100)), 100u);
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = text(100)});
  EXPECT_EQ(conn().next_deadline(), now + std::chrono::seconds(3));
}

// RFC 6298 §3 (Karn) in SYN-RECEIVED: our SYN,ACK is lost and the peer's SYN comes again
// before our timer fires; the SYN,ACK resent for it is a retransmission too, so the ACK that
// completes the handshake gives no sample — not 910 ms timed from the lost first copy.
TEST_F(Rtt, RFC6298_Karn_SYN_ACK_resent_for_a_repeated_SYN_gives_no_sample) {
  open_passive();
  inject({.flags = SYN, .seq = R, .window = 65535});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  advance(std::chrono::milliseconds(900));
  inject({.flags = SYN, .seq = R, .window = 65535});
  auto again = expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  EXPECT_TRUE(again.retransmission);
  advance(std::chrono::milliseconds(10));
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .window = 65535});
  expect_state(State::Established);
  EXPECT_FALSE(conn().status().srtt) << "no sample from a retransmitted SYN,ACK";
  EXPECT_EQ(conn().status().rto, std::chrono::seconds(1)) << "the initial RTO (§2.1)";
}

// RFC 7323 §4.3 (2) in SYN-RECEIVED: a repeated SYN (SEG.SEQ = IRS <= Last.ACK.sent) brings a
// newer TSval, which becomes TS.Recent, so the SYN,ACK resent for it echoes that copy. With
// the first copy's TSval echoed, the peer measured its whole SYN timeout as the RTT (soak seed
// 70292: a 2 s sample on a 32 ms path, a first data RTO of 6.8 s).
TEST_F(Rtt, RFC7323_4_3_SYN_ACK_resent_for_a_repeated_SYN_echoes_that_SYN) {
  open_passive();
  wire::TcpOptions syn_ts = ts(1000, 0);
  inject({.flags = SYN, .seq = R, .window = 65535, .options = syn_ts});
  auto first = expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  ASSERT_TRUE(first.options.timestamps);
  EXPECT_EQ(first.options.timestamps->echo, 1000u);
  advance(std::chrono::seconds(1));
  inject({.flags = SYN, .seq = R, .window = 65535, .options = ts(2000, 0)});
  auto again = expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  ASSERT_TRUE(again.options.timestamps);
  EXPECT_EQ(again.options.timestamps->echo, 2000u) << "the copy it answers, not the first";
  advance(std::chrono::seconds(1));
  inject({.flags = SYN, .seq = R, .window = 65535, .options = ts(1500, 0)});
  auto older = expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  ASSERT_TRUE(older.options.timestamps);
  EXPECT_EQ(older.options.timestamps->echo, 2000u) << "an older TSval does not go back";
}

// Off (the linux profile: Linux 6.x keeps its RTO there), the backed-off 2 s stays; and with
// no SYN timeout there is nothing to re-initialize: the 1 s initial RTO.
TEST_F(Rtt, RFC6298_5_7_off_or_without_a_syn_timeout_keeps_the_rto) {
  config.rto_after_syn_timeout = Duration{0};
  open_active();
  expect_tx({.flags = SYN, .seq = L});
  advance(std::chrono::seconds(1));
  call_on_timer();
  expect_tx({.flags = SYN, .seq = L});
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = 65535});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  EXPECT_EQ(send(text(100)), 100u);
  expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = text(100)});
  EXPECT_EQ(conn().next_deadline(), now + std::chrono::seconds(2));
}

// A handshake sample after a SYN timeout is provisional (rtt_estimator.hpp,
// treat_as_provisional(); RFC 6298 §5 note after rule 5.7, §5.7, §2.2). Our SYN times out
// once; the SYN,ACK that arrives echoes the retransmitted SYN's TSval 3 s later (the peer's
// own SYN,ACK timed out meanwhile): a 3 s sample on a 10 ms path. Its RTO (3 s + 4 x 1.5 s)
// is held to §5.7's 3 s, and the first data sample, 10 ms, starts SRTT and RTTVAR afresh.
TEST_F(Rtt, RFC6298_5_handshake_sample_after_a_SYN_timeout_is_provisional) {
  syn_timeout_then_a_3s_echo();
  EXPECT_EQ(*conn().status().srtt, std::chrono::seconds(3)) << "the sample is taken";
  EXPECT_EQ(conn().status().rto, std::chrono::seconds(3)) << "its RTO held to 3 s";
  EXPECT_EQ(send(text(100)), 100u);
  auto data = expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = text(100)});
  EXPECT_EQ(conn().next_deadline(), now + std::chrono::seconds(3));
  ack_data_after_10ms(data);
  EXPECT_EQ(*conn().status().srtt, 10ms) << "the first data sample starts SRTT afresh";
  EXPECT_EQ(conn().status().rttvar, 5ms);
}

// Off (the linux profile, as Linux: tcp_ack_update_rtt takes the SYN,ACK's echo as any
// other), the same 3 s sample is smoothed: after the 10 ms sample SRTT is still near 2.6 s.
TEST_F(Rtt, RFC6298_5_handshake_sample_kept_when_the_5_7_fallback_is_off) {
  config.rto_after_syn_timeout = Duration{0};
  syn_timeout_then_a_3s_echo();
  EXPECT_EQ(send(text(100)), 100u);
  auto data = expect_tx({.flags = ACK | PSH, .seq = L + 1, .ack = R + 1, .payload = text(100)});
  ack_data_after_10ms(data);
  EXPECT_GT(*conn().status().srtt, std::chrono::seconds(2));
}

}  // namespace rtt_rules_test
}  // namespace synack::tcp::test
