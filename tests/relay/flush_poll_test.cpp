// SPDX-License-Identifier: MIT
// relay::flush_poll_delay: how often a relay looks whether a socket's last bytes before a
// reset have been delivered (Splice, LoopbackForwarder).
#include "relay/flush_poll.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace synack::relay {
namespace flush_poll_test {

using namespace std::chrono_literals;

TEST(FlushPoll, LooksSoonAtFirstThenLessOftenUpToOnceASecond) {
  EXPECT_EQ(flush_poll_delay(0ms), 10ms);
  EXPECT_EQ(flush_poll_delay(40ms), 10ms);
  EXPECT_EQ(flush_poll_delay(100ms), 25ms);
  EXPECT_EQ(flush_poll_delay(2s), 500ms);
  EXPECT_EQ(flush_poll_delay(4s), 1s);
  EXPECT_EQ(flush_poll_delay(59s), 1s);
}

TEST(FlushPoll, APeerThatNeverReadsCostsAboutEightyLooksInTheSixtySecondsAFlushMayTake) {
  // Every 10 ms would be 6,000 looks (a getsockopt and an ioctl each) per connection.
  int looks = 0;
  for (Duration t{0}; t < 60s; t += flush_poll_delay(t)) ++looks;
  EXPECT_GE(looks, 70);
  EXPECT_LE(looks, 90);
}

}  // namespace flush_poll_test
}  // namespace synack::relay
