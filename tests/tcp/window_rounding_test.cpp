// SPDX-License-Identifier: MIT
// The receive window's field is the window right-shifted by Rcv.Wind.Shift (RFC 7323 §2.3), so
// it moves in steps of 2^shift octets while RCV.NXT moves by any number of them. Rounding the
// field up keeps the right edge from moving left (RFC 9293 SHLD-14), and may offer a few octets
// past the buffer; the receiver must still store every octet it offered, or the sender takes
// the missing ones for lost.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "harness.hpp"

namespace synack::tcp::test {
namespace {

using namespace std::chrono_literals;

class WindowRounding : public Harness {
 protected:
  static constexpr std::uint32_t kBuffer = 262144;  // shift 3: a field step is 8 octets
  static constexpr std::uint8_t kShift = 3;

  // The last segment sent (checking every one is an ACK of ours); fires the delayed-ACK timer
  // when nothing was sent.
  SentSegment last_ack() {
    if (tx_pending() == 0) fire_next_timer();
    SentSegment last = pop_tx();
    while (tx_pending() > 0) last = pop_tx();
    EXPECT_TRUE(last.has(ACK));
    EXPECT_TRUE(last.payload.empty());
    return last;
  }
  static SeqNum edge_of(const SentSegment& ack) {
    return ack.ack + (static_cast<std::uint32_t>(ack.window) << kShift);
  }
};

// A sender that fills every window we offer with 1,001-octet segments (RCV.NXT never moves by
// a multiple of 8), into a buffer the application never reads: each offered octet is stored
// and acknowledged, the edge never moves left by a whole step, and the buffer ends full with
// at most 2^3 - 1 octets of slack used.
TEST_F(WindowRounding, RFC7323_2_4_every_octet_a_rounded_up_window_offers_is_stored) {
  open_active();
  expect_tx({.flags = SYN, .seq = L});
  wire::TcpOptions peer;
  peer.window_scale = 7;
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = 1000, .options = peer});
  SentSegment ack = expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  ASSERT_EQ(conn().status().rcv_wscale, kShift);
  SeqNum highest_edge = edge_of(ack);
  SeqNum sent = R + 1;
  int windows = 0;
  while (ack.window > 0 && windows < 1000) {
    ++windows;
    const SeqNum edge = edge_of(ack);
    ASSERT_GE(edge, sent) << "window " << windows;
    while (sent < edge) {
      auto n = std::min<std::uint32_t>(1001, static_cast<std::uint32_t>(edge - sent));
      inject({.flags = ACK, .seq = sent, .ack = L + 1, .payload = std::string(n, 'd')});
      sent += n;
    }
    ack = last_ack();
    ASSERT_EQ(ack.ack, edge) << "window " << windows
                             << ": octets the window offered were not stored";
    EXPECT_GT(edge_of(ack) + (1u << kShift), highest_edge)
        << "window " << windows << ": the right edge moved left by a whole step";
    if (edge_of(ack) > highest_edge) highest_edge = edge_of(ack);
  }
  EXPECT_EQ(ack.window, 0) << "the window closes";
  const auto stored = static_cast<std::uint32_t>(sent - (R + 1));
  EXPECT_GE(stored, kBuffer);
  EXPECT_LT(stored, kBuffer + (1u << kShift));
  EXPECT_EQ(counters.drop_memory_pressure, 0u);
  EXPECT_EQ(receive_all().size(), stored);
  while (tx_pending() > 0) pop_tx();  // the window updates the read sends
}

// Small segments (3 octets each, unread) creep a rounded-up edge forward by up to 7 octets an
// ACK (RFC 7323 Appendix F). The creep stops at the buffer's slack: the field is then rounded
// down (a window retracted by fewer than 8 octets), and nothing beyond the slack is offered.
TEST_F(WindowRounding, RFC7323_appendix_F_creep_stops_at_the_buffer) {
  config.receive_buffer = 70000;  // shift 1: a 2-octet step, 1 octet of slack
  config.quick_acks = 0;
  open_active();
  expect_tx({.flags = SYN, .seq = L});
  wire::TcpOptions peer;
  peer.window_scale = 7;
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = 1000, .options = peer});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  ASSERT_EQ(conn().status().rcv_wscale, 1);
  // Fill all but a little with large segments, then 3-octet ones, each ACKed at once (a PSH
  // with nothing read: the delayed-ACK timer decides otherwise; fire it every time).
  SeqNum sent = R + 1;
  const std::uint32_t bulk = 70000 - 41;
  while (static_cast<std::uint32_t>(sent - (R + 1)) < bulk) {
    auto n = std::min<std::uint32_t>(1000, bulk - static_cast<std::uint32_t>(sent - (R + 1)));
    inject({.flags = ACK, .seq = sent, .ack = L + 1, .payload = std::string(n, 'b')});
    sent += n;
  }
  SentSegment ack = [&] {
    if (tx_pending() == 0) fire_next_timer();
    SentSegment last = pop_tx();
    while (tx_pending() > 0) last = pop_tx();
    return last;
  }();
  int steps = 0;
  while (ack.window > 0 && steps < 100) {
    ++steps;
    const SeqNum edge = ack.ack + (static_cast<std::uint32_t>(ack.window) << 1);
    ASSERT_LE(static_cast<std::uint32_t>(edge - (R + 1)), 70000u + 1)
        << "step " << steps << ": offered past the buffer and its slack";
    auto n = std::min<std::uint32_t>(3, static_cast<std::uint32_t>(edge - sent));
    if (n == 0) break;
    inject({.flags = ACK | PSH, .seq = sent, .ack = L + 1, .payload = std::string(n, 's')});
    sent += n;
    if (tx_pending() == 0) fire_next_timer();
    ack = pop_tx();
    while (tx_pending() > 0) ack = pop_tx();
    ASSERT_EQ(ack.ack, sent) << "step " << steps << ": an offered octet was not stored";
  }
  EXPECT_LT(steps, 100);
  EXPECT_EQ(receive_all().size(), static_cast<std::size_t>(sent - (R + 1)));
  while (tx_pending() > 0) pop_tx();  // the window updates the read sends
}

// The peer's side of the same rounding: its window moves in steps of 2^shift, so its right edge
// may fall back by less than a step while it still holds room for all we sent. Follows Linux
// (tcp_acceptable_seq): our segments keep SEG.SEQ = SND.MAX then, since a sequence number
// below one we already sent falls behind the peer's SND.WL1 and RFC 9293 §3.10.7.4's rule
// would ignore every window it carries (soak seed 171518: both ends waiting for ever). A
// window that falls back further is a real shrink, and SEG.SEQ stays inside it.
TEST_F(WindowRounding, RFC9293_3_10_7_4_a_peer_window_rounded_back_less_than_a_step_keeps_SND_MAX) {
  open_active();
  expect_tx({.flags = SYN, .seq = L});
  wire::TcpOptions peer;
  peer.window_scale = 10;  // the peer's window moves in 1,024-octet steps
  inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = 2048, .options = peer});
  expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
  send(std::string(2048, 'x'));  // the initial window sends three segments of 536 octets
  SeqNum snd_max = L + 1;
  while (tx_pending() > 0) {
    SentSegment d = pop_tx();
    snd_max = seq_max(snd_max, d.seq + static_cast<std::uint32_t>(d.payload.size()));
  }
  ASSERT_EQ(snd_max, L + 1609);
  // 536 octets acknowledged, one step offered: the edge is L + 1561, 48 octets behind SND.MAX.
  inject({.flags = ACK, .seq = R + 1, .ack = L + 537, .window = 1});
  while (tx_pending() > 0) pop_tx();
  inject({.flags = ACK | PSH, .seq = R + 1, .ack = L + 537, .window = 1, .payload = "hi"});
  if (tx_pending() == 0) fire_next_timer();
  SentSegment ack = pop_tx();
  while (tx_pending() > 0) ack = pop_tx();
  EXPECT_EQ(ack.seq, snd_max) << describe(ack);
  // A window of zero: the edge 1,072 octets behind SND.MAX, more than a step: clamped to it.
  inject({.flags = ACK | PSH, .seq = R + 3, .ack = L + 537, .window = 0, .payload = "ho"});
  if (tx_pending() == 0) fire_next_timer();
  ack = pop_tx();
  while (tx_pending() > 0) ack = pop_tx();
  EXPECT_EQ(ack.seq, L + 537) << describe(ack);
}

}  // namespace
}  // namespace synack::tcp::test
