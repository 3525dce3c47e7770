// SPDX-License-Identifier: MIT
// EventLoop's descriptor handlers: replace_fd hands a watched descriptor to a new handler with
// new events (the relay passes a connected socket from its connect handler to its splice that
// way, one epoll_ctl instead of two), from inside the old handler too; a descriptor not
// watched yet is added; close_fd stops watching and closes with one system call. The "TUN"
// is one end of a socket pair; nothing is read from it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "synack/event_loop.hpp"
#include "synack/stack.hpp"
#include "synack/tun_device.hpp"

namespace synack::os {
namespace {

// Whether an epoll set of this process watches descriptor number `fd`: the fdinfo of an epoll
// descriptor has a "tfd: N events: ..." line for each descriptor it watches.
bool epoll_watches(int fd) {
  namespace fs = std::filesystem;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    if (fs::read_symlink(entry.path(), error).string() != "anon_inode:[eventpoll]") continue;
    std::ifstream info("/proc/self/fdinfo/" + entry.path().filename().string());
    std::string line;
    while (std::getline(info, line)) {
      std::istringstream words(line);
      std::string label;
      int watched = -1;
      if (words >> label >> watched && label == "tfd:" && watched == fd) return true;
    }
  }
  return false;
}

class EventLoopFdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, tun_pair_), 0);
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds_), 0);
    tun_ = TunDevice::adopt(tun_pair_[0], "test0", false, 1500);
    stack_ = std::make_unique<Stack>(StackConfig{}, std::vector{wire::IpAddress::v4(10, 0, 0, 1)});
    auto loop = EventLoop::create(*stack_, *tun_, {});
    ASSERT_TRUE(loop);
    loop_ = std::move(*loop);
  }
  void TearDown() override {
    loop_.reset();
    ::close(tun_pair_[1]);
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  // One turn of the loop (at most a millisecond).
  void turn() {
    loop_->call_at(loop_->now() + 1ms, [this] { loop_->stop(); });
    loop_->run();
  }

  int tun_pair_[2] = {-1, -1};
  int fds_[2] = {-1, -1};
  std::unique_ptr<TunDevice> tun_;
  std::unique_ptr<Stack> stack_;
  std::unique_ptr<EventLoop> loop_;
};

TEST_F(EventLoopFdTest, Replace_fd_hands_a_watched_descriptor_to_the_new_handler) {
  int first = 0;
  int second = 0;
  // Watched for writability first (as a connecting socket is), then handed over from inside
  // its own handler to one that waits for input.
  ASSERT_TRUE(loop_->add_fd(fds_[0], EPOLLOUT, [&](std::uint32_t) {
    ++first;
    ASSERT_TRUE(loop_->replace_fd(fds_[0], EPOLLIN, [&](std::uint32_t ev) {
      if (ev & EPOLLIN) ++second;
    }));
  }));
  turn();
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 0);  // nothing to read yet, and no longer watched for EPOLLOUT
  turn();
  EXPECT_EQ(first, 1);
  ASSERT_EQ(::write(fds_[1], "x", 1), 1);
  turn();
  EXPECT_EQ(first, 1);
  EXPECT_GE(second, 1);
  // Still one registration: removing it stops the events.
  loop_->remove_fd(fds_[0]);
  const int seen = second;
  turn();
  EXPECT_EQ(second, seen);
}

TEST_F(EventLoopFdTest, Replace_fd_adds_a_descriptor_not_watched_yet) {
  int calls = 0;
  ASSERT_TRUE(loop_->replace_fd(fds_[0], EPOLLOUT, [&](std::uint32_t) { ++calls; }));
  turn();
  EXPECT_GE(calls, 1);
  EXPECT_FALSE(loop_->add_fd(fds_[0], EPOLLOUT, [](std::uint32_t) {}))
      << "added twice: EEXIST expected";
  loop_->remove_fd(fds_[0]);
}

TEST_F(EventLoopFdTest, Close_fd_closes_and_forgets_the_descriptor_without_epoll_ctl) {
  int calls = 0;
  int extra[2] = {-1, -1};
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, extra), 0);
  ASSERT_TRUE(loop_->add_fd(extra[0], EPOLLIN, [&](std::uint32_t) { ++calls; }));
  ASSERT_TRUE(epoll_watches(extra[0]));
  ASSERT_EQ(::write(extra[1], "x", 1), 1);
  turn();
  ASSERT_GE(calls, 1);
  const std::uint64_t changes = loop_->stats().fd_changes;
  const int seen = calls;
  const int number = extra[0];
  loop_->close_fd(extra[0]);
  EXPECT_EQ(loop_->stats().fd_changes, changes) << "no epoll_ctl of ours";
  EXPECT_FALSE(epoll_watches(number)) << "the close() took it out of the epoll set";
  EXPECT_EQ(::fcntl(number, F_GETFD), -1) << "closed";
  // Readable still from the other end's view, but gone from the loop: no more calls, and the
  // number can be watched again when reused.
  turn();
  EXPECT_EQ(calls, seen);
  int again[2] = {-1, -1};
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, again), 0);
  ASSERT_EQ(again[0], number) << "the lowest free number, reused";
  int later = 0;
  ASSERT_TRUE(loop_->add_fd(again[0], EPOLLIN, [&](std::uint32_t) { ++later; }))
      << "a reused number is added afresh";
  ASSERT_EQ(::write(again[1], "y", 1), 1);
  turn();
  EXPECT_GE(later, 1);
  EXPECT_EQ(calls, seen) << "the closed descriptor's handler is gone";
  loop_->close_fd(again[0]);
  loop_->close_fd(extra[1]);  // never watched: closed all the same
  EXPECT_EQ(::fcntl(extra[1], F_GETFD), -1);
  ::close(again[1]);
}

}  // namespace
}  // namespace synack::os
