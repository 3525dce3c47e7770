// SPDX-License-Identifier: MIT
// os::Inbox: closures from other threads, an eventfd readable while any wait, and a bound on
// what traffic may queue.
#include "os/inbox.hpp"

#include <gtest/gtest.h>
#include <poll.h>

#include <thread>
#include <vector>

namespace synack::os {
namespace {

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

TEST(Inbox, ReadableWhileItemsWaitAndTakenInOrder) {
  auto inbox = Inbox::create(8);
  ASSERT_TRUE(inbox);
  auto& box = **inbox;
  EXPECT_FALSE(readable(box.fd()));
  std::vector<int> ran;
  box.post([&] { ran.push_back(1); });
  EXPECT_TRUE(box.post_bounded([&] { ran.push_back(2); }));
  EXPECT_TRUE(readable(box.fd()));
  for (auto& item : box.take()) item();
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
  EXPECT_FALSE(readable(box.fd())) << "nothing waits: the eventfd is read back to zero";
  EXPECT_TRUE(box.take().empty());
}

TEST(Inbox, TrafficBeyondTheBoundIsDroppedAndCountedCommandsAreNot) {
  auto inbox = Inbox::create(2);
  ASSERT_TRUE(inbox);
  auto& box = **inbox;
  EXPECT_TRUE(box.post_bounded([] {}));
  EXPECT_TRUE(box.post_bounded([] {}));
  EXPECT_FALSE(box.post_bounded([] {}));
  EXPECT_EQ(box.dropped(), 1u);
  box.post([] {});  // a command always waits
  EXPECT_EQ(box.take().size(), 3u);
  EXPECT_TRUE(box.post_bounded([] {})) << "room again once taken";
}

TEST(Inbox, PostsFromOtherThreadsAllArrive) {
  auto inbox = Inbox::create(1 << 20);
  ASSERT_TRUE(inbox);
  auto& box = **inbox;
  constexpr int kThreads = 4, kEach = 5000;
  std::atomic<int> sum{0};
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t)
    posters.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) ASSERT_TRUE(box.post_bounded([&] { ++sum; }));
    });
  int taken = 0;
  while (taken < kThreads * kEach) {
    pollfd p{box.fd(), POLLIN, 0};
    ASSERT_GE(::poll(&p, 1, 5000), 1) << "woken for every batch";
    for (auto& item : box.take()) {
      item();
      ++taken;
    }
  }
  for (auto& t : posters) t.join();
  EXPECT_EQ(sum.load(), kThreads * kEach);
  EXPECT_TRUE(box.take().empty());
}

}  // namespace
}  // namespace synack::os
