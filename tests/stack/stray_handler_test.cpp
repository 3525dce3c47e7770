// SPDX-License-Identifier: MIT
// Stack::set_stray_handler: a TCP segment that matches nothing in the stack is offered to the
// handler before RFC 9293 §3.10.7.1 answers it (`synack run --queues`, relay/steering.hpp).
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "synack/stack.hpp"
#include "tcp/segment.hpp"  // tcp::SYN, ...
#include "tcp_packets.hpp"
#include "wire/packet.hpp"

namespace synack {
namespace stray_handler_test {

using wire::IpAddress;

const IpAddress kGateway = IpAddress::v4(198, 18, 0, 1);
const IpAddress kGuest = IpAddress::v4(198, 18, 0, 2);
const IpAddress kFar = IpAddress::v4(198, 19, 7, 7);

Instant at_ms(std::int64_t ms) { return instant_from_us(ms * 1000); }

StackConfig intercepting() {
  StackConfig c;
  c.intercept = true;
  return c;
}

// From the guest to a far address.
std::vector<std::byte> tcp_packet(std::uint16_t sport, std::uint16_t dport, std::uint8_t flags,
                                  std::uint32_t seq, std::uint32_t ack,
                                  std::span<const std::byte> payload = {}) {
  return tcp_packets::tcp_packet({kGuest, sport}, {kFar, dport}, flags, seq, ack, payload,
                                 {.syn_mss = 1400, .tsval = {}});
}

TEST(StrayHandler, RFC9293_3_10_7_1_a_segment_for_no_connection_is_offered_before_the_RST) {
  Stack stack(intercepting(), {kGateway});
  std::vector<std::vector<std::byte>> offered;
  stack.set_stray_handler([&](std::span<const std::byte> packet) {
    offered.emplace_back(packet.begin(), packet.end());
    return true;
  });
  const auto data = tcp_packet(40000, 80, tcp::ACK | tcp::PSH, 1001, 5001,
                               std::vector<std::byte>(100, std::byte{7}));
  stack.receive_packet(data, at_ms(0));
  ASSERT_EQ(offered.size(), 1u);
  EXPECT_EQ(offered[0], data) << "the whole IP packet, as received";
  std::vector<std::byte> out;
  EXPECT_FALSE(stack.pop_packet(out)) << "taken: no RST";
  EXPECT_EQ(stack.counters().tcp_stray_handed_off, 1u);
  EXPECT_EQ(stack.counters().tcp_rst_closed_port, 0u);

  // An RST for no connection is offered too (it may end another stack's connection).
  stack.receive_packet(tcp_packet(40000, 80, tcp::RST, 1001, 0), at_ms(1));
  EXPECT_EQ(offered.size(), 2u);
}

TEST(StrayHandler, RFC9293_3_10_7_1_declined_the_segment_gets_its_RST) {
  Stack stack(intercepting(), {kGateway});
  int calls = 0;
  stack.set_stray_handler([&](std::span<const std::byte>) {
    ++calls;
    return false;
  });
  stack.receive_packet(tcp_packet(40000, 80, tcp::ACK, 1001, 5001), at_ms(0));
  EXPECT_EQ(calls, 1);
  std::vector<std::byte> out;
  ASSERT_TRUE(stack.pop_packet(out));
  auto rst = wire::parse_tcp_packet(out);
  ASSERT_TRUE(rst);
  EXPECT_TRUE(rst->tcp.flags & tcp::RST);
  EXPECT_EQ(rst->tcp.seq, 5001u) << "RFC 9293 §3.10.7.1: <SEQ=SEG.ACK><CTL=RST>";
  EXPECT_EQ(stack.counters().tcp_rst_closed_port, 1u);
  EXPECT_EQ(stack.counters().tcp_stray_handed_off, 0u);
}

TEST(StrayHandler, SegmentsOfTheStacksOwnFlowsAreNeverOffered) {
  Stack stack(intercepting(), {kGateway});
  int calls = 0;
  stack.set_stray_handler([&](std::span<const std::byte>) {
    ++calls;
    return true;
  });
  // A plain SYN is a connect request here, whatever other stacks hold.
  stack.receive_packet(tcp_packet(40000, 80, tcp::SYN, 1000, 0), at_ms(0));
  auto request = stack.poll_connect_request();
  ASSERT_TRUE(request);
  auto id = stack.accept_request(request->id, at_ms(1));
  ASSERT_TRUE(id);
  std::vector<std::byte> out;
  ASSERT_TRUE(stack.pop_packet(out));
  auto syn_ack = wire::parse_tcp_packet(out);
  ASSERT_TRUE(syn_ack);
  stack.receive_packet(tcp_packet(40000, 80, tcp::ACK, 1001, syn_ack->tcp.seq + 1), at_ms(2));
  EXPECT_EQ(stack.state(*id), State::Established);
  EXPECT_EQ(calls, 0);
}

TEST(StrayHandler, GatherInputIsOfferedWhole) {
  Stack stack(intercepting(), {kGateway});
  std::vector<std::byte> offered;
  stack.set_stray_handler([&](std::span<const std::byte> packet) {
    offered.assign(packet.begin(), packet.end());
    return true;
  });
  const std::vector<std::byte> payload(300, std::byte{9});
  const auto whole = tcp_packet(40000, 80, tcp::ACK | tcp::PSH, 1001, 5001, payload);
  const std::size_t headers = whole.size() - payload.size();
  // Headers and payload apart, as a link between two stacks hands them over.
  stack.receive_packet(std::span(whole).first(headers), std::span(whole).subspan(headers), at_ms(0),
                       ReceiveFlags{true});
  EXPECT_EQ(offered, whole) << "the handler sees one IP packet, headers and payload joined";
  EXPECT_EQ(stack.counters().tcp_stray_handed_off, 1u);
}

}  // namespace stray_handler_test
}  // namespace synack
