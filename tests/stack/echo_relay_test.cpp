// SPDX-License-Identifier: MIT
// StackConfig::intercept_echo: echo requests to addresses not ours are queued for the
// application (synack run relays them through host ping sockets) and answered from the
// destination with the request's identifier, sequence number and the data the application got
// back (RFC 792 "Echo or Echo Reply Message", RFC 4443 §4.1-4.2). The queue is bounded.
#include <gtest/gtest.h>

#include <vector>

#include "stack/icmp.hpp"
#include "synack/stack.hpp"
#include "wire/ip_header.hpp"

namespace synack {
namespace echo_relay_test {

using wire::IpAddress;

const IpAddress kGateway = IpAddress::v4(198, 18, 0, 1);
const IpAddress kGuest = IpAddress::v4(198, 18, 0, 2);
const IpAddress kFar = IpAddress::v4(198, 19, 7, 7);
const IpAddress kGateway6 = *IpAddress::parse("fd53:796e:6163::1");
const IpAddress kGuest6 = *IpAddress::parse("fd53:796e:6163::2");
const IpAddress kFar6 = *IpAddress::parse("fd53:796e:6163:1::7");

Instant at_ms(std::int64_t ms) { return instant_from_us(ms * 1000); }

StackConfig relaying_echo() {
  StackConfig c;
  c.intercept = true;
  c.intercept_echo = true;
  c.max_echo_requests = 4;
  return c;
}

// An echo request from `src` to `dst` with identifier 0x1234, `seq` and 3 bytes of data, built
// as the echo reply to a request the other way would be (build_echo_reply swaps addresses),
// then turned into a request.
std::vector<std::byte> echo_request(const IpAddress& src, const IpAddress& dst, std::uint16_t seq) {
  wire::IpHeader ip;
  ip.src = dst;
  ip.dst = src;
  const std::vector<std::byte> data{std::byte{'a'}, std::byte{'b'}, std::byte{'c'}};
  icmp::IcmpMessage m;
  m.rest = (0x1234u << 16) | seq;
  m.data = data;
  std::vector<std::byte> out;
  icmp::build_echo_reply(ip, m, 64, out);  // from src to dst, type echo reply
  // Make it a request: type 8 / 128, and fix the checksum by re-parsing with a rebuilt sum.
  auto parsed_ip = wire::parse_ip_header(out);
  std::size_t h = parsed_ip->header_length;
  const bool v4 = src.is_v4();
  out[h] = std::byte{v4 ? icmp::kV4EchoRequest : icmp::kV6EchoRequest};
  // RFC 1624 eq. 3: HC' = ~(~HC + ~m + m'), m the first 16-bit word (type, code).
  const std::uint32_t hc = (std::to_integer<std::uint32_t>(out[h + 2]) << 8) |
                           std::to_integer<std::uint32_t>(out[h + 3]);
  const std::uint32_t m_old = (v4 ? icmp::kV4EchoReply : icmp::kV6EchoReply) << 8;
  const std::uint32_t m_new = (v4 ? icmp::kV4EchoRequest : icmp::kV6EchoRequest) << 8;
  std::uint32_t sum = (~hc & 0xffff) + (~m_old & 0xffff) + m_new;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  const auto fixed = static_cast<std::uint16_t>(~sum & 0xffff);
  out[h + 2] = static_cast<std::byte>(fixed >> 8);
  out[h + 3] = static_cast<std::byte>(fixed & 0xff);
  return out;
}

TEST(EchoRelay, EchoBeyondOurAddressesIsQueuedAndAnsweredFromTheDestination) {
  for (bool v6 : {false, true}) {
    Stack stack(relaying_echo(), {kGateway, kGateway6});
    const IpAddress guest = v6 ? kGuest6 : kGuest, far = v6 ? kFar6 : kFar;
    stack.receive_packet(echo_request(guest, far, 7), at_ms(0));
    std::vector<std::byte> out;
    EXPECT_FALSE(stack.pop_packet(out)) << "not answered by the stack itself";
    auto ev = stack.poll_event();
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->handle, kEchoRequestsHandle);
    auto r = stack.poll_echo_request();
    ASSERT_TRUE(r) << "v6=" << v6 << " queued=" << stack.counters().icmp_echo_queued
                   << " malformed=" << stack.counters().drop_icmp_malformed;
    EXPECT_EQ(r->local, far);
    EXPECT_EQ(r->remote, guest);
    EXPECT_EQ(r->identifier, 0x1234);
    EXPECT_EQ(r->sequence, 7);
    EXPECT_EQ(r->data.size(), 3u);
    EXPECT_FALSE(stack.poll_echo_request());

    const std::vector<std::byte> back{std::byte{'x'}, std::byte{'y'}};
    ASSERT_TRUE(stack.send_echo_reply(*r, back, at_ms(1)));
    ASSERT_TRUE(stack.pop_packet(out));
    auto ip = wire::parse_ip_header(out);
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->src, far);
    EXPECT_EQ(ip->dst, guest);
    auto m = icmp::parse(
        *ip, std::span<const std::byte>(out).subspan(ip->header_length, ip->payload_length));
    ASSERT_TRUE(m) << "checksum correct";
    EXPECT_EQ(m->type, v6 ? icmp::kV6EchoReply : icmp::kV4EchoReply);
    EXPECT_EQ(m->rest, (0x1234u << 16) | 7u);
    EXPECT_EQ(m->data.size(), 2u);
  }
}

TEST(EchoRelay, QueueIsBoundedAndOffByDefault) {
  Stack stack(relaying_echo(), {kGateway});
  for (std::uint16_t seq = 0; seq < 10; ++seq)
    stack.receive_packet(echo_request(kGuest, kFar, seq), at_ms(0));
  EXPECT_EQ(stack.counters().icmp_echo_queued, 4u);
  EXPECT_EQ(stack.counters().drop_icmp_echo_queue_full, 6u);
  // Multicast is not relayed.
  stack.receive_packet(echo_request(kGuest, IpAddress::v4(224, 0, 0, 1), 1), at_ms(0));
  EXPECT_EQ(stack.counters().icmp_echo_queued, 4u);

  StackConfig plain = relaying_echo();
  plain.intercept_echo = false;
  Stack off(plain, {kGateway});
  off.receive_packet(echo_request(kGuest, kFar, 1), at_ms(0));
  EXPECT_FALSE(off.poll_echo_request());
  EXPECT_EQ(off.counters().drop_icmp_not_ours, 1u);
  EchoRequest bad{kFar, kGuest6, 1, 1, {}};
  EXPECT_FALSE(off.send_echo_reply(bad, {}, at_ms(0))) << "mixed families";
}

}  // namespace echo_relay_test
}  // namespace synack
