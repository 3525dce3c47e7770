// SPDX-License-Identifier: MIT
// Orphans: connections the application has closed and no longer holds (Stack::close calls
// Connection::set_orphaned). Nobody waits for them, so they follow Linux's bounds instead of
// living as long as a peer keeps them (TcpConfig::orphan_retries, orphan_fin_timeout):
// - FIN-WAIT-2 ends after tcp_fin_timeout (60 s) when the peer's FIN never comes;
// - a zero window answered to 8 probes ends it (lost probes do not count) (Linux b248230c; a
// connection an
//   application holds keeps probing for ever, MUST-37: transfer_rules_test.cpp).
// Linux's third bound, a shorter R2 for orphans (tcp_orphan_retries), is not followed.
#include <gtest/gtest.h>

#include <chrono>

#include "harness.hpp"
#include "tcp/transitions.hpp"

namespace synack::tcp::test {
namespace {

class Orphan : public Harness {
 protected:
  Duration until_next_deadline() {
    auto d = conn().next_deadline();
    EXPECT_TRUE(d.has_value());
    return d ? *d - now : Duration{0};
  }
  void peer_ack(SeqNum ack, std::uint16_t window) {
    inject({.flags = ACK, .seq = R + 1, .ack = ack, .window = window});
  }
  // ESTABLISHED, the peer's window zero, "abc" queued behind it, then CLOSE (FIN-WAIT-1 with
  // nothing sent) and the application gone: an orphan whose data waits on the persist timer.
  void orphan_behind_a_zero_window() {
    establish_active();
    peer_ack(L + 1, 0);
    send("abc");
    close();
    expect_no_tx();
    expect_transition(State::Established, State::FinWait1);
    conn().set_orphaned(now);
  }
};

TEST_F(Orphan, Linux_tcp_fin_timeout_deletes_an_orphan_in_FIN_WAIT_2_after_60s) {
  reach_fin_wait_2();
  conn().set_orphaned(now);
  const Instant orphaned_at = now;
  EXPECT_EQ(until_next_deadline(), 60s);
  fire_next_timer();
  EXPECT_EQ(now - orphaned_at, 60s);
  expect_no_tx();  // deleted without a word, as Linux's timewait socket expires
  auto t = expect_transition(State::FinWait2, State::Closed);
  EXPECT_EQ(t.cause, label(Cause::TimeoutFinWait2));
  expect_state(State::Closed);
  EXPECT_FALSE(conn().error().has_value());
  EXPECT_EQ(counters.tcp_orphan_timeouts, 1u);
  EXPECT_EQ(counters.tcp_timeouts, 0u);
}

// A half-closed connection its application still holds waits in FIN-WAIT-2 for as long as the
// peer keeps sending (RFC 9293 §3.10.7.4): no timer at all.
TEST_F(Orphan, A_connection_its_application_holds_stays_in_FIN_WAIT_2) {
  reach_fin_wait_2();
  EXPECT_FALSE(conn().next_deadline().has_value());
  advance(std::chrono::hours(2));
  call_on_timer();
  expect_state(State::FinWait2);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 2, .payload = "late"});
  EXPECT_EQ(receive_all(), "late");
  while (tx_pending() > 0) pop_tx();
  expect_no_transition();
  EXPECT_EQ(counters.tcp_orphan_timeouts, 0u);
}

// Closed in FIN-WAIT-1, the orphan's FIN-WAIT-2 timeout starts when its FIN is acknowledged.
TEST_F(Orphan, The_FIN_WAIT_2_timeout_starts_when_an_orphan_enters_it) {
  reach_fin_wait_1();
  conn().set_orphaned(now);
  advance(5s);
  peer_ack(L + 2, 1000);
  expect_transition(State::FinWait1, State::FinWait2);
  EXPECT_EQ(until_next_deadline(), 60s);
}

// The peer's FIN before the timeout: TIME-WAIT as usual, and 2 MSL from then.
TEST_F(Orphan, The_peer_FIN_before_the_timeout_takes_an_orphan_to_TIME_WAIT) {
  reach_fin_wait_2();
  conn().set_orphaned(now);
  advance(59s);
  inject({.flags = FIN | ACK, .seq = R + 1, .ack = L + 2});
  expect_tx({.flags = ACK, .seq = L + 2, .ack = R + 2});
  expect_transition(State::FinWait2, State::TimeWait);
  EXPECT_EQ(until_next_deadline(), 2 * config.msl);
  fire_next_timer();
  auto t = expect_transition(State::TimeWait, State::Closed);
  EXPECT_EQ(t.cause, label(Cause::Timeout2Msl));
  EXPECT_EQ(counters.tcp_orphan_timeouts, 0u);
}

// Linux also cuts an orphan's retransmissions short (tcp_orphan_retries: about 100 s); here
// the FIN an orphan sends, and data it wrote before closing, keep R2 (data_retries, 942 s from
// the 200 ms floor): on a bad path they may need the time (soak seeds 2364, 65903), and R2
// bounds it all the same.
TEST_F(Orphan, An_orphan_FIN_is_retransmitted_up_to_R2_not_cut_short) {
  reach_fin_wait_1();
  const Instant fin_at = now;
  conn().set_orphaned(now);
  int retransmissions = 0;
  while (conn().state() == State::FinWait1 && retransmissions <= 100) {
    fire_next_timer();
    if (conn().state() != State::FinWait1) break;
    EXPECT_TRUE(expect_tx({.flags = FIN | ACK, .seq = L + 1, .ack = R + 1}).retransmission);
    ++retransmissions;
  }
  EXPECT_EQ(retransmissions, config.data_retries);
  EXPECT_EQ(now - fin_at, 942200ms);
  expect_transition(State::FinWait1, State::Closed);
  EXPECT_EQ(conn().error(), Error::TimedOut);
  EXPECT_EQ(counters.tcp_timeouts, 1u);
  EXPECT_EQ(counters.tcp_orphan_timeouts, 0u);
}

// Linux b248230c ("abort orphan sockets stalling on zero window probes"): data and FIN left
// behind a zero window that the peer answers every probe with. An application still holding
// the connection would probe for ever (MUST-37); the orphan is given up at the persist
// timer's expiry after its 8th answered probe.
TEST_F(Orphan, Linux_an_orphan_stalled_on_a_zero_window_ends_after_8_answered_probes) {
  orphan_behind_a_zero_window();
  const Instant closed_window_at = now;
  for (int probe = 1; probe <= 8; ++probe) {
    SCOPED_TRACE("probe " + std::to_string(probe));
    fire_next_timer();
    expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .payload = "a"});
    peer_ack(L + 1, 0);  // "still zero"
    expect_no_tx();
    expect_state(State::FinWait1);
  }
  fire_next_timer();
  expect_no_tx();
  EXPECT_EQ(now - closed_window_at, 102200ms);  // 0.2 x (1 + 2 + ... + 256)
  expect_transition(State::FinWait1, State::Closed);
  EXPECT_EQ(conn().error(), Error::TimedOut);
  EXPECT_EQ(counters.tcp_window_probes, 8u);
  EXPECT_EQ(counters.tcp_orphan_timeouts, 1u);
}

// A probe or its answer lost on the way does not count toward the orphan's bound (only toward
// R2, data_retries unanswered probes): a slow reader behind a lossy path is not given up for
// the loss (soak seed 65903). Linux counts every probe.
TEST_F(Orphan, Lost_probes_do_not_count_toward_the_orphan_bound) {
  orphan_behind_a_zero_window();
  for (int probe = 1; probe <= 12; ++probe) {  // no answer
    fire_next_timer();
    expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .payload = "a"});
  }
  for (int probe = 1; probe <= 7; ++probe) {  // answered, window still zero
    peer_ack(L + 1, 0);
    fire_next_timer();
    expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .payload = "a"});
  }
  expect_state(State::FinWait1);
  EXPECT_EQ(counters.tcp_orphan_timeouts, 0u);
  peer_ack(L + 1, 0);  // the 8th zero-window answer
  fire_next_timer();
  expect_no_tx();
  expect_transition(State::FinWait1, State::Closed);
  EXPECT_EQ(counters.tcp_orphan_timeouts, 1u);
}

// Either bound is off at 0.
TEST_F(Orphan, Zero_turns_the_FIN_WAIT_2_timeout_off) {
  config.orphan_fin_timeout = Duration{0};
  reach_fin_wait_2();
  conn().set_orphaned(now);
  EXPECT_FALSE(conn().next_deadline().has_value());
  expect_state(State::FinWait2);
}

TEST_F(Orphan, Zero_turns_the_zero_window_bound_off) {
  config.orphan_retries = 0;
  orphan_behind_a_zero_window();
  for (int probe = 1; probe <= 20; ++probe) {
    fire_next_timer();
    expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1, .payload = "a"});
    peer_ack(L + 1, 0);
  }
  expect_state(State::FinWait1);
  EXPECT_EQ(counters.tcp_orphan_timeouts, 0u);
}

}  // namespace
}  // namespace synack::tcp::test
