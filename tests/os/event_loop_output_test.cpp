// SPDX-License-Identifier: MIT
// EventLoop's output queue: packets the TUN refuses (EAGAIN) wait in order, within a bound in
// packets and one in bytes; beyond either they are dropped and counted (TCP retransmits
// them), and what waited is written once the TUN takes writes again. The "TUN" is one end of
// a datagram socket pair with a small send buffer; the other end reads only when the test
// says so.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "synack/event_loop.hpp"
#include "synack/stack.hpp"
#include "synack/tun_device.hpp"

namespace synack::os {
namespace event_loop_output_test {

class EventLoopOutputTest : public ::testing::Test {
 protected:
  void make(EventLoop::Options options) {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, tun_pair_), 0);
    const int small = 4096;  // the kernel doubles it; a handful of SYNs fill it
    ASSERT_EQ(::setsockopt(tun_pair_[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    tun_ = TunDevice::adopt(tun_pair_[0], "test0", false, 1500);
    stack_ = std::make_unique<Stack>(StackConfig{}, std::vector{wire::IpAddress::v4(10, 0, 0, 1)});
    auto loop = EventLoop::create(*stack_, *tun_, options);
    ASSERT_TRUE(loop);
    loop_ = std::move(*loop);
  }
  void TearDown() override {
    loop_.reset();
    if (tun_pair_[1] >= 0) ::close(tun_pair_[1]);
  }
  // One turn of the loop (at most a millisecond: no SYN is retransmitted meanwhile).
  void turn() {
    loop_->call_at(loop_->now() + 1ms, [this] { loop_->stop(); });
    loop_->run();
  }
  // Active opens to `count` ports of 10.0.0.2: one SYN each.
  void connect(int count) {
    for (int i = 0; i < count; ++i) {
      auto id = stack_->connect(
          {wire::IpAddress::v4(10, 0, 0, 2), static_cast<std::uint16_t>(1000 + i)}, loop_->now());
      ASSERT_TRUE(id) << i;
    }
  }
  // Packets waiting at the other end, read and counted.
  int drain() {
    int packets = 0;
    std::byte buffer[2048];
    while (::recv(tun_pair_[1], buffer, sizeof buffer, MSG_DONTWAIT) > 0) ++packets;
    return packets;
  }

  int tun_pair_[2] = {-1, -1};
  std::unique_ptr<TunDevice> tun_;
  std::unique_ptr<Stack> stack_;
  std::unique_ptr<EventLoop> loop_;
};

TEST_F(EventLoopOutputTest,
       Queued_bytes_stay_within_their_bound_and_the_rest_is_dropped_and_counted) {
  EventLoop::Options options;
  options.max_output_queue = 4096;        // far more packets than the test makes
  options.max_output_queue_bytes = 2048;  // about thirty SYNs
  make(options);
  const int syns = 200;
  connect(syns);
  turn();
  const auto& s = loop_->stats();
  EXPECT_GT(s.tun_write_blocked, 0u) << "the TUN pushed back";
  EXPECT_GT(s.tun_output_queued_bytes, 0u) << "some wait";
  EXPECT_LE(s.tun_output_queued_bytes, options.max_output_queue_bytes);
  EXPECT_GT(s.tun_output_drops, 0u) << "the byte bound, not the packet bound, dropped the rest";
  const std::uint64_t dropped = s.tun_output_drops;
  // Room again: what waited is written, in one or more turns, and nothing more is dropped.
  int received = 0;
  for (int i = 0; i < 200 && (s.tun_output_queued_bytes > 0 || i == 0); ++i) {
    received += drain();
    turn();
  }
  received += drain();
  EXPECT_EQ(s.tun_output_queued_bytes, 0u);
  EXPECT_EQ(s.tun_output_drops, dropped);
  EXPECT_EQ(static_cast<std::uint64_t>(received) + dropped, static_cast<std::uint64_t>(syns))
      << "every SYN was written or counted as dropped";
}

TEST_F(EventLoopOutputTest, Without_a_tight_byte_bound_the_packet_bound_holds) {
  EventLoop::Options options;
  options.max_output_queue = 10;
  make(options);
  connect(100);
  turn();
  const auto& s = loop_->stats();
  EXPECT_GT(s.tun_output_drops, 0u);
  EXPECT_GT(s.tun_output_queued_bytes, 0u);
  EXPECT_LE(s.tun_output_queued_bytes, 10u * 2048u) << "ten SYNs' buffers at most";
}

}  // namespace event_loop_output_test
}  // namespace synack::os
