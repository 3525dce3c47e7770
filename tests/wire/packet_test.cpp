// SPDX-License-Identifier: MIT
// Whole IP+TCP packets: real captures, round trips, every prefix, every bit flip.
#include "wire/packet.hpp"

#include <gtest/gtest.h>

#include "wire/checksum.hpp"
#include "wire/wire_test_support.hpp"

namespace synack::wire {
namespace packet_test {

using test::build;
using test::from_hex;
using test::store16;

ParseError error_of(std::span<const std::byte> packet) {
  const auto r = parse_tcp_packet(packet);
  return r ? ParseError::None : r.error();
}

// A packet for each family, option combination, a few payload sizes (odd ones included)
// and flag sets.
struct Sample {
  std::string name;
  IpHeader ip;
  TcpHeader tcp;
  std::vector<std::byte> payload;
};

std::vector<Sample> every_sample() {
  std::vector<Sample> all;
  const std::uint8_t flag_sets[] = {
      tcp_flag::SYN, tcp_flag::SYN | tcp_flag::ACK, tcp_flag::ACK | tcp_flag::PSH,
      tcp_flag::FIN | tcp_flag::ACK,
      tcp_flag::RST | tcp_flag::ACK | tcp_flag::URG | tcp_flag::ECE | tcp_flag::CWR};
  std::size_t n = 0;
  for (const bool v4 : {true, false}) {
    for (const auto& options : test::every_option_combination()) {
      for (const std::size_t payload : {0u, 1u, 7u}) {
        Sample s;
        s.ip = v4 ? test::sample_v4_header() : test::sample_v6_header();
        s.tcp = test::sample_tcp_header(flag_sets[n % std::size(flag_sets)]);
        s.tcp.urgent = s.tcp.has(tcp_flag::URG) ? 3 : 0;
        s.tcp.seq += static_cast<std::uint32_t>(n);
        s.tcp.options = options;
        s.payload = test::sample_payload(payload);
        s.name = std::string(v4 ? "v4" : "v6") + " #" + std::to_string(n);
        all.push_back(std::move(s));
        ++n;
      }
    }
  }
  return all;
}

// --- real captures ---------------------------------------------------------------------

struct Capture {
  std::string_view hex;
  std::uint8_t flags;
  std::uint16_t checksum;
};

class CapturedPacket : public ::testing::TestWithParam<Capture> {};

// A Linux SYN / SYN-ACK parses with both checksums verified, and building a packet from
// the parsed values reproduces the capture byte for byte (we lay options out as Linux does).
TEST_P(CapturedPacket, ParsesAndRebuildsByteForByte) {
  const auto bytes = from_hex(GetParam().hex);
  const auto p = parse_tcp_packet(bytes);
  ASSERT_TRUE(p.has_value()) << to_string(p.error());
  EXPECT_EQ(p->tcp.flags, GetParam().flags);
  EXPECT_EQ(p->tcp.checksum, GetParam().checksum);
  EXPECT_EQ(p->tcp.data_offset, 10);
  EXPECT_EQ(p->tcp.options.emitted_size(), 20u);
  EXPECT_TRUE(p->tcp.options.mss.has_value());
  EXPECT_TRUE(p->tcp.options.sack_permitted);
  EXPECT_TRUE(p->tcp.options.timestamps.has_value());
  EXPECT_EQ(p->tcp.options.window_scale, 10);
  EXPECT_TRUE(p->payload.empty());
  EXPECT_EQ(p->ip.ttl, 64);
  EXPECT_EQ(test::to_hex(build(p->ip, p->tcp, p->payload)), GetParam().hex);
}

INSTANTIATE_TEST_SUITE_P(
    LinuxLoopback, CapturedPacket,
    ::testing::Values(Capture{test::kLinuxSynV4, tcp_flag::SYN, 0x67ca},
                      Capture{test::kLinuxSynAckV4, tcp_flag::SYN | tcp_flag::ACK, 0x1a79},
                      Capture{test::kLinuxSynV6, tcp_flag::SYN, 0xefbd},
                      Capture{test::kLinuxSynAckV6, tcp_flag::SYN | tcp_flag::ACK, 0x3671}));

TEST(Packet, CapturedSynFields) {
  const auto bytes = from_hex(test::kLinuxSynV4);
  const auto p = parse_tcp_packet(bytes);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->ip.src, IpAddress::v4(127, 0, 0, 1));
  EXPECT_EQ(p->ip.id, 0x0ce3);
  EXPECT_TRUE(p->ip.dont_fragment);
  EXPECT_EQ(p->tcp.src_port, 39040);
  EXPECT_EQ(p->tcp.dst_port, 18080);
  EXPECT_EQ(p->tcp.seq, 0xeaabaf22u);
  EXPECT_EQ(p->tcp.window, 65495);
  EXPECT_EQ(p->tcp.options.mss, 65495);
  EXPECT_EQ(p->tcp.options.timestamps, (Timestamps{0xdbe8935c, 0}));
  const auto v6 = from_hex(test::kLinuxSynV6);
  const auto p6 = parse_tcp_packet(v6);
  ASSERT_TRUE(p6.has_value());
  EXPECT_EQ(p6->ip.src.to_string(), "::1");
  EXPECT_EQ(p6->ip.flow_label, 0xa8afbu);
  EXPECT_EQ(p6->tcp.options.mss, 65476);
}

// As captured, with Linux's checksum-offload placeholder in the field: not a valid packet.
TEST(Packet, OffloadPlaceholderIsBadChecksum) {
  auto bytes = from_hex(test::kLinuxSynV4);
  store16(bytes, 36, 0xfe30);
  EXPECT_EQ(error_of(bytes), ParseError::TcpBadChecksum);
}

// --- round trips -----------------------------------------------------------------------

// build -> parse -> build gives the same bytes, and parse gives back what was built, for
// both families and every option combination.
TEST(Packet, RoundTripEveryOptionCombination) {
  for (const auto& s : every_sample()) {
    SCOPED_TRACE(s.name);
    const auto bytes = build(s.ip, s.tcp, s.payload);
    const auto p = parse_tcp_packet(bytes);
    ASSERT_TRUE(p.has_value()) << to_string(p.error());
    EXPECT_EQ(p->ip.src, s.ip.src);
    EXPECT_EQ(p->ip.dst, s.ip.dst);
    EXPECT_EQ(p->ip.protocol, kProtoTcp);
    EXPECT_EQ(p->ip.ttl, s.ip.ttl);
    EXPECT_EQ(p->ip.tos, s.ip.tos);
    EXPECT_EQ(p->ip.id, s.ip.id);
    EXPECT_EQ(p->ip.dont_fragment, s.ip.dont_fragment);
    EXPECT_EQ(p->ip.flow_label, s.ip.flow_label);
    EXPECT_EQ(p->ip.header_length, s.ip.emitted_header_size());
    EXPECT_EQ(p->ip.payload_length, s.tcp.header_size() + s.payload.size());
    EXPECT_EQ(p->tcp.src_port, s.tcp.src_port);
    EXPECT_EQ(p->tcp.dst_port, s.tcp.dst_port);
    EXPECT_EQ(p->tcp.seq, s.tcp.seq);
    EXPECT_EQ(p->tcp.ack, s.tcp.ack);
    EXPECT_EQ(p->tcp.flags, s.tcp.flags);
    EXPECT_EQ(p->tcp.window, s.tcp.window);
    EXPECT_EQ(p->tcp.urgent, s.tcp.urgent);
    EXPECT_EQ(p->tcp.data_offset * 4u, s.tcp.header_size());
    EXPECT_EQ(p->tcp.options, test::expected_after_emit(s.tcp.options));
    EXPECT_TRUE(
        std::equal(p->payload.begin(), p->payload.end(), s.payload.begin(), s.payload.end()));
    const auto again = build(p->ip, p->tcp, p->payload);
    EXPECT_EQ(again, bytes);
    const auto p2 = parse_tcp_packet(again);
    ASSERT_TRUE(p2.has_value());
    EXPECT_EQ(p2->tcp.checksum, p->tcp.checksum);
  }
}

// build_tcp_headers (gather output): the headers alone, sized for the payload sent after
// them; headers + payload is the packet build_tcp_packet makes, with a checksum that verifies
// (a payload of odd length included), and with the pseudo-header sum only under offload.
TEST(Packet, HeadersBuiltForAPayloadSentApartMakeTheSamePacket) {
  for (const auto& s : every_sample()) {
    SCOPED_TRACE(s.name);
    for (const auto checksum : {TcpChecksum::Full, TcpChecksum::PseudoHeaderOnly}) {
      std::vector<std::byte> whole, headers;
      build_tcp_packet(s.ip, s.tcp, s.payload, whole, checksum);
      build_tcp_headers(s.ip, s.tcp, s.payload, headers, checksum);
      EXPECT_EQ(headers.size(), s.ip.emitted_header_size() + s.tcp.header_size());
      headers.insert(headers.end(), s.payload.begin(), s.payload.end());
      EXPECT_EQ(headers, whole);
      EXPECT_EQ(parse_tcp_packet(headers).has_value(), checksum == TcpChecksum::Full);
    }
  }
}

// build_tcp_packet forces the protocol and computes lengths; header_length and
// payload_length passed in are ignored.
TEST(Packet, BuildFillsProtocolAndLengths) {
  IpHeader ip = test::sample_v4_header();
  ip.protocol = kProtoUdp;
  ip.payload_length = 9999;
  ip.header_length = 60;
  const auto payload = test::sample_payload(5);
  const auto bytes = build(ip, test::sample_tcp_header(), payload);
  ASSERT_EQ(bytes.size(), 45u);
  const auto p = parse_tcp_packet(bytes);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->ip.protocol, kProtoTcp);
  EXPECT_EQ(p->payload.size(), 5u);
}

// The output vector is resized, whatever it held before (the stack reuses buffers).
TEST(Packet, BuildReusesLargerBuffer) {
  std::vector<std::byte> out(3000, std::byte{0x77});
  build_tcp_packet(test::sample_v6_header(), test::sample_tcp_header(), {}, out);
  EXPECT_EQ(out.size(), 60u);
  EXPECT_EQ(error_of(out), ParseError::None);
}

TEST(Packet, TrailingLinkPaddingIsNotPayload) {
  auto bytes = build(test::sample_v4_header(), test::sample_tcp_header(), test::sample_payload(2));
  bytes.resize(bytes.size() + 4, std::byte{0});
  const auto p = parse_tcp_packet(bytes);
  ASSERT_TRUE(p.has_value()) << to_string(p.error());
  EXPECT_EQ(p->payload.size(), 2u);
}

TEST(Packet, NonTcpProtocolIsNotTcp) {
  for (const bool v4 : {true, false}) {
    auto bytes =
        build(v4 ? test::sample_v4_header() : test::sample_v6_header(), test::sample_tcp_header());
    const std::size_t protocol_at = v4 ? 9 : 6;
    bytes[protocol_at] = std::byte{v4 ? kProtoUdp : kProtoIcmpv6};
    if (v4) {
      store16(bytes, 10, 0);
      store16(bytes, 10, internet_checksum(std::span(bytes).first(20)));
    }
    EXPECT_EQ(error_of(bytes), ParseError::NotTcp);
  }
}

TEST(Packet, Ipv4FragmentRejected) {
  auto bytes = build(test::sample_v4_header(), test::sample_tcp_header(), test::sample_payload(8));
  for (const std::uint16_t flags_offset : {0x2000, 0x0001, 0x2010, 0x1fff}) {
    store16(bytes, 6, flags_offset);
    store16(bytes, 10, 0);
    store16(bytes, 10, internet_checksum(std::span(bytes).first(20)));
    EXPECT_EQ(error_of(bytes), ParseError::Ipv4Fragment) << flags_offset;
  }
}

TEST(Packet, Ipv6ExtensionHeaderRejected) {
  auto bytes = build(test::sample_v6_header(), test::sample_tcp_header());
  bytes[6] = std::byte{44};  // fragment header
  EXPECT_EQ(error_of(bytes), ParseError::UnsupportedIpv6ExtensionHeader);
}

TEST(Packet, BadTcpChecksum) {
  auto bytes = build(test::sample_v4_header(), test::sample_tcp_header(), test::sample_payload(3));
  bytes[36] ^= std::byte{0x80};
  EXPECT_EQ(error_of(bytes), ParseError::TcpBadChecksum);
}

// --- every prefix ----------------------------------------------------------------------

// An IPv4 packet with a 4-byte IPv4 option, so cuts inside the IPv4 header's options show.
std::vector<std::byte> with_ipv4_options(std::vector<std::byte> bytes) {
  const auto nops = from_hex("01010100");
  bytes.insert(bytes.begin() + 20, nops.begin(), nops.end());
  bytes[0] = std::byte{0x46};
  store16(bytes, 2, static_cast<std::uint16_t>(bytes.size()));
  store16(bytes, 10, 0);
  store16(bytes, 10, internet_checksum(std::span(bytes).first(24)));
  return bytes;
}

// The error a prefix of `cut` bytes of a valid packet must give: the IP header first, then
// the IP length that the cut packet no longer holds.
ParseError expected_for_prefix(std::size_t cut, bool v4, std::size_t ip_header) {
  if (cut == 0) return ParseError::Truncated;
  if (v4) {
    if (cut < kIpv4MinHeader) return ParseError::Truncated;
    if (cut < ip_header) return ParseError::BadIpv4HeaderLength;
    return ParseError::BadIpTotalLength;
  }
  if (cut < kIpv6Header) return ParseError::Truncated;
  return ParseError::BadIpTotalLength;
}

TEST(Packet, EveryPrefixOfEveryPacketGivesExactError) {
  std::size_t checked = 0;
  for (const auto& s : every_sample()) {
    SCOPED_TRACE(s.name);
    std::vector<std::vector<std::byte>> packets = {build(s.ip, s.tcp, s.payload)};
    if (s.ip.is_v4()) packets.push_back(with_ipv4_options(packets.front()));
    for (const auto& bytes : packets) {
      const std::size_t ip_header =
          s.ip.is_v4() ? (static_cast<unsigned>(bytes[0]) & 0xf) * 4u : kIpv6Header;
      ASSERT_EQ(error_of(bytes), ParseError::None);
      for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
        ASSERT_EQ(error_of(std::span(bytes).first(cut)),
                  expected_for_prefix(cut, s.ip.is_v4(), ip_header))
            << "cut at " << cut << " of " << bytes.size();
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 10000u);
}

// A cut packet whose IP length was fixed up to match (as a buggy or hostile sender might
// produce): the TCP layer sees the truncation.
TEST(Packet, EveryTcpPrefixWithConsistentIpLengthGivesExactError) {
  for (const auto& s : every_sample()) {
    SCOPED_TRACE(s.name);
    const auto bytes = build(s.ip, s.tcp, s.payload);
    const bool v4 = s.ip.is_v4();
    const std::size_t ip_header = s.ip.emitted_header_size();
    const std::size_t tcp_header = s.tcp.header_size();
    for (std::size_t cut = ip_header; cut < bytes.size(); ++cut) {
      std::vector<std::byte> cut_packet(bytes.begin(), bytes.begin() + static_cast<long>(cut));
      if (v4) {
        store16(cut_packet, 2, static_cast<std::uint16_t>(cut));
        store16(cut_packet, 10, 0);
        store16(cut_packet, 10, internet_checksum(std::span(cut_packet).first(20)));
      } else {
        store16(cut_packet, 4, static_cast<std::uint16_t>(cut - kIpv6Header));
      }
      const std::size_t segment = cut - ip_header;
      const ParseError expected = segment < kTcpMinHeader ? ParseError::TcpTruncated
                                  : segment < tcp_header  ? ParseError::TcpDataOffsetPastEnd
                                                          : ParseError::TcpBadChecksum;
      ASSERT_EQ(error_of(cut_packet), expected) << "cut at " << cut;
    }
  }
}

// --- every bit flip --------------------------------------------------------------------

// RFC 1071: a single flipped bit changes the one's complement sum by +-2^k, which is never
// 0 mod 0xffff, so the TCP checksum catches every one. parse_tcp_packet checks the header
// first, so a flip in the data offset or an option may be reported as that header error.
TEST(Packet, EverySingleBitFlipInTcpSegmentIsDetected) {
  for (const auto& s : every_sample()) {
    SCOPED_TRACE(s.name);
    const auto bytes = build(s.ip, s.tcp, s.payload);
    const std::size_t ip_header = s.ip.emitted_header_size();
    for (std::size_t at = ip_header; at < bytes.size(); ++at) {
      for (int bit = 0; bit < 8; ++bit) {
        auto flipped = bytes;
        flipped[at] ^= static_cast<std::byte>(1 << bit);
        const auto segment = std::span<const std::byte>(flipped).subspan(ip_header);
        ASSERT_FALSE(verify_tcp_checksum(s.ip.src, s.ip.dst, segment)) << at << ":" << bit;
        const auto header = parse_tcp_header(segment);
        const ParseError expected = header ? ParseError::TcpBadChecksum : header.error();
        ASSERT_EQ(error_of(flipped), expected) << at << ":" << bit;
      }
    }
  }
}

// Flips in the IPv4 header are caught by its own checksum (or an earlier header check);
// flips in the IPv6 addresses by the TCP pseudo-header.
TEST(Packet, EverySingleBitFlipInIpHeaderIsDetected) {
  const auto v4 =
      build(test::sample_v4_header(), test::sample_tcp_header(), test::sample_payload(9));
  for (std::size_t at = 0; at < kIpv4MinHeader; ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      auto flipped = v4;
      flipped[at] ^= static_cast<std::byte>(1 << bit);
      const ParseError e = error_of(flipped);
      EXPECT_TRUE(e == ParseError::BadIpv4HeaderChecksum || e == ParseError::BadIpVersion ||
                  e == ParseError::BadIpv4HeaderLength || e == ParseError::BadIpTotalLength)
          << at << ":" << bit << " " << to_string(e);
    }
  }
  const auto v6 =
      build(test::sample_v6_header(), test::sample_tcp_header(), test::sample_payload(9));
  for (std::size_t at = 8; at < kIpv6Header; ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      auto flipped = v6;
      flipped[at] ^= static_cast<std::byte>(1 << bit);
      EXPECT_EQ(error_of(flipped), ParseError::TcpBadChecksum) << at << ":" << bit;
    }
  }
}

}  // namespace packet_test
}  // namespace synack::wire
