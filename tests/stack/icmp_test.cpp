// SPDX-License-Identifier: MIT
// The stack's IP layer: ICMP echo (RFC 792, RFC 4443 §4), protocol unreachable / parameter
// problem for protocols we do not serve (RFC 1122 §3.2.2.1, RFC 8200 §4), and ICMP errors
// delivered to the connection they quote (RFC 1122 §4.2.3.9, RFC 5927 §4.1).
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "stack/icmp.hpp"
#include "synack/stack.hpp"
#include "wire/byte_order.hpp"
#include "wire/checksum.hpp"
#include "wire/packet.hpp"

namespace synack {
namespace icmp_test {

using wire::IpAddress;

const IpAddress kUs = IpAddress::v4(198, 18, 0, 1);
const IpAddress kPeer = IpAddress::v4(198, 18, 0, 2);
const IpAddress kUs6 = *IpAddress::parse("fd53:796e:6163::1");
const IpAddress kPeer6 = *IpAddress::parse("fd53:796e:6163::2");

Instant at_ms(std::int64_t ms) { return instant_from_us(ms * 1000); }

// An IP packet carrying `body` as protocol `protocol`, with checksum fixed for ICMP bodies.
std::vector<std::byte> ip_packet(const IpAddress& src, const IpAddress& dst, std::uint8_t protocol,
                                 std::vector<std::byte> body) {
  wire::IpHeader ip;
  ip.src = src;
  ip.dst = dst;
  ip.protocol = protocol;
  ip.payload_length = body.size();
  std::vector<std::byte> out(ip.emitted_header_size() + body.size());
  std::size_t header = wire::emit_ip_header(ip, out);
  std::copy(body.begin(), body.end(), out.begin() + static_cast<std::ptrdiff_t>(header));
  return out;
}

// An ICMP message (type, code, rest, data) with a correct checksum, inside an IP packet.
std::vector<std::byte> icmp_packet(const IpAddress& src, const IpAddress& dst, std::uint8_t type,
                                   std::uint8_t code, std::uint32_t rest,
                                   std::span<const std::byte> data) {
  std::vector<std::byte> body(8 + data.size());
  wire::detail::store_u8(body, 0, type);
  wire::detail::store_u8(body, 1, code);
  wire::detail::store_u32(body, 4, rest);
  std::copy(data.begin(), data.end(), body.begin() + 8);
  wire::ChecksumAccumulator acc;
  if (!src.is_v4()) wire::add_pseudo_header(acc, src, dst, wire::kProtoIcmpv6, body.size());
  acc.add(body);
  wire::detail::store_u16(body, 2, acc.finish());
  return ip_packet(src, dst, src.is_v4() ? wire::kProtoIcmp : wire::kProtoIcmpv6, body);
}

std::vector<std::byte> bytes_of(std::string_view s) {
  auto b = std::as_bytes(std::span(s.data(), s.size()));
  return {b.begin(), b.end()};
}

struct Parsed {
  wire::IpHeader ip;
  icmp::IcmpMessage message;
  std::vector<std::byte> packet;  // owns what message.data points into
};

std::optional<Parsed> pop_icmp(Stack& stack) {
  std::vector<std::byte> out;
  if (!stack.pop_packet(out)) return std::nullopt;
  Parsed p;
  p.packet = std::move(out);
  auto ip = wire::parse_ip_header(p.packet);
  if (!ip) return std::nullopt;
  p.ip = *ip;
  auto m = icmp::parse(
      *ip, std::span<const std::byte>(p.packet).subspan(ip->header_length, ip->payload_length));
  if (!m) return std::nullopt;  // a bad checksum fails here
  p.message = *m;
  return p;
}

TEST(IcmpEcho, Ipv4RequestAnsweredWithReply_Rfc792) {
  Stack stack(StackConfig{}, {kUs});
  auto data = bytes_of("ping payload 0123456789");
  stack.receive_packet(icmp_packet(kPeer, kUs, icmp::kV4EchoRequest, 0, 0x12340007, data),
                       at_ms(1));
  auto reply = pop_icmp(stack);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->ip.src, kUs);
  EXPECT_EQ(reply->ip.dst, kPeer);
  EXPECT_EQ(reply->message.type, icmp::kV4EchoReply);
  EXPECT_EQ(reply->message.code, 0);
  EXPECT_EQ(reply->message.rest, 0x12340007u);  // identifier and sequence number kept
  EXPECT_TRUE(
      std::equal(data.begin(), data.end(), reply->message.data.begin(), reply->message.data.end()));
  EXPECT_EQ(stack.counters().icmp_echo_replies, 1u);
  EXPECT_EQ(stack.counters().icmp_in, 1u);
}

TEST(IcmpEcho, Ipv6RequestAnsweredWithPseudoHeaderChecksum_Rfc4443) {
  Stack stack(StackConfig{}, {kUs, kUs6});
  auto data = bytes_of("v6 ping");
  stack.receive_packet(icmp_packet(kPeer6, kUs6, icmp::kV6EchoRequest, 0, 0xabcd0001, data),
                       at_ms(1));
  auto reply = pop_icmp(stack);  // parse() verifies the RFC 4443 §2.3 checksum
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->ip.src, kUs6);
  EXPECT_EQ(reply->ip.dst, kPeer6);
  EXPECT_EQ(reply->ip.protocol, wire::kProtoIcmpv6);
  EXPECT_EQ(reply->message.type, icmp::kV6EchoReply);
  EXPECT_EQ(reply->message.rest, 0xabcd0001u);
}

TEST(IcmpEcho, BadChecksumDroppedAndCounted) {
  Stack stack(StackConfig{}, {kUs});
  auto packet = icmp_packet(kPeer, kUs, icmp::kV4EchoRequest, 0, 1, bytes_of("x"));
  packet[20 + 2] ^= std::byte{0x01};
  stack.receive_packet(packet, at_ms(1));
  std::vector<std::byte> out;
  EXPECT_FALSE(stack.pop_packet(out));
  EXPECT_EQ(stack.counters().drop_icmp_malformed, 1u);
}

TEST(IcmpEcho, TruncatedMessageDropped) {
  Stack stack(StackConfig{}, {kUs});
  stack.receive_packet(ip_packet(kPeer, kUs, wire::kProtoIcmp, {std::byte{8}, std::byte{0}}),
                       at_ms(1));
  std::vector<std::byte> out;
  EXPECT_FALSE(stack.pop_packet(out));
  EXPECT_EQ(stack.counters().drop_icmp_malformed, 1u);
}

TEST(IcmpEcho, ReplyAndUnknownTypesAreNotAnswered) {
  Stack stack(StackConfig{}, {kUs});
  stack.receive_packet(icmp_packet(kPeer, kUs, icmp::kV4EchoReply, 0, 1, {}), at_ms(1));
  stack.receive_packet(icmp_packet(kPeer, kUs, 42, 0, 1, {}), at_ms(1));
  std::vector<std::byte> out;
  EXPECT_FALSE(stack.pop_packet(out));
  EXPECT_EQ(stack.counters().icmp_ignored, 2u);
}

TEST(ProtocolUnreachable, Ipv4UdpAnsweredWithType3Code2QuotingThePacket_Rfc1122_3_2_2_1) {
  Stack stack(StackConfig{}, {kUs});
  std::vector<std::byte> udp(8 + 5, std::byte{0x55});
  auto offending = ip_packet(kPeer, kUs, wire::kProtoUdp, udp);
  stack.receive_packet(offending, at_ms(1));
  auto error = pop_icmp(stack);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->ip.dst, kPeer);
  EXPECT_EQ(error->message.type, icmp::kV4DestUnreachable);
  EXPECT_EQ(error->message.code, icmp::kV4CodeProtocolUnreachable);
  ASSERT_EQ(error->message.data.size(), offending.size());
  EXPECT_TRUE(std::equal(offending.begin(), offending.end(), error->message.data.begin()));
  EXPECT_EQ(stack.counters().icmp_unreachable_sent, 1u);
  EXPECT_EQ(stack.counters().drop_unknown_protocol, 1u);
}

TEST(ProtocolUnreachable, Ipv6AnsweredWithParameterProblemPointingAtNextHeader_Rfc8200_4) {
  Stack stack(StackConfig{}, {kUs6});
  auto offending = ip_packet(kPeer6, kUs6, wire::kProtoUdp, std::vector<std::byte>(8));
  stack.receive_packet(offending, at_ms(1));
  auto error = pop_icmp(stack);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->message.type, icmp::kV6ParameterProblem);
  EXPECT_EQ(error->message.code, icmp::kV6CodeUnrecognizedNextHeader);
  EXPECT_EQ(error->message.rest, 6u);  // offset of Next Header in the quoted packet
}

TEST(ProtocolUnreachable, QuoteLimitedTo576Bytes_Rfc1812_4_3_2_3) {
  Stack stack(StackConfig{}, {kUs});
  stack.receive_packet(ip_packet(kPeer, kUs, wire::kProtoUdp, std::vector<std::byte>(3000)),
                       at_ms(1));
  std::vector<std::byte> out;
  ASSERT_TRUE(stack.pop_packet(out));
  EXPECT_EQ(out.size(), icmp::kV4ErrorMaxPacket);
}

TEST(ProtocolUnreachable, RateLimited_Rfc4443_2_4_f) {
  Stack stack(StackConfig{}, {kUs});
  auto offending = ip_packet(kPeer, kUs, wire::kProtoUdp, std::vector<std::byte>(8));
  for (int i = 0; i < 200; ++i) stack.receive_packet(offending, at_ms(1));
  std::vector<std::byte> out;
  int sent = 0;
  while (stack.pop_packet(out)) ++sent;
  EXPECT_EQ(sent, 50);  // the burst
  EXPECT_EQ(stack.counters().icmp_rate_limited, 150u);
  // A second later the bucket is full again.
  stack.receive_packet(offending, at_ms(1001));
  EXPECT_TRUE(stack.pop_packet(out));
}

// --- errors received --------------------------------------------------------------------

struct Opening {
  Stack stack{StackConfig{}, {kUs, kUs6}};
  ConnectionId id = 0;
  std::vector<std::byte> syn;  // the SYN we sent, as the peer would quote it
};

void open_to(Opening& o, const IpAddress& peer) {
  auto id = o.stack.connect(wire::Endpoint{peer, 80}, at_ms(0));
  ASSERT_TRUE(id);
  o.id = *id;
  ASSERT_TRUE(o.stack.pop_packet(o.syn));
  while (o.stack.poll_event()) {
  }
}

std::uint8_t events_for(Stack& stack, ConnectionId id) {
  std::uint8_t bits = 0;
  while (auto ev = stack.poll_event())
    if (ev->handle == id) bits |= ev->events;
  return bits;
}

TEST(IcmpErrors, PortUnreachableFailsSynSentAsRefused_Rfc1122_4_2_3_9) {
  Opening o;
  open_to(o, kPeer);
  o.stack.receive_packet(icmp_packet(kPeer, kUs, icmp::kV4DestUnreachable, 3, 0, o.syn), at_ms(5));
  EXPECT_TRUE(events_for(o.stack, o.id) & tcp::event::Reset);
  EXPECT_EQ(o.stack.connection_error(o.id), Error::ConnectionRefused);
  EXPECT_EQ(o.stack.state(o.id), State::Closed);
  EXPECT_EQ(o.stack.counters().icmp_errors_delivered, 1u);
}

TEST(IcmpErrors, NetUnreachableIsSoftInSynSent_Rfc1122_4_2_3_9) {
  Opening o;
  open_to(o, kPeer);
  o.stack.receive_packet(icmp_packet(kPeer, kUs, icmp::kV4DestUnreachable, 0, 0, o.syn), at_ms(5));
  EXPECT_EQ(o.stack.state(o.id), State::SynSent);
  EXPECT_EQ(o.stack.counters().icmp_errors_delivered, 1u);
}

TEST(IcmpErrors, AdministrativelyProhibitedIsHard) {
  Opening o;
  open_to(o, kPeer);
  o.stack.receive_packet(icmp_packet(kPeer, kUs, icmp::kV4DestUnreachable, 13, 0, o.syn), at_ms(5));
  EXPECT_EQ(o.stack.connection_error(o.id), Error::Unreachable);
}

TEST(IcmpErrors, Icmpv6PortUnreachableFailsSynSent) {
  Opening o;
  open_to(o, kPeer6);
  o.stack.receive_packet(icmp_packet(kPeer6, kUs6, icmp::kV6DestUnreachable, 4, 0, o.syn),
                         at_ms(5));
  EXPECT_EQ(o.stack.connection_error(o.id), Error::ConnectionRefused);
}

TEST(IcmpErrors, QuotedSequenceOutsideSendWindowIgnored_Rfc5927_4_1) {
  Opening o;
  open_to(o, kPeer);
  auto quote = o.syn;
  // The quoted sequence number is at IP header (20) + 4.
  quote[24] ^= std::byte{0x80};
  o.stack.receive_packet(icmp_packet(kPeer, kUs, icmp::kV4DestUnreachable, 3, 0, quote), at_ms(5));
  EXPECT_EQ(o.stack.state(o.id), State::SynSent);
  EXPECT_EQ(o.stack.counters().icmp_ignored, 1u);
  EXPECT_EQ(o.stack.counters().icmp_errors_delivered, 0u);
}

TEST(IcmpErrors, NoMatchingConnectionIgnored) {
  Opening o;
  open_to(o, kPeer);
  auto quote = o.syn;
  quote[20] ^= std::byte{0x01};  // another source port
  o.stack.receive_packet(icmp_packet(kPeer, kUs, icmp::kV4DestUnreachable, 3, 0, quote), at_ms(5));
  EXPECT_EQ(o.stack.state(o.id), State::SynSent);
  EXPECT_EQ(o.stack.counters().icmp_ignored, 1u);
}

// Stack::set_stray_handler (`synack run --queues`): the kernel picks a TUN queue for an ICMP
// error by its addresses, so it may reach a stack other than the one whose connection it
// quotes. That stack offers it on instead of ignoring it.
TEST(IcmpErrors, QuotingAnotherStacksConnectionIsOfferedToTheStrayHandler_Rfc1122_4_2_3_9) {
  Opening owner;  // holds the connection the error quotes
  open_to(owner, kPeer);
  Stack other(StackConfig{}, {kUs, kUs6});  // where the error arrives
  int offered = 0;
  other.set_stray_handler([&](std::span<const std::byte> packet) {
    ++offered;
    owner.stack.receive_packet(packet, at_ms(5));
    return true;
  });
  other.receive_packet(icmp_packet(kPeer, kUs, icmp::kV4DestUnreachable, 3, 0, owner.syn),
                       at_ms(5));
  EXPECT_EQ(offered, 1);
  EXPECT_EQ(other.counters().icmp_stray_handed_off, 1u);
  EXPECT_EQ(other.counters().icmp_ignored, 0u);
  EXPECT_EQ(owner.stack.connection_error(owner.id), Error::ConnectionRefused)
      << "the port unreachable reached the connection it quotes";
  EXPECT_EQ(owner.stack.counters().icmp_errors_delivered, 1u);
}

TEST(IcmpErrors, DeclinedByTheStrayHandlerIsIgnored) {
  Opening o;
  open_to(o, kPeer);
  Stack other(StackConfig{}, {kUs, kUs6});
  int offered = 0;
  other.set_stray_handler([&](std::span<const std::byte>) {
    ++offered;
    return false;
  });
  other.receive_packet(icmp_packet(kPeer, kUs, icmp::kV4DestUnreachable, 3, 0, o.syn), at_ms(5));
  EXPECT_EQ(offered, 1);
  EXPECT_EQ(other.counters().icmp_ignored, 1u);
  EXPECT_EQ(other.counters().icmp_stray_handed_off, 0u);
  std::vector<std::byte> out;
  EXPECT_FALSE(other.pop_packet(out)) << "RFC 1122 §3.2.2: no answer to an ICMP error";
}

TEST(IcmpErrors, AnErrorForTheStacksOwnConnectionIsNeverOffered) {
  Opening o;
  open_to(o, kPeer);
  int offered = 0;
  o.stack.set_stray_handler([&](std::span<const std::byte>) {
    ++offered;
    return true;
  });
  o.stack.receive_packet(icmp_packet(kPeer, kUs, icmp::kV4DestUnreachable, 3, 0, o.syn), at_ms(5));
  EXPECT_EQ(offered, 0);
  EXPECT_EQ(o.stack.connection_error(o.id), Error::ConnectionRefused);
}

TEST(IcmpErrors, FragmentationNeededIsNotAFailure) {
  Opening o;
  open_to(o, kPeer);
  o.stack.receive_packet(icmp_packet(kPeer, kUs, icmp::kV4DestUnreachable, 4, 1280, o.syn),
                         at_ms(5));
  EXPECT_EQ(o.stack.state(o.id), State::SynSent);
  EXPECT_EQ(o.stack.counters().icmp_ignored, 1u);
}

TEST(IcmpErrors, NoErrorIsSentAboutAnIcmpError_Rfc1122_3_2_2) {
  Stack stack(StackConfig{}, {kUs});
  auto quote = ip_packet(kUs, kPeer, wire::kProtoUdp, std::vector<std::byte>(8));
  stack.receive_packet(icmp_packet(kPeer, kUs, icmp::kV4DestUnreachable, 3, 0, quote), at_ms(1));
  std::vector<std::byte> out;
  EXPECT_FALSE(stack.pop_packet(out));
}

// --- the pure functions -------------------------------------------------------------------

TEST(IcmpParse, QuotedTcpNeedsEightBytesOfTcpHeader) {
  Opening o;
  open_to(o, kPeer);
  auto q = icmp::parse_quoted_tcp(false, o.syn);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->src, kUs);
  EXPECT_EQ(q->dst, kPeer);
  EXPECT_EQ(q->dst_port, 80);
  for (std::size_t cut = 0; cut < 28; ++cut)
    EXPECT_FALSE(icmp::parse_quoted_tcp(false, std::span(o.syn).first(cut))) << cut;
  EXPECT_TRUE(icmp::parse_quoted_tcp(false, std::span(o.syn).first(28)));
  EXPECT_FALSE(icmp::parse_quoted_tcp(true, o.syn));  // wrong family
}

TEST(IcmpParse, ErrorClassification) {
  EXPECT_TRUE(icmp::is_error(false, icmp::kV4DestUnreachable));
  EXPECT_FALSE(icmp::is_error(false, icmp::kV4EchoRequest));
  EXPECT_TRUE(icmp::is_error(true, icmp::kV6PacketTooBig));
  EXPECT_FALSE(icmp::is_error(true, icmp::kV6EchoReply));
  EXPECT_FALSE(icmp::classify_error(true, icmp::kV6PacketTooBig, 0));
  EXPECT_FALSE(icmp::classify_error(false, icmp::kV4SourceQuench, 0));  // RFC 6633
  auto v6_admin = icmp::classify_error(true, icmp::kV6DestUnreachable, 1);
  ASSERT_TRUE(v6_admin);
  EXPECT_TRUE(v6_admin->hard);
  auto time_exceeded = icmp::classify_error(false, icmp::kV4TimeExceeded, 0);
  ASSERT_TRUE(time_exceeded);
  EXPECT_FALSE(time_exceeded->hard);
}

}  // namespace icmp_test
}  // namespace synack
