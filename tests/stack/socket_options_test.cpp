// SPDX-License-Identifier: MIT
// Per-socket sizes through the public API (Stack::connect / Stack::listen with SocketOptions,
// Linux's SO_SNDBUF, SO_RCVBUF and TCP_MAXSEG): the MSS clamp (RFC 9293 §3.7.1), the receive
// buffer and the window scale chosen for it (RFC 7323 §2.3), the send buffer, and the ranges.
// Two stacks joined in memory, in virtual time.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "synack/profiles.hpp"
#include "synack/stack.hpp"
#include "tcp/segment.hpp"  // tcp::SYN, ...
#include "two_stacks.hpp"
#include "wire/packet.hpp"

namespace synack {
namespace socket_options_test {

using two_stacks::kA;
using two_stacks::kB;

// The shared wire (two_stacks.hpp), keeping every packet each stack sends.
struct Pair : two_stacks::Wire {
  explicit Pair(const StackConfig& config = StackConfig{}) : two_stacks::Wire(config) {
    on_a = [this](std::span<const std::byte> packet) {
      if (auto p = wire::parse_tcp_packet(packet)) a_sent.push_back(*p);
    };
    on_b = [this](std::span<const std::byte> packet) {
      if (auto p = wire::parse_tcp_packet(packet)) b_sent.push_back(*p);
    };
  }
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;
  std::vector<wire::TcpPacket> a_sent, b_sent;
};

const wire::TcpPacket* first_with(const std::vector<wire::TcpPacket>& sent, std::uint8_t flags) {
  for (const auto& p : sent) {
    if ((p.tcp.flags & flags) == flags) return &p;
  }
  return nullptr;
}

std::size_t largest_payload(const std::vector<wire::TcpPacket>& sent) {
  std::size_t n = 0;
  for (const auto& p : sent) n = std::max(n, p.payload.size());
  return n;
}

TEST(SocketOptions, MaxSegmentClampsTheSynMssAndTheSegmentsSent) {
  Pair p;
  ASSERT_TRUE(p.b.listen({kB, 80}, p.now));
  SocketOptions o;
  o.max_segment = 1000;
  auto c = p.a.connect({kB, 80}, p.now, std::nullopt, o);
  ASSERT_TRUE(c);
  p.shuttle();
  const wire::TcpPacket* syn = first_with(p.a_sent, tcp::SYN);
  ASSERT_NE(syn, nullptr);
  EXPECT_EQ(syn->tcp.options.mss, 1000);
  std::vector<std::byte> data(20000, std::byte{7});
  ASSERT_TRUE(p.a.send(*c, data, p.now));
  p.shuttle();
  // Timestamps are on: 12 bytes of each segment are the option (RFC 9293 §3.7.1).
  EXPECT_EQ(largest_payload(p.a_sent), 1000u - 12u);
}

TEST(SocketOptions, ListenerMaxSegmentClampsTheSynAckAndAcceptedConnections) {
  Pair p;
  SocketOptions o;
  o.max_segment = 1100;
  auto l = p.b.listen({kB, 80}, p.now, 0, o);
  ASSERT_TRUE(l);
  ASSERT_TRUE(p.a.connect({kB, 80}, p.now));
  p.shuttle();
  const wire::TcpPacket* synack = first_with(p.b_sent, tcp::SYN | tcp::ACK);
  ASSERT_NE(synack, nullptr);
  EXPECT_EQ(synack->tcp.options.mss, 1100);
  auto s = p.b.accept(*l);
  ASSERT_TRUE(s);
  std::vector<std::byte> data(20000, std::byte{7});
  ASSERT_TRUE(p.b.send(*s, data, p.now));
  p.shuttle();
  EXPECT_EQ(largest_payload(p.b_sent), 1100u - 12u);
}

// RFC 4987 §3.6: a SYN cookie's SYN,ACK comes from the listener too, with its MSS clamp; the
// connection rebuilt from the cookie keeps it.
TEST(SocketOptions, ListenerMaxSegmentAppliesToSynCookies) {
  StackConfig config;
  config.syn_cookies = SynCookieMode::Always;
  Pair p(config);
  SocketOptions o;
  o.max_segment = 1100;
  auto l = p.b.listen({kB, 80}, p.now, 0, o);
  ASSERT_TRUE(l);
  ASSERT_TRUE(p.a.connect({kB, 80}, p.now));
  p.shuttle();
  EXPECT_EQ(p.b.counters().tcp_syncookies_sent, 1u);
  const wire::TcpPacket* synack = first_with(p.b_sent, tcp::SYN | tcp::ACK);
  ASSERT_NE(synack, nullptr);
  EXPECT_EQ(synack->tcp.options.mss, 1100);
  auto s = p.b.accept(*l);
  ASSERT_TRUE(s);
  std::vector<std::byte> data(20000, std::byte{7});
  ASSERT_TRUE(p.b.send(*s, data, p.now));
  p.shuttle();
  EXPECT_EQ(largest_payload(p.b_sent), 1100u - 12u);
}

TEST(SocketOptions, MaxSegmentIsTheIpv6MssToo) {
  const auto a6 = *wire::IpAddress::parse("2001:db8::1");
  const auto b6 = *wire::IpAddress::parse("2001:db8::2");
  Stack a(StackConfig{}, {a6});
  SocketOptions o;
  o.max_segment = 1000;
  ASSERT_TRUE(a.connect({b6, 80}, Instant{}, std::nullopt, o));
  std::vector<std::byte> buf;
  ASSERT_TRUE(a.pop_packet(buf));
  auto syn = wire::parse_tcp_packet(buf);
  ASSERT_TRUE(syn);
  EXPECT_EQ(syn->tcp.options.mss, 1000);
}

TEST(SocketOptions, ReceiveBufferSetsTheWindowAndItsScale) {
  // The linux profile sizes the shift for 32 MiB (tcp_rmem[2]); a buffer the application
  // chose sizes it instead, as Linux does for SO_RCVBUF.
  Pair p(profiles::linux());
  ASSERT_TRUE(p.b.listen({kB, 80}, p.now));
  ASSERT_TRUE(p.a.connect({kB, 80}, p.now));
  SocketOptions o;
  o.receive_buffer = 65536;
  ASSERT_TRUE(p.a.connect({kB, 80}, p.now, std::nullopt, o));
  o.receive_buffer = 16384;
  ASSERT_TRUE(p.a.connect({kB, 80}, p.now, std::nullopt, o));
  std::vector<std::byte> buf;
  std::vector<wire::TcpPacket> sent;
  while (p.a.pop_packet(buf)) sent.push_back(*wire::parse_tcp_packet(buf));
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].tcp.options.window_scale, 10);  // default: 32 MiB
  EXPECT_EQ(sent[1].tcp.options.window_scale, 1);   // 65536 >> 1 fits 16 bits
  EXPECT_EQ(sent[2].tcp.options.window_scale, 0);
  EXPECT_EQ(sent[2].tcp.window, 16384);
}

TEST(SocketOptions, ReceiveBufferBoundsWhatTheConnectionTakes) {
  Pair p;
  SocketOptions o;
  o.receive_buffer = 4096;
  auto l = p.b.listen({kB, 80}, p.now, 0, o);
  ASSERT_TRUE(l);
  auto c = p.a.connect({kB, 80}, p.now);
  ASSERT_TRUE(c);
  p.shuttle();
  ASSERT_TRUE(p.b.accept(*l));
  std::vector<std::byte> data(20000, std::byte{7});
  ASSERT_TRUE(p.a.send(*c, data, p.now));
  p.shuttle();
  // Nothing is read at b: what a has had acknowledged is at most b's buffer.
  auto st = p.a.status(*c);
  ASSERT_TRUE(st);
  const std::int32_t acked = st->snd_una - (st->iss + 1);
  EXPECT_LE(acked, 4096);
  EXPECT_GT(acked, 0);
}

TEST(SocketOptions, SendBufferBoundsWhatSendTakes) {
  Pair p;
  ASSERT_TRUE(p.b.listen({kB, 80}, p.now));
  SocketOptions o;
  o.send_buffer = 4096;
  auto c = p.a.connect({kB, 80}, p.now, std::nullopt, o);
  ASSERT_TRUE(c);
  p.shuttle();
  std::vector<std::byte> data(20000, std::byte{7});
  auto taken = p.a.send(*c, data, p.now);
  ASSERT_TRUE(taken);
  EXPECT_EQ(*taken, 4096u);
}

TEST(SocketOptions, OutOfRangeValuesAreInvalidArguments) {
  Stack a(StackConfig{}, {kA});
  SocketOptions small_mss;
  small_mss.max_segment = 87;  // below Linux's TCP_MIN_MSS
  EXPECT_EQ(a.connect({kB, 80}, Instant{}, std::nullopt, small_mss).error(),
            Error::InvalidArgument);
  EXPECT_EQ(a.listen({kA, 80}, Instant{}, 0, small_mss).error(), Error::InvalidArgument);
  SocketOptions tiny_buffer;
  tiny_buffer.receive_buffer = 100;
  EXPECT_EQ(a.connect({kB, 80}, Instant{}, std::nullopt, tiny_buffer).error(),
            Error::InvalidArgument);
  SocketOptions huge_buffer;
  huge_buffer.send_buffer = (1u << 30) + 1;
  EXPECT_EQ(a.listen({kA, 81}, Instant{}, 0, huge_buffer).error(), Error::InvalidArgument);
  EXPECT_EQ(a.connection_count(), 0u);
}

}  // namespace socket_options_test
}  // namespace synack
