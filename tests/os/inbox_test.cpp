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
  auto inbox = Inbox::create(8, 1 << 20);
  ASSERT_TRUE(inbox);
  auto& box = **inbox;
  EXPECT_FALSE(readable(box.fd()));
  std::vector<int> ran;
  box.post([&] { ran.push_back(1); });
  EXPECT_TRUE(box.post_bounded([&] { ran.push_back(2); }, 100));
  EXPECT_TRUE(readable(box.fd()));
  for (auto& item : box.take()) item();
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
  EXPECT_FALSE(readable(box.fd())) << "nothing waits: the eventfd is read back to zero";
  EXPECT_TRUE(box.take().empty());
}

TEST(Inbox, TrafficBeyondTheItemBoundIsDroppedAndCountedCommandsAreNot) {
  auto inbox = Inbox::create(2, 1 << 20);
  ASSERT_TRUE(inbox);
  auto& box = **inbox;
  EXPECT_TRUE(box.post_bounded([] {}, 10));
  EXPECT_TRUE(box.post_bounded([] {}, 10));
  EXPECT_FALSE(box.post_bounded([] {}, 10));
  EXPECT_EQ(box.dropped(), 1u);
  box.post([] {});  // a command always waits
  box.post([] {});
  EXPECT_EQ(box.take().size(), 4u);
  EXPECT_TRUE(box.post_bounded([] {}, 10)) << "room again once taken";
}

TEST(Inbox, TrafficBeyondTheByteBoundIsDroppedAndCounted) {
  auto inbox = Inbox::create(100, 1000);
  ASSERT_TRUE(inbox);
  auto& box = **inbox;
  EXPECT_TRUE(box.post_bounded([] {}, 600));
  EXPECT_FALSE(box.post_bounded([] {}, 401)) << "601 + 400 bytes would pass 1,000";
  EXPECT_TRUE(box.post_bounded([] {}, 400)) << "exactly 1,000 fits";
  EXPECT_FALSE(box.post_bounded([] {}, 1));
  EXPECT_FALSE(box.post_bounded([] {}, 5000)) << "larger than the bound itself";
  EXPECT_EQ(box.dropped(), 3u);
  EXPECT_EQ(box.take().size(), 2u);
  EXPECT_TRUE(box.post_bounded([] {}, 1000)) << "the bytes are free again once taken";
}

TEST(Inbox, PostsFromOtherThreadsAllArrive) {
  auto inbox = Inbox::create(1 << 20, std::size_t{1} << 30);
  ASSERT_TRUE(inbox);
  auto& box = **inbox;
  constexpr int kThreads = 4, kEach = 5000;
  std::atomic<int> sum{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t)
    posters.emplace_back([&] {
      for (int i = 0; i < kEach; ++i)
        if (!box.post_bounded([&] { ++sum; }, 1)) ++refused;
    });
  int taken = 0;
  bool woken = true;
  while (taken < kThreads * kEach && woken) {
    pollfd p{box.fd(), POLLIN, 0};
    woken = ::poll(&p, 1, 5000) == 1;  // a lost wake-up would leave items waiting unseen
    for (auto& item : box.take()) {
      item();
      ++taken;
    }
  }
  for (auto& t : posters) t.join();
  EXPECT_TRUE(woken) << "the eventfd did not become readable with " << (kThreads * kEach - taken)
                     << " items waiting";
  EXPECT_EQ(refused.load(), 0);
  EXPECT_EQ(sum.load(), kThreads * kEach);
  EXPECT_TRUE(box.take().empty());
}

}  // namespace
}  // namespace synack::os
