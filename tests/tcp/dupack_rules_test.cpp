// SPDX-License-Identifier: MIT
// Duplicate ACK counting (RFC 5681 §2, RFC 6675 §2) and what it drives: limited transmit
// (RFC 3042) and fast retransmit. Scripted segment by segment in virtual time.
#include <string>

#include "harness.hpp"

namespace synack::tcp::test {
namespace {

std::string text(std::size_t n, char c = 'x') { return std::string(n, c); }

class DupAck : public Harness {
 protected:
  // RFC 6675's DupThresh rules, tested with TcpConfig::loss_detection = DupThresh (RACK, the
  // default, is tested in rack_rules_test.cpp).
  DupAck() { config.loss_detection = LossDetection::DupThresh; }
  static SeqNum seg(int i) { return L + 1 + 536 * i; }
  // The peer's ACK of SND.UNA = segment 0, SACKing segments [1, k), with `window`.
  void sack_ack(int k, std::uint16_t window) {
    wire::TcpOptions o;
    o.sack[o.sack_count++] = {seg(1).raw(), seg(k).raw()};
    inject({.flags = ACK, .seq = R + 1, .ack = seg(0), .window = window, .options = o});
  }
};

// RFC 6675 §2: an ACK carrying SACK information for octets not SACKed before is a DupAck even
// when its window differs from the last (a Linux receiver changes it in nearly every ACK);
// so limited transmit (RFC 3042 §2) sends one new segment on each of the first two, and the
// third starts recovery.
TEST_F(DupAck, RFC6675_DupAck_counts_new_SACK_information_whatever_the_window) {
  config.initial_window_segments = 4;
  establish_sack();
  send(text(8 * 536));
  for (int i = 0; i < 4; ++i) pop_tx();
  sack_ack(2, 64000);  // segment 0 lost; 1 arrived; the window moved
  expect_tx({.flags = ACK, .seq = seg(4), .ack = R + 1, .payload = text(536)});
  sack_ack(3, 63000);
  expect_tx({.flags = ACK, .seq = seg(5), .ack = R + 1, .payload = text(536)});
  EXPECT_EQ(counters.tcp_dup_acks, 2u);
  EXPECT_EQ(counters.tcp_fast_retransmits, 0u);
  sack_ack(4, 62000);
  auto rx = expect_tx({.flags = ACK, .seq = seg(0), .ack = R + 1, .payload = text(536)});
  EXPECT_TRUE(rx.retransmission);
  EXPECT_EQ(counters.tcp_fast_retransmits, 1u);
  while (tx_pending() > 0) pop_tx();
  // An ACK repeating what was SACKed already, with yet another window, is no DupAck.
  sack_ack(4, 61000);
  EXPECT_EQ(counters.tcp_dup_acks, 3u);
  while (tx_pending() > 0) pop_tx();
}

// RFC 5681 §2 without SACK: a changed window makes an ACK a window update, not a duplicate.
TEST_F(DupAck, RFC5681_without_SACK_an_ACK_with_a_new_window_is_no_duplicate) {
  config.initial_window_segments = 4;
  establish_active();
  send(text(6 * 536));
  for (int i = 0; i < 4; ++i) pop_tx();
  inject({.flags = ACK, .seq = R + 1, .ack = seg(0), .window = 60000});
  inject({.flags = ACK, .seq = R + 1, .ack = seg(0), .window = 59000});
  inject({.flags = ACK, .seq = R + 1, .ack = seg(0), .window = 58000});
  EXPECT_EQ(counters.tcp_dup_acks, 0u);
  expect_no_tx();
}

}  // namespace
}  // namespace synack::tcp::test
