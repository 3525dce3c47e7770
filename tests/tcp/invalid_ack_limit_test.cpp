// SPDX-License-Identifier: MIT
// RFC 5961 §7 (and RFC 9293 §3.10.7.4 first check): the ACKs a connection sends in reply to
// what it did not ask for — challenge ACKs (§3.2 RST, §4.2 SYN, §5.2 old ACK), ACKs to
// unacceptable and PAWS-failed segments, ACKs of unsent data — are rate-limited per
// connection (Linux: tcp_invalid_ratelimit, one per 500 ms) and optionally stack-wide, as is
// the SYN,ACK resent for a copy of the peer's SYN in SYN-RECEIVED. The
// suppressed ones are counted. Segments carrying data are exempt, as in Linux.
#include "harness.hpp"

namespace synack::tcp::test {
namespace {

class InvalidAckLimit : public Harness {};

TEST_F(InvalidAckLimit, Challenge_ACKs_for_in_window_RSTs_at_most_one_per_500ms) {
  establish_active();
  for (int i = 0; i < 1000; ++i) inject({.flags = RST, .seq = R + 11 + i});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  expect_no_tx();
  EXPECT_EQ(counters.tcp_challenge_acks, 1u);
  EXPECT_EQ(counters.tcp_invalid_acks_suppressed, 999u);
  EXPECT_EQ(counters.drop_rst_in_window, 1000u);
  advance(499ms);
  inject({.flags = RST, .seq = R + 11});
  expect_no_tx();
  advance(1ms);
  inject({.flags = RST, .seq = R + 11});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  EXPECT_EQ(counters.tcp_challenge_acks, 2u);
  expect_state(State::Established);
}

TEST_F(InvalidAckLimit, SYN_challenges_and_unacceptable_pure_ACKs_share_the_limit) {
  establish_active();
  inject({.flags = SYN, .seq = R + 1});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  inject({.flags = ACK, .seq = R + 1 + 1000000, .ack = L + 1});  // far outside the window
  inject({.flags = ACK, .seq = R + 1, .ack = L + 5000});         // acks unsent data
  inject({.flags = SYN, .seq = R + 1});
  expect_no_tx();
  EXPECT_EQ(counters.tcp_invalid_acks_suppressed, 3u);
  EXPECT_EQ(counters.drop_sequence_unacceptable, 1u);
  EXPECT_EQ(counters.drop_ack_future, 1u);
  EXPECT_EQ(counters.tcp_challenge_acks, 1u);
}

// Linux's rule (tcp_oow_rate_limited): a segment with data is not part of an ACK loop. A
// retransmission below RCV.NXT is acknowledged every time, so the peer stops resending.
TEST_F(InvalidAckLimit, Old_data_segments_are_always_acknowledged) {
  establish_active();
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .payload = "abcd"});
  fire_next_timer();  // the delayed ACK
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 5});
  EXPECT_EQ(receive_all(), "abcd");
  for (int i = 0; i < 3; ++i) {
    inject({.flags = ACK, .seq = R + 1, .ack = L + 1, .payload = "abcd"});
    expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 5});
  }
  EXPECT_EQ(counters.tcp_invalid_acks_suppressed, 0u);
}

// Blind data injection (issue 11 §5): in-window data whose ACK field is a guess, ahead of
// SND.NXT or older than SND.UNA - MAX.SND.WND (RFC 5961 §5.2). The exemption for data does not
// apply: the replies share the limit, as Linux's tcp_send_challenge_ack, and no byte of it
// reaches the application.
TEST_F(InvalidAckLimit, In_window_data_with_a_guessed_ACK_is_limited_and_never_delivered) {
  establish_active();
  for (int i = 0; i < 500; ++i) {
    const SeqNum guess = i % 2 ? L + 1 + 100000 + i : L + 1 - 0x40000000 - i;
    inject({.flags = ACK, .seq = R + 1 + i, .ack = guess, .payload = "evil"});
  }
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  expect_no_tx();
  EXPECT_EQ(counters.drop_ack_future, 250u);
  EXPECT_EQ(counters.drop_ack_too_old, 250u);
  EXPECT_EQ(counters.tcp_invalid_acks_suppressed, 499u);
  EXPECT_EQ(receive_all(), "");
  expect_state(State::Established);
}

TEST_F(InvalidAckLimit, Zero_interval_turns_the_limit_off) {
  config.invalid_ack_interval = Duration{0};
  establish_active();
  for (int i = 0; i < 3; ++i) {
    inject({.flags = RST, .seq = R + 11});
    expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  }
  EXPECT_EQ(counters.tcp_invalid_acks_suppressed, 0u);
}

// SYN-RECEIVED answers a copy of the peer's SYN with the SYN,ACK again (its first was lost),
// but a stream of copies draws one per 500 ms, not one each (Linux: tcp_check_req's
// tcp_oow_rate_limited); the peer's real retransmission 1 s later is answered.
TEST_F(InvalidAckLimit, Copies_of_the_SYN_in_SYN_RECEIVED_draw_one_SYN_ACK_per_500ms) {
  open_passive();
  inject({.flags = SYN, .seq = R});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  for (int i = 0; i < 1000; ++i) inject({.flags = SYN, .seq = R});
  EXPECT_TRUE(expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1}).retransmission);
  expect_no_tx();
  EXPECT_EQ(counters.tcp_invalid_acks_suppressed, 999u);
  advance(999ms);  // before our own 1 s timer
  inject({.flags = SYN, .seq = R});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  expect_state(State::SynReceived);
}

// The limit on those SYN,ACKs does not carry into ESTABLISHED (Linux: the child socket's
// last_oow_ack_time starts at 0): an unacceptable segment right after the handshake is
// answered.
TEST_F(InvalidAckLimit, The_SYN_ACK_limit_does_not_follow_into_ESTABLISHED) {
  open_passive();
  inject({.flags = SYN, .seq = R});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  inject({.flags = SYN, .seq = R});
  expect_tx({.flags = SYN | ACK, .seq = L, .ack = R + 1});
  advance(10ms);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1});
  expect_state(State::Established);
  advance(10ms);
  inject({.flags = ACK, .seq = R + 1 + 1000000, .ack = L + 1});  // far outside the window
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  EXPECT_EQ(counters.tcp_invalid_acks_suppressed, 0u);
}

// Two ends that disagree about sequence space: every pure ACK each sends is unacceptable to
// the other. Before the limit they answered each other at once, for ever, at one instant of
// virtual time. Played here against a scripted peer that answers every ACK with an
// unacceptable one: over 10 s the connection sends at most one ACK per 500 ms.
TEST_F(InvalidAckLimit, An_ACK_war_runs_at_most_at_the_limit) {
  establish_active();
  int sent = 0;
  const Instant end = now + 10s;
  inject({.flags = ACK, .seq = R + 1 + 1000000, .ack = L + 1});
  // Bounded: without the limit, the exchange never leaves one instant; stop after 10,000.
  while (now < end && sent < 10000) {
    while (tx_pending() > 0 && sent < 10000) {
      pop_tx();
      ++sent;
      // The peer answers at once with another unacceptable ACK.
      inject({.flags = ACK, .seq = R + 1 + 1000000, .ack = L + 1});
    }
    advance(10ms);
    inject({.flags = ACK, .seq = R + 1 + 1000000, .ack = L + 1});
  }
  while (tx_pending() > 0) {
    pop_tx();
    ++sent;
  }
  EXPECT_LE(sent, 21);  // 10 s / 500 ms, plus the first
  EXPECT_GE(sent, 19);
}

}  // namespace
}  // namespace synack::tcp::test
