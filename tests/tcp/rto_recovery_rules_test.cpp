// SPDX-License-Identifier: MIT
// Recovery after a retransmission timeout with SACK (RFC 6675 §5.1, RFC 8985 §6.3): the
// scoreboard survives the timeout, only the holes are resent, cwnd grows in slow start, and a
// retransmission lost again is found by SACK instead of a second RTO. Scripted in virtual time.
#include <algorithm>
#include <string>
#include <vector>

#include "harness.hpp"

namespace synack::tcp::test {
namespace rto_recovery_rules_test {

std::string text(std::size_t n, char c = 'x') { return std::string(n, c); }

class RtoRecovery : public SegmentHarness {
 protected:
  // RFC 6675's DupThresh rules, tested with TcpConfig::loss_detection = DupThresh (RACK, the
  // default, is tested in rack_rules_test.cpp).
  // These scripts are about what the RTO does: the tail loss probe (on by default, RFC 8985
  // §7), which would go first, is off (tail_loss_probe_test.cpp tests it).
  RtoRecovery() {
    config.loss_detection = LossDetection::DupThresh;
    config.tail_loss_probe = false;
  }
};

// RFC 6675 §5.1 (the scoreboard kept across the timeout, with Linux's reneging test) and
// RFC 8985 §6.3 (all unSACKed data marked lost on RTO): segments 2-3 reached the peer; after
// the RTO they are never sent again, while the holes 0, 1 and 4-7 are, in slow start.
TEST_F(RtoRecovery, RFC6675_5_1_scoreboard_kept_after_RTO_and_only_holes_resent) {
  config.initial_window_segments = 8;
  establish_sack();
  send(text(8 * 536));
  EXPECT_EQ(sent().size(), 8u);
  ack(seg(0), {{2, 4}});  // 0, 1 and the tail 4-7 lost; their ACKs too
  EXPECT_TRUE(sent().empty());
  fire_next_timer();  // RTO
  EXPECT_EQ(sent(), (std::vector<int>{0}));
  EXPECT_EQ(conn().status().cwnd, 536u);
  ack(seg(1), {{2, 4}});
  EXPECT_EQ(sent(), (std::vector<int>{1, 4})) << "slow start: 2 segments, SACKed 2-3 skipped";
  ack(seg(4));
  ack(seg(5));
  std::vector<int> rest = sent();
  EXPECT_EQ(rest, (std::vector<int>{5, 6, 7}));
  ack(seg(8));
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(counters.tcp_rto_expirations, 1u);
  EXPECT_EQ(conn().status().snd_una, seg(8));
  EXPECT_EQ(counters.tcp_retransmitted_segments, 6u) << "0, 1, 4, 5, 6, 7 — never 2 or 3";
}

// Not barred after the RTO: a hole's retransmission lost again is found by SACK (RFC 8985
// §6.2, more than DupThresh - 1 segments sent after it SACKed) and sent a third time with no
// second timeout.
TEST_F(RtoRecovery, RFC8985_retransmission_lost_after_RTO_found_by_SACK_without_second_RTO) {
  config.initial_window_segments = 4;
  // Conventional RTO recovery: F-RTO would answer the first ACK with new data and resend 2 a
  // round later (RFC 5682 §3.1 step 2b; see spurious_retransmit_test.cpp).
  config.frto = false;
  establish_sack();
  send(text(12 * 536));
  EXPECT_EQ(sent().size(), 4u);
  ack(seg(0), {{1, 2}});  // limited transmit sends 4
  EXPECT_EQ(sent(), (std::vector<int>{4}));
  fire_next_timer();  // RTO: 0, 2, 3 are holes below recover (= end of 4)
  EXPECT_EQ(sent(), (std::vector<int>{0}));
  ack(seg(2), {{4, 5}});  // 0 and 1 delivered; cwnd 2
  std::vector<int> got = sent();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0], 2);
  // 2 is lost again; everything sent after it arrives.
  std::vector<int> all = got;
  for (int round = 0; round < 6 && counters.tcp_lost_retransmits == 0; ++round) {
    int top = *std::max_element(all.begin(), all.end());
    ack(seg(2), {{3, top + 1}});
    for (int s : sent()) all.push_back(s);
  }
  EXPECT_EQ(counters.tcp_lost_retransmits, 1u);
  EXPECT_EQ(std::count(all.begin(), all.end(), 2), 2) << "2 sent again at once";
  EXPECT_EQ(counters.tcp_rto_expirations, 1u);
}

}  // namespace rto_recovery_rules_test
}  // namespace synack::tcp::test
