// SPDX-License-Identifier: MIT
// IPv4 (RFC 791) and IPv6 (RFC 8200) headers: parse, emit, and each malformed case.
#include "wire/ip_header.hpp"

#include <gtest/gtest.h>

#include "wire/checksum.hpp"
#include "wire/wire_test_support.hpp"

namespace synack::wire {
namespace ip_header_test {

using test::from_hex;
using test::load16;
using test::store16;

// An IPv4 packet of `header` plus `payload_length` bytes of payload.
std::vector<std::byte> v4_packet(const IpHeader& header, std::size_t payload_length) {
  IpHeader h = header;
  h.payload_length = payload_length;
  std::vector<std::byte> out(kIpv4MinHeader + payload_length, std::byte{0x5a});
  emit_ip_header(h, out);
  return out;
}

std::vector<std::byte> v6_packet(const IpHeader& header, std::size_t payload_length) {
  IpHeader h = header;
  h.payload_length = payload_length;
  std::vector<std::byte> out(kIpv6Header + payload_length, std::byte{0x5a});
  emit_ip_header(h, out);
  return out;
}

// Recomputes the IPv4 header checksum after a test edited the header.
void refresh_ipv4_checksum(std::vector<std::byte>& packet) {
  const std::size_t ihl = (static_cast<unsigned>(packet[0]) & 0xf) * 4u;
  store16(packet, 10, 0);
  store16(packet, 10, internet_checksum(std::span(packet).first(std::min(ihl, packet.size()))));
}

ParseError error_of(std::span<const std::byte> packet) {
  const auto r = parse_ip_header(packet);
  return r ? ParseError::None : r.error();
}

// --- IPv4 ------------------------------------------------------------------------------

TEST(Ipv4Header, ParsesEmittedHeader) {
  const auto packet = v4_packet(test::sample_v4_header(), 12);
  const auto h = parse_ip_header(packet);
  ASSERT_TRUE(h.has_value()) << to_string(h.error());
  EXPECT_TRUE(h->is_v4());
  EXPECT_EQ(h->src, IpAddress::v4(192, 0, 2, 1));
  EXPECT_EQ(h->dst, IpAddress::v4(198, 51, 100, 7));
  EXPECT_EQ(h->ttl, 61);
  EXPECT_EQ(h->tos, 0x02);
  EXPECT_EQ(h->id, 0xbeef);
  EXPECT_TRUE(h->dont_fragment);
  EXPECT_EQ(h->protocol, kProtoTcp);
  EXPECT_EQ(h->header_length, 20u);
  EXPECT_EQ(h->payload_length, 12u);
}

// Gather input: `trailing` payload bytes that lie elsewhere count toward the total length.
TEST(Ipv4Header, TrailingBytesCountTowardTheTotalLength) {
  const auto packet = v4_packet(test::sample_v4_header(), 1000);
  const auto headers = std::span(packet).first(40);
  EXPECT_EQ(error_of(headers), ParseError::BadIpTotalLength) << "alone, the headers are short";
  const auto h = parse_ip_header(headers, 980);
  ASSERT_TRUE(h.has_value()) << to_string(h.error());
  EXPECT_EQ(h->payload_length, 1000u);
  EXPECT_EQ(parse_ip_header(headers, 979).error(), ParseError::BadIpTotalLength);
  EXPECT_EQ(parse_ip_header(std::span(packet).first(19), 1001).error(), ParseError::Truncated)
      << "the header itself must be there";
}

TEST(Ipv6Header, TrailingBytesCountTowardThePayloadLength) {
  const auto packet = v6_packet(test::sample_v6_header(), 500);
  const auto headers = std::span(packet).first(60);
  ASSERT_TRUE(parse_ip_header(headers, 480).has_value());
  EXPECT_EQ(parse_ip_header(headers, 479).error(), ParseError::BadIpTotalLength);
}

// RFC 791 §3.1 layout of what emit writes, byte for byte.
TEST(Ipv4Header, EmitsExactBytes) {
  IpHeader h;
  h.src = IpAddress::v4(192, 168, 0, 1);
  h.dst = IpAddress::v4(192, 168, 0, 199);
  h.protocol = kProtoUdp;
  h.ttl = 64;
  h.id = 0;
  h.dont_fragment = true;
  h.payload_length = 0x73 - 20;
  std::vector<std::byte> out(20);
  EXPECT_EQ(emit_ip_header(h, out), 20u);
  EXPECT_EQ(test::to_hex(out), "45000073000040004011b861c0a80001c0a800c7");
}

TEST(Ipv4Header, DontFragmentClearEmitsZeroFlags) {
  IpHeader h = test::sample_v4_header();
  h.dont_fragment = false;
  const auto packet = v4_packet(h, 0);
  EXPECT_EQ(load16(packet, 6), 0);
  const auto parsed = parse_ip_header(packet);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_FALSE(parsed->dont_fragment);
}

TEST(Ipv4Header, EmptyBufferIsTruncated) { EXPECT_EQ(error_of({}), ParseError::Truncated); }

TEST(Ipv4Header, ShorterThanTwentyBytesIsTruncated) {
  const auto packet = v4_packet(test::sample_v4_header(), 0);
  for (std::size_t n = 1; n < 20; ++n) {
    EXPECT_EQ(error_of(std::span(packet).first(n)), ParseError::Truncated) << n;
  }
}

TEST(IpHeader, VersionOtherThanFourOrSixIsBadIpVersion) {
  auto packet = v4_packet(test::sample_v4_header(), 20);
  for (unsigned version = 0; version < 16; ++version) {
    if (version == 4 || version == 6) continue;
    packet[0] = static_cast<std::byte>((version << 4) | 5);
    EXPECT_EQ(error_of(packet), ParseError::BadIpVersion) << version;
    EXPECT_EQ(error_of(std::span(packet).first(1)), ParseError::BadIpVersion) << version;
  }
}

TEST(Ipv4Header, IhlBelowFiveIsBadHeaderLength) {
  auto packet = v4_packet(test::sample_v4_header(), 20);
  for (unsigned ihl = 0; ihl < 5; ++ihl) {
    packet[0] = static_cast<std::byte>(0x40 | ihl);
    EXPECT_EQ(error_of(packet), ParseError::BadIpv4HeaderLength) << ihl;
  }
}

TEST(Ipv4Header, IhlPastBufferIsBadHeaderLength) {
  auto packet = v4_packet(test::sample_v4_header(), 0);  // 20 bytes
  packet[0] = std::byte{0x46};                           // claims 24
  EXPECT_EQ(error_of(packet), ParseError::BadIpv4HeaderLength);
  packet[0] = std::byte{0x4f};  // claims 60
  packet.resize(59);
  EXPECT_EQ(error_of(packet), ParseError::BadIpv4HeaderLength);
}

TEST(Ipv4Header, TotalLengthBelowHeaderIsBadTotalLength) {
  auto packet = v4_packet(test::sample_v4_header(), 8);
  store16(packet, 2, 19);
  refresh_ipv4_checksum(packet);
  EXPECT_EQ(error_of(packet), ParseError::BadIpTotalLength);
  store16(packet, 2, 0);
  refresh_ipv4_checksum(packet);
  EXPECT_EQ(error_of(packet), ParseError::BadIpTotalLength);
}

TEST(Ipv4Header, TotalLengthPastBufferIsBadTotalLength) {
  auto packet = v4_packet(test::sample_v4_header(), 8);
  store16(packet, 2, 29);
  refresh_ipv4_checksum(packet);
  EXPECT_EQ(error_of(packet), ParseError::BadIpTotalLength);
}

TEST(Ipv4Header, TotalLengthEqualToHeaderIsEmptyPayload) {
  const auto packet = v4_packet(test::sample_v4_header(), 0);
  const auto h = parse_ip_header(packet);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->payload_length, 0u);
}

// RFC 791 §3.1 Total Length: Ethernet pads short frames; the padding is not payload.
TEST(Ipv4Header, TrailingLinkPaddingIgnored) {
  auto packet = v4_packet(test::sample_v4_header(), 6);
  packet.resize(packet.size() + 20, std::byte{0});
  const auto h = parse_ip_header(packet);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->payload_length, 6u);
}

TEST(Ipv4Header, BadHeaderChecksum) {
  auto packet = v4_packet(test::sample_v4_header(), 4);
  packet[11] ^= std::byte{0x01};
  EXPECT_EQ(error_of(packet), ParseError::BadIpv4HeaderChecksum);
}

// The checksum covers the whole header, IPv4 options included, and nothing after it.
TEST(Ipv4Header, ChecksumCoversOptionsButNotPayload) {
  auto packet = v4_packet(test::sample_v4_header(), 8);
  packet.insert(packet.begin() + 20, 4, std::byte{0x01});  // four NOP options
  packet[0] = std::byte{0x46};
  store16(packet, 2, 32);
  refresh_ipv4_checksum(packet);
  ASSERT_EQ(error_of(packet), ParseError::None);
  packet[30] ^= std::byte{0xff};  // payload: not covered
  EXPECT_EQ(error_of(packet), ParseError::None);
  packet[22] ^= std::byte{0x01};  // option byte: covered
  EXPECT_EQ(error_of(packet), ParseError::BadIpv4HeaderChecksum);
}

// RFC 791 §3.1 options (here a Record Route option and padding) are skipped.
TEST(Ipv4Header, OptionsSkipped) {
  auto packet = v4_packet(test::sample_v4_header(), 4);
  const auto options = from_hex("07 07 04 00000000 00");  // RR, len 7, ptr 4, one slot; EOL
  packet.insert(packet.begin() + 20, options.begin(), options.end());
  packet[0] = std::byte{0x47};
  store16(packet, 2, 32);
  refresh_ipv4_checksum(packet);
  const auto h = parse_ip_header(packet);
  ASSERT_TRUE(h.has_value()) << to_string(h.error());
  EXPECT_EQ(h->header_length, 28u);
  EXPECT_EQ(h->payload_length, 4u);
  EXPECT_EQ(h->src, IpAddress::v4(192, 0, 2, 1));
}

// RFC 791 §3.2: we do not reassemble, so every fragment is refused.
TEST(Ipv4Header, MoreFragmentsFlagIsFragment) {
  auto packet = v4_packet(test::sample_v4_header(), 8);
  store16(packet, 6, 0x2000);  // MF, offset 0: the first fragment
  refresh_ipv4_checksum(packet);
  EXPECT_EQ(error_of(packet), ParseError::Ipv4Fragment);
}

TEST(Ipv4Header, NonzeroFragmentOffsetIsFragment) {
  auto packet = v4_packet(test::sample_v4_header(), 8);
  store16(packet, 6, 0x0001);  // offset 8 bytes, no MF: the last fragment
  refresh_ipv4_checksum(packet);
  EXPECT_EQ(error_of(packet), ParseError::Ipv4Fragment);
  store16(packet, 6, 0x1fff);  // the largest offset
  refresh_ipv4_checksum(packet);
  EXPECT_EQ(error_of(packet), ParseError::Ipv4Fragment);
  store16(packet, 6, 0x4000 | 0x00b9);  // DF does not make an offset acceptable
  refresh_ipv4_checksum(packet);
  EXPECT_EQ(error_of(packet), ParseError::Ipv4Fragment);
}

TEST(Ipv4Header, ReservedFlagIgnored) {
  auto packet = v4_packet(test::sample_v4_header(), 8);
  store16(packet, 6, 0x8000 | 0x4000);
  refresh_ipv4_checksum(packet);
  const auto h = parse_ip_header(packet);
  ASSERT_TRUE(h.has_value());
  EXPECT_TRUE(h->dont_fragment);
}

TEST(Ipv4Header, OtherProtocolsParse) {
  for (std::uint8_t protocol : {kProtoIcmp, kProtoUdp, std::uint8_t{132}}) {
    IpHeader header = test::sample_v4_header();
    header.protocol = protocol;
    const auto h = parse_ip_header(v4_packet(header, 8));
    ASSERT_TRUE(h.has_value());
    EXPECT_EQ(h->protocol, protocol);
  }
}

// --- IPv6 ------------------------------------------------------------------------------

TEST(Ipv6Header, ParsesEmittedHeader) {
  const auto packet = v6_packet(test::sample_v6_header(), 12);
  const auto h = parse_ip_header(packet);
  ASSERT_TRUE(h.has_value()) << to_string(h.error());
  EXPECT_FALSE(h->is_v4());
  EXPECT_EQ(h->src.to_string(), "2001:db8::1");
  EXPECT_EQ(h->dst.to_string(), "2001:db8:ffff::abcd:2");
  EXPECT_EQ(h->ttl, 57);
  EXPECT_EQ(h->tos, 0xb8);
  EXPECT_EQ(h->flow_label, 0xa8afbu);
  EXPECT_EQ(h->protocol, kProtoTcp);
  EXPECT_EQ(h->header_length, 40u);
  EXPECT_EQ(h->payload_length, 12u);
}

// RFC 8200 §3 layout: version, traffic class, flow label, payload length, next header,
// hop limit, addresses.
TEST(Ipv6Header, EmitsExactBytes) {
  IpHeader h;
  h.src = *IpAddress::parse("::1");
  h.dst = *IpAddress::parse("::1");
  h.protocol = kProtoTcp;
  h.ttl = 64;
  h.tos = 0;
  h.flow_label = 0xa8afb;
  h.payload_length = 40;
  std::vector<std::byte> out(40);
  EXPECT_EQ(emit_ip_header(h, out), 40u);
  EXPECT_EQ(test::to_hex(out),
            "600a8afb00280640"
            "00000000000000000000000000000001"
            "00000000000000000000000000000001");
}

TEST(Ipv6Header, FlowLabelMaskedToTwentyBits) {
  IpHeader h = test::sample_v6_header();
  h.flow_label = 0xfffffff;
  const auto packet = v6_packet(h, 0);
  EXPECT_EQ(static_cast<unsigned>(packet[0]) >> 4, 6u);
  const auto parsed = parse_ip_header(packet);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->flow_label, 0xfffffu);
  EXPECT_EQ(parsed->tos, 0xb8);
}

TEST(Ipv6Header, ShorterThanFortyBytesIsTruncated) {
  const auto packet = v6_packet(test::sample_v6_header(), 0);
  for (std::size_t n = 1; n < 40; ++n) {
    EXPECT_EQ(error_of(std::span(packet).first(n)), ParseError::Truncated) << n;
  }
}

TEST(Ipv6Header, PayloadLengthPastBufferIsBadTotalLength) {
  auto packet = v6_packet(test::sample_v6_header(), 8);
  store16(packet, 4, 9);
  EXPECT_EQ(error_of(packet), ParseError::BadIpTotalLength);
}

TEST(Ipv6Header, TrailingLinkPaddingIgnored) {
  auto packet = v6_packet(test::sample_v6_header(), 8);
  packet.resize(packet.size() + 7, std::byte{0});
  const auto h = parse_ip_header(packet);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->payload_length, 8u);
}

class Ipv6ExtensionHeader : public ::testing::TestWithParam<std::uint8_t> {};

// RFC 8200 §4: extension headers are not walked; such packets are refused.
TEST_P(Ipv6ExtensionHeader, IsUnsupported) {
  IpHeader h = test::sample_v6_header();
  h.protocol = GetParam();
  EXPECT_EQ(error_of(v6_packet(h, 16)), ParseError::UnsupportedIpv6ExtensionHeader);
}

INSTANTIATE_TEST_SUITE_P(Rfc8200, Ipv6ExtensionHeader,
                         ::testing::Values(0 /* hop-by-hop */, 43 /* routing */, 44 /* fragment */,
                                           60 /* destination options */, 51 /* AH */,
                                           135 /* mobility */, 139 /* HIP */, 140 /* shim6 */, 253,
                                           254 /* experiments */));

TEST(Ipv6Header, UpperLayerProtocolsParse) {
  for (std::uint8_t next : {kProtoTcp, kProtoUdp, kProtoIcmpv6, std::uint8_t{59} /* none */}) {
    IpHeader header = test::sample_v6_header();
    header.protocol = next;
    const auto h = parse_ip_header(v6_packet(header, 8));
    ASSERT_TRUE(h.has_value()) << int{next};
    EXPECT_EQ(h->protocol, next);
  }
}

}  // namespace ip_header_test
}  // namespace synack::wire
