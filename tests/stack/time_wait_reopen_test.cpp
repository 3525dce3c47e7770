// SPDX-License-Identifier: MIT
// RFC 9293 §3.6.1 (MAY-2) with RFC 6191: a new SYN reopens a connection lingering in
// TIME-WAIT when it cannot be an old duplicate; the new ISN lies beyond the old incarnation.
// And send_last(): the FIN leaves on the last data segment.
#include <gtest/gtest.h>

#include <vector>

#include "synack/stack.hpp"
#include "tcp/segment.hpp"  // tcp::SYN, ...
#include "tcp_packets.hpp"
#include "wire/packet.hpp"

namespace synack {
namespace {

using wire::IpAddress;

const IpAddress kServer = IpAddress::v4(198, 18, 0, 1);
const IpAddress kClient = IpAddress::v4(198, 18, 0, 2);

Instant at_ms(std::int64_t ms) { return instant_from_us(ms * 1000); }

std::vector<std::byte> segment(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
                               std::optional<std::uint32_t> tsval = std::nullopt) {
  return tcp_packets::tcp_packet({kClient, 40000}, {kServer, 80}, flags, seq, ack, {},
                                 {.syn_mss = {}, .tsval = tsval});
}

std::vector<wire::TcpPacket> sent(Stack& stack, std::vector<std::vector<std::byte>>& keep) {
  std::vector<wire::TcpPacket> out;
  std::vector<std::byte> buffer;
  while (stack.pop_packet(buffer)) {
    keep.push_back(buffer);
    auto p = wire::parse_tcp_packet(keep.back());
    if (p) out.push_back(*p);
  }
  return out;
}

// The server closes first (its FIN rides on its last data), the client answers: the
// server's connection ends in TIME-WAIT. Returns the server's ISN.
std::uint32_t close_into_time_wait(Stack& stack, std::vector<std::vector<std::byte>>& keep) {
  auto listener = stack.listen({kServer, 80}, at_ms(0));
  EXPECT_TRUE(listener);
  stack.receive_packet(segment(tcp::SYN, 1000, 0), at_ms(0));
  auto synack = sent(stack, keep);
  EXPECT_EQ(synack.size(), 1u);
  const std::uint32_t iss = synack[0].tcp.seq;
  stack.receive_packet(segment(tcp::ACK, 1001, iss + 1), at_ms(1));
  auto id = stack.accept(*listener);
  EXPECT_TRUE(id);
  auto reply = std::as_bytes(std::span("HTTP/1.1 200 OK\r\n\r\n", 19));
  EXPECT_EQ(*stack.send_last(*id, reply, at_ms(2)), reply.size());
  auto out = sent(stack, keep);
  EXPECT_EQ(out.size(), 1u) << "data and FIN in one segment";
  EXPECT_EQ(out[0].tcp.flags & (tcp::FIN | tcp::PSH), tcp::FIN | tcp::PSH);
  EXPECT_EQ(out[0].payload.size(), reply.size());
  EXPECT_EQ(stack.state(*id), State::FinWait1);
  const std::uint32_t fin_end = iss + 1 + 19 + 1;
  stack.receive_packet(segment(tcp::ACK | tcp::FIN, 1001, fin_end), at_ms(3));
  EXPECT_EQ(stack.state(*id), State::TimeWait);
  (void)sent(stack, keep);                  // the ACK of the client's FIN
  EXPECT_TRUE(stack.close(*id, at_ms(4)));  // the application is done with it
  EXPECT_EQ(stack.connection_count(), 1u) << "still lingering in TIME-WAIT";
  return iss;
}

TEST(TimeWaitReopen, ANewerSynReopensWithAnIsnBeyondTheOldConnection) {
  Stack stack(StackConfig{}, {kServer});
  std::vector<std::vector<std::byte>> keep;
  const std::uint32_t old_iss = close_into_time_wait(stack, keep);
  stack.receive_packet(segment(tcp::SYN, 50000, 0), at_ms(10));  // beyond RCV.NXT (1002)
  auto out = sent(stack, keep);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tcp.flags, tcp::SYN | tcp::ACK) << "a new incarnation, not a challenge ACK";
  EXPECT_EQ(out[0].tcp.ack, 50001u);
  EXPECT_GT(static_cast<std::int32_t>(out[0].tcp.seq - (old_iss + 21)), 0);
  EXPECT_EQ(stack.counters().tcp_time_wait_reopened, 1u);
}

TEST(TimeWaitReopen, AnOldDuplicateSynDoesNot) {
  Stack stack(StackConfig{}, {kServer});
  std::vector<std::vector<std::byte>> keep;
  (void)close_into_time_wait(stack, keep);
  stack.receive_packet(segment(tcp::SYN, 1000, 0), at_ms(10));  // the old SYN again
  auto out = sent(stack, keep);
  for (const auto& p : out) EXPECT_FALSE(p.tcp.has(tcp::SYN));
  EXPECT_EQ(stack.counters().tcp_time_wait_reopened, 0u);
}

}  // namespace
}  // namespace synack
