// SPDX-License-Identifier: MIT
// How a bulk sender's data is cut: bursts the link cuts into segments (TcpConfig::
// gso_max_bytes) end at a segment boundary unless the data ends there, and the application
// hears of room in the send buffer in large pieces, not after every ACK. Either mistake puts
// short segments in the middle of a stream: more packets for the same bytes, each one a
// chance to be lost.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "harness.hpp"

namespace synack::tcp::test {
namespace {

class SendBurst : public Harness {
 protected:
  static constexpr std::uint16_t kMss = 1000;

  // ESTABLISHED with a peer that announced MSS 1000 and `window`.
  void establish_with_mss(std::uint16_t window) {
    open_active();
    expect_tx({.flags = SYN, .seq = L});
    wire::TcpOptions peer;
    peer.mss = kMss;
    inject({.flags = SYN | ACK, .seq = R, .ack = L + 1, .window = window, .options = peer});
    expect_tx({.flags = ACK, .seq = L + 1, .ack = R + 1});
    expect_state(State::Established);
  }
};

// RFC 9293 §3.8.6.2.1 sender SWS avoidance, for each segment of a burst: a peer window of
// 3.5 segments lets 3 full segments go in one burst; the half segment left waits for the ACK
// (it is neither a full segment nor the end of the data, and less than half the largest
// window offered), then the window slides and the next burst is again 3 whole segments.
TEST_F(SendBurst, RFC9293_3_8_6_2_1_a_window_limited_burst_ends_at_a_segment_boundary) {
  config.gso_max_bytes = 65000;
  config.no_delay = true;  // Nagle out of the way: this is the window's edge alone
  establish_with_mss(3500);
  ASSERT_EQ(send(std::string(10000, 'x')), 10000u);
  SentSegment burst = pop_tx();
  EXPECT_EQ(burst.seq, L + 1);
  EXPECT_EQ(burst.payload.size(), 3u * kMss) << "a short segment at the window's edge";
  expect_no_tx();
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1 + 3 * kMss, .window = 3500});
  burst = pop_tx();
  EXPECT_EQ(burst.seq, L + 1 + 3 * kMss);
  EXPECT_EQ(burst.payload.size(), 3u * kMss);
  expect_no_tx();
  // The end of the data may be short: 10,000 - 6,000 = 4,000 octets, 3 segments and then
  // the last 1,000 once the window allows; nothing is held back at the end of the stream.
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1 + 6 * kMss, .window = 4000});
  burst = pop_tx();
  EXPECT_EQ(burst.seq, L + 1 + 6 * kMss);
  EXPECT_EQ(burst.payload.size(), 4u * kMss);
  expect_no_tx();
}

// The same data without a window limit goes out whole, its short tail included (the end of
// the data, RFC 9293 §3.8.6.2.1 "or ... all the data queued"): the boundary rule cuts only
// bursts that stop before the data does.
TEST_F(SendBurst, RFC9293_3_8_6_2_1_the_end_of_the_data_goes_with_its_burst) {
  config.gso_max_bytes = 65000;
  config.no_delay = true;
  establish_with_mss(60000);
  ASSERT_EQ(send(std::string(4321, 'x')), 4321u);
  SentSegment burst = pop_tx();
  EXPECT_EQ(burst.payload.size(), 4321u);
  expect_no_tx();
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1 + 4321, .window = 60000});
  expect_no_tx();
}

// Follows Linux (sk_stream_write_space): after the send buffer filled, Writable comes once a
// third of it is free, not with the first ACK that frees anything. Woken at every ACK, a
// bulk writer adds two segments' worth at a time and the stream fills with short tails.
TEST_F(SendBurst, Linux_writable_waits_for_a_third_of_the_send_buffer) {
  config.send_buffer = 9000;
  config.no_delay = true;
  establish_with_mss(60000);
  (void)conn().take_events();
  ASSERT_EQ(send(std::string(9000, 'x')), 9000u);
  while (tx_pending() > 0) pop_tx();
  auto full = try_send("y");
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error(), Error::WouldBlock);
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1 + 2000, .window = 60000});
  EXPECT_FALSE(conn().take_events() & event::Writable) << "2,000 of 9,000 octets free";
  inject({.flags = ACK, .seq = R + 1, .ack = L + 1 + 3000, .window = 60000});
  EXPECT_TRUE(conn().take_events() & event::Writable) << "3,000 of 9,000 octets free";
  EXPECT_EQ(send(std::string(3000, 'z')), 3000u);
  while (tx_pending() > 0) pop_tx();
}

}  // namespace
}  // namespace synack::tcp::test
