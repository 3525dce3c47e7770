// SPDX-License-Identifier: MIT
// Stack::send_port_unreachable: a relayed UDP datagram the host refused is answered toward the
// namespace with ICMP port unreachable (RFC 792 code 3) / ICMPv6 port unreachable (RFC 4443
// §3.1 code 4) quoting the datagram, rate-limited like every error we send unasked (RFC 1122
// §3.2.2, RFC 4443 §2.4 (f)).
#include <gtest/gtest.h>

#include <algorithm>
#include <string_view>
#include <vector>

#include "stack/icmp.hpp"
#include "synack/stack.hpp"
#include "wire/ip_header.hpp"
#include "wire/udp.hpp"

namespace synack {
namespace port_unreachable_test {

using wire::IpAddress;

const IpAddress kGateway = IpAddress::v4(198, 18, 0, 1);
const IpAddress kGuest = IpAddress::v4(198, 18, 0, 2);
const IpAddress kFar = IpAddress::v4(198, 19, 7, 7);
const IpAddress kGateway6 = *IpAddress::parse("fd53:796e:6163::1");
const IpAddress kGuest6 = *IpAddress::parse("fd53:796e:6163::2");
const IpAddress kFar6 = *IpAddress::parse("fd53:796e:6163:1::7");

Instant at_ms(std::int64_t ms) { return instant_from_us(ms * 1000); }

StackConfig intercepting() {
  StackConfig c;
  c.intercept = true;
  return c;
}

std::vector<std::byte> udp_packet(const IpAddress& src, std::uint16_t sport, const IpAddress& dst,
                                  std::uint16_t dport, std::size_t size) {
  wire::IpHeader ip;
  ip.src = src;
  ip.dst = dst;
  std::vector<std::byte> payload(size);
  for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<std::byte>(i * 7);
  std::vector<std::byte> out;
  wire::build_udp_packet(ip, sport, dport, payload, out);
  return out;
}

TEST(PortUnreachable, RefusedDatagramIsAnsweredWithIcmpQuotingIt) {
  for (bool v6 : {false, true}) {
    Stack stack(intercepting(), {kGateway, kGateway6});
    const IpAddress guest = v6 ? kGuest6 : kGuest, far = v6 ? kFar6 : kFar;
    const auto original = udp_packet(guest, 40000, far, 9999, 2000);
    stack.receive_packet(original, at_ms(0));
    auto d = stack.poll_datagram();
    ASSERT_TRUE(d);
    ASSERT_TRUE(stack.send_port_unreachable(d->local, d->remote, d->payload, at_ms(1)));
    std::vector<std::byte> out;
    ASSERT_TRUE(stack.pop_packet(out));
    auto ip = wire::parse_ip_header(out);
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->src, far) << "sent as the destination would";
    EXPECT_EQ(ip->dst, guest);
    EXPECT_LE(out.size(), v6 ? icmp::kV6ErrorMaxPacket : icmp::kV4ErrorMaxPacket);
    auto m = icmp::parse(
        *ip, std::span<const std::byte>(out).subspan(ip->header_length, ip->payload_length));
    ASSERT_TRUE(m) << "well-formed, checksum correct";
    EXPECT_EQ(m->type, v6 ? icmp::kV6DestUnreachable : icmp::kV4DestUnreachable);
    EXPECT_EQ(m->code, v6 ? 4 : 3);
    // The quote: the datagram's IP header (same addresses, UDP) and, byte for byte, its UDP
    // header and as much payload as fits.
    const std::size_t ip_header = v6 ? 40 : 20;
    ASSERT_GT(m->data.size(), ip_header + wire::kUdpHeaderSize + 100);
    EXPECT_TRUE(std::equal(m->data.begin() + ip_header, m->data.end(),
                           original.begin() + static_cast<std::ptrdiff_t>(ip_header)))
        << "UDP header and payload quoted exactly";
    // Source and destination addresses in the quoted header are the datagram's.
    const std::size_t addr_at = v6 ? 8 : 12, addr_len = v6 ? 32 : 8;
    EXPECT_TRUE(std::equal(m->data.begin() + addr_at, m->data.begin() + addr_at + addr_len,
                           original.begin() + static_cast<std::ptrdiff_t>(addr_at)));
    EXPECT_EQ(stack.counters().icmp_unreachable_sent, 1u);
  }
}

TEST(PortUnreachable, IsRateLimitedWithTheOtherIcmpErrors) {
  Stack stack(intercepting(), {kGateway});
  const std::vector<std::byte> payload(10);
  for (int i = 0; i < 80; ++i)
    ASSERT_TRUE(stack.send_port_unreachable({kFar, 9}, {kGuest, 4000}, payload, at_ms(0)));
  std::size_t sent = 0;
  std::vector<std::byte> out;
  while (stack.pop_packet(out)) ++sent;
  EXPECT_EQ(sent, 50u) << "a burst of 50, as the stack's other ICMP errors";
  EXPECT_EQ(stack.counters().icmp_rate_limited, 30u);
  // One token a millisecond afterwards.
  ASSERT_TRUE(stack.send_port_unreachable({kFar, 9}, {kGuest, 4000}, payload, at_ms(2)));
  ASSERT_TRUE(stack.send_port_unreachable({kFar, 9}, {kGuest, 4000}, payload, at_ms(2)));
  ASSERT_TRUE(stack.send_port_unreachable({kFar, 9}, {kGuest, 4000}, payload, at_ms(2)));
  sent = 0;
  while (stack.pop_packet(out)) ++sent;
  EXPECT_EQ(sent, 2u);
}

TEST(PortUnreachable, BadArgumentsAreRefused) {
  Stack stack(intercepting(), {kGateway, kGateway6});
  const std::vector<std::byte> payload(10);
  EXPECT_FALSE(stack.send_port_unreachable({kFar, 9}, {kGuest6, 4000}, payload, at_ms(0)));
  EXPECT_FALSE(stack.send_port_unreachable({kFar, 9}, {IpAddress::v4(224, 0, 0, 1), 4000}, payload,
                                           at_ms(0)));
  const std::vector<std::byte> huge(70000);
  EXPECT_FALSE(stack.send_port_unreachable({kFar, 9}, {kGuest, 4000}, huge, at_ms(0)));
  std::vector<std::byte> out;
  EXPECT_FALSE(stack.pop_packet(out));
  Stack plain(StackConfig{}, {kGateway});
  EXPECT_FALSE(plain.send_port_unreachable({kFar, 9}, {kGuest, 4000}, payload, at_ms(0)))
      << "not intercepting: only from our own addresses";
}

}  // namespace port_unreachable_test
}  // namespace synack
