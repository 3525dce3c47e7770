// SPDX-License-Identifier: MIT
// StackConfig::max_connections counts the connections an application can use, not those
// waiting out TIME-WAIT; StackConfig::max_time_wait bounds those (Linux's tcp_max_tw_buckets:
// beyond it a connection entering TIME-WAIT is deleted at once). An intercepting stack
// refuses a SYN it would have no room for before the application opens a host connection.
#include <gtest/gtest.h>

#include <vector>

#include "synack/stack.hpp"
#include "tcp/segment.hpp"  // tcp::SYN, ...
#include "tcp_packets.hpp"
#include "two_stacks.hpp"
#include "wire/packet.hpp"

namespace synack {
namespace connection_limit_test {

using namespace std::chrono_literals;
using two_stacks::kA;
using two_stacks::kB;

// a connects to b's port 80 and b accepts: the pair (a's id, b's id).
std::pair<ConnectionId, ConnectionId> open(two_stacks::Wire& w, ListenerId listener) {
  auto id = w.a.connect({kB, 80}, w.now);
  EXPECT_TRUE(id);
  w.run_until(w.now + 1ms);
  auto accepted = w.b.accept(listener);
  EXPECT_TRUE(accepted);
  return {id ? *id : 0, accepted ? *accepted : 0};
}

// a closes first, then b: a's connection ends in TIME-WAIT (or is deleted on entering it).
void close_a_first(two_stacks::Wire& w, std::pair<ConnectionId, ConnectionId> c) {
  ASSERT_TRUE(w.a.close(c.first, w.now));
  w.run_until(w.now + 1ms);
  ASSERT_TRUE(w.b.close(c.second, w.now));
  w.run_until(w.now + 1ms);
}

TEST(ConnectionLimit, TimeWaitDoesNotCountAgainstMaxConnectionsAndIsBoundedOnItsOwn) {
  StackConfig config;
  config.max_connections = 2;
  config.max_time_wait = 1;
  two_stacks::Wire w(config);
  auto listener = w.b.listen({kB, 80}, w.now);
  ASSERT_TRUE(listener);
  auto one = open(w, *listener);
  auto two = open(w, *listener);
  EXPECT_EQ(w.a.connect({kB, 80}, w.now).error(), Error::TooManyConnections);
  EXPECT_EQ(w.a.counters().tcp_connection_limit, 1u);

  close_a_first(w, one);  // closed by the application: no longer visible to it
  EXPECT_EQ(w.a.connection_count(), 2u) << "one in TIME-WAIT, one in use";
  EXPECT_EQ(w.a.counters().tcp_time_wait_overflow, 0u);
  // The one in TIME-WAIT does not count: room for another.
  auto three = open(w, *listener);
  EXPECT_EQ(w.a.state(three.first), State::Established);
  EXPECT_EQ(w.a.connection_count(), 3u);

  // A second connection entering TIME-WAIT is one beyond max_time_wait: deleted at once.
  close_a_first(w, two);
  EXPECT_EQ(w.a.counters().tcp_time_wait_overflow, 1u);
  EXPECT_EQ(w.a.connection_count(), 2u) << "the first TIME-WAIT and the third";
  EXPECT_EQ(w.b.connection_count(), 1u)
      << "the last ACK went before the deletion: the peer closed cleanly, only three is left";
  // After 2 MSL the first is gone as well.
  w.run_until(w.now + 2 * config.tcp.msl + 1s);
  EXPECT_EQ(w.a.connection_count(), 1u);
  EXPECT_EQ(w.a.state(three.first), State::Established);
}

TEST(ConnectionLimit, AnInterceptingStackRefusesWhatItHasNoRoomForBeforeTheApplicationConnects) {
  StackConfig config;
  config.intercept = true;
  config.max_connections = 2;
  const auto gateway = wire::IpAddress::v4(198, 18, 0, 1);
  const auto guest = wire::IpAddress::v4(198, 18, 0, 2);
  const auto far = wire::IpAddress::v4(198, 19, 7, 7);
  Stack stack(config, {gateway});
  auto syn = [&](std::uint16_t port) {
    return tcp_packets::tcp_packet({guest, 40000}, {far, port}, tcp::SYN, 1, 0, {},
                                   {.syn_mss = 1400, .tsval = {}});
  };
  Instant now{};
  stack.receive_packet(syn(1), now);
  auto first = stack.poll_connect_request();
  ASSERT_TRUE(first);
  ASSERT_TRUE(stack.accept_request(first->id, now));
  std::vector<std::byte> out;
  while (stack.pop_packet(out)) {
  }
  stack.receive_packet(syn(2), now);  // a request: the second connection's room
  EXPECT_EQ(stack.pending_requests(), 1u);
  stack.receive_packet(syn(3), now);  // no room left: refused at once
  EXPECT_EQ(stack.pending_requests(), 1u);
  EXPECT_EQ(stack.counters().tcp_connection_limit, 1u);
  ASSERT_TRUE(stack.pop_packet(out));
  auto rst = wire::parse_tcp_packet(out);
  ASSERT_TRUE(rst);
  EXPECT_EQ(rst->tcp.flags, tcp::RST | tcp::ACK);
  EXPECT_EQ(rst->tcp.dst_port, 40000);
  EXPECT_EQ(rst->tcp.src_port, 3);
}

}  // namespace connection_limit_test
}  // namespace synack
