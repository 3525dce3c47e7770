// SPDX-License-Identifier: MIT
// Invalid addresses at the stack: a segment from a source that cannot originate TCP is
// dropped before any connection sees it (RFC 9293 §3.9.2.3 MUST-63, RFC 1122 §3.2.1.3), and
// an active OPEN to a broadcast, multicast or unspecified address is refused (§3.9.1.1
// MUST-46).
#include <gtest/gtest.h>

#include <vector>

#include "synack/stack.hpp"
#include "tcp_packets.hpp"
#include "wire/packet.hpp"

namespace synack {
namespace martian_test {

using wire::IpAddress;

const IpAddress kUs = IpAddress::v4(198, 18, 0, 1);
const IpAddress kPeer = IpAddress::v4(198, 18, 0, 2);
const IpAddress kUs6 = *IpAddress::parse("fd53:796e:6163::1");

Instant at_ms(std::int64_t ms) { return instant_from_us(ms * 1000); }

std::vector<std::byte> syn_from(const IpAddress& src, const IpAddress& dst) {
  return tcp_packets::tcp_packet({src, 40000}, {dst, 80}, wire::tcp_flag::SYN, 1000);
}

// MUST-63: a SYN from a broadcast, multicast, loopback, "this network", unspecified or our
// own address gets no SYN,ACK (and no RST): dropped and counted as drop_martian_source.
TEST(MartianSource, SynFromInvalidSourceIsDroppedWithoutAnswer_MUST_63) {
  Stack stack(StackConfig{}, {kUs, kUs6});
  ASSERT_TRUE(stack.listen(wire::Endpoint{kUs, 80}, at_ms(0)));
  ASSERT_TRUE(stack.listen(wire::Endpoint{kUs6, 80}, at_ms(0)));
  const std::vector<IpAddress> martians = {
      IpAddress::v4(255, 255, 255, 255),      // limited broadcast
      IpAddress::v4(224, 0, 0, 1),            // multicast
      IpAddress::v4(240, 0, 0, 1),            // reserved (class E)
      IpAddress::v4(127, 0, 0, 1),            // loopback
      IpAddress::v4(0, 1, 2, 3),              // "this network"
      IpAddress::v4(0, 0, 0, 0),              // unspecified
      kUs,                                    // our own address
      *IpAddress::parse("ff02::1"),           // IPv6 multicast
      *IpAddress::parse("::1"),               // IPv6 loopback
      *IpAddress::parse("::"),                // IPv6 unspecified
      *IpAddress::parse("::ffff:127.0.0.1"),  // IPv4-mapped loopback (wire::classify)
      *IpAddress::parse("::ffff:255.255.255.255"),
  };
  std::uint64_t n = 0;
  for (const auto& src : martians) {
    SCOPED_TRACE(src.to_string());
    stack.receive_packet(syn_from(src, src.is_v4() ? kUs : kUs6), at_ms(1));
    ++n;
    EXPECT_EQ(stack.counters().drop_martian_source, n);
    std::vector<std::byte> out;
    EXPECT_FALSE(stack.pop_packet(out)) << "a martian SYN is never answered";
  }
  EXPECT_EQ(stack.counters().tcp_passive_opens, 0u);

  // The same SYN from a valid peer is answered.
  stack.receive_packet(syn_from(kPeer, kUs), at_ms(2));
  std::vector<std::byte> out;
  ASSERT_TRUE(stack.pop_packet(out));
  auto reply = wire::parse_tcp_packet(out);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->tcp.flags, wire::tcp_flag::SYN | wire::tcp_flag::ACK);
  EXPECT_EQ(stack.counters().drop_martian_source, n);
  EXPECT_EQ(stack.counters().tcp_passive_opens, 1u);
}

// MUST-46: connect() to a broadcast, multicast or unspecified address fails with
// InvalidArgument and sends nothing; a unicast peer is accepted.
TEST(MartianSource, ConnectToBroadcastMulticastOrUnspecifiedIsRefused_MUST_46) {
  Stack stack(StackConfig{}, {kUs, kUs6});
  const std::vector<IpAddress> invalid = {IpAddress::v4(255, 255, 255, 255),
                                          IpAddress::v4(224, 0, 0, 251), IpAddress::v4(0, 0, 0, 0),
                                          *IpAddress::parse("ff02::1"), *IpAddress::parse("::")};
  for (const auto& remote : invalid) {
    SCOPED_TRACE(remote.to_string());
    auto id = stack.connect(wire::Endpoint{remote, 80}, at_ms(0));
    ASSERT_FALSE(id);
    EXPECT_EQ(id.error(), Error::InvalidArgument);
    std::vector<std::byte> out;
    EXPECT_FALSE(stack.pop_packet(out));
  }
  EXPECT_EQ(stack.counters().tcp_active_opens, 0u);
  ASSERT_TRUE(stack.connect(wire::Endpoint{kPeer, 80}, at_ms(0)));
  std::vector<std::byte> out;
  EXPECT_TRUE(stack.pop_packet(out));
}

// Issue 11: intercepting (synack run), the stack answers for every unicast destination — but
// never for one that is the loopback (or another special-purpose address) in any form. A SYN
// or a datagram to ::ffff:127.0.0.1 and its kin is dropped before it becomes a connect
// request, so the relay never sees it and no answer depends on the host's port state.
TEST(MartianDestination, Intercepting_drops_every_loopback_form) {
  StackConfig config;
  config.intercept = true;
  Stack stack(config, {kUs, kUs6});
  const IpAddress guest6 = *IpAddress::parse("fd53:796e:6163::2");
  std::uint64_t n = 0;
  for (const char* text :
       {"127.0.0.1", "0.0.0.0", "::1", "::", "::ffff:127.0.0.1", "::ffff:0.0.0.0", "::127.0.0.1",
        "::ffff:0:127.0.0.1", "64:ff9b::127.0.0.1", "2002:7f00:1::", "ff02::1", "224.0.0.1"}) {
    SCOPED_TRACE(text);
    IpAddress dst = *IpAddress::parse(text);
    stack.receive_packet(syn_from(dst.is_v4() ? kPeer : guest6, dst), at_ms(1));
    EXPECT_EQ(stack.counters().drop_not_our_address, ++n);
    std::vector<std::byte> out;
    EXPECT_FALSE(stack.pop_packet(out));
    EXPECT_FALSE(stack.poll_connect_request());
  }
  // An ordinary destination becomes a connect request.
  stack.receive_packet(syn_from(kPeer, IpAddress::v4(198, 18, 9, 9)), at_ms(2));
  EXPECT_TRUE(stack.poll_connect_request());
}

}  // namespace martian_test
}  // namespace synack
