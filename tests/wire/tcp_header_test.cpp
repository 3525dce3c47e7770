// SPDX-License-Identifier: MIT
// The TCP header of RFC 9293 §3.1: fields, data offset, flags, checksum.
#include "wire/tcp_header.hpp"

#include <gtest/gtest.h>

#include "wire/wire_test_support.hpp"

namespace synack::wire {
namespace tcp_header_test {

using test::from_hex;

std::vector<std::byte> emit(const TcpHeader& h, std::size_t payload = 0) {
  std::vector<std::byte> out(h.header_size() + payload, std::byte{0xab});
  EXPECT_EQ(emit_tcp_header(h, out), h.header_size());
  return out;
}

ParseError error_of(std::span<const std::byte> segment) {
  const auto r = parse_tcp_header(segment);
  return r ? ParseError::None : r.error();
}

TEST(TcpHeader, EmitsExactBytes) {
  TcpHeader h;
  h.src_port = 0x9880;
  h.dst_port = 0x46a0;
  h.seq = 0xeaabaf22;
  h.ack = 0;
  h.flags = tcp_flag::SYN;
  h.window = 0xffd7;
  h.checksum = 0x67ca;
  h.urgent = 0;
  h.options.mss = 0xffd7;
  h.options.sack_permitted = true;
  h.options.timestamps = Timestamps{0xdbe8935c, 0};
  h.options.window_scale = 10;
  EXPECT_EQ(h.header_size(), 40u);
  EXPECT_EQ(test::to_hex(emit(h)),
            "988046a0eaabaf2200000000a002ffd767ca0000"
            "0204ffd70402080adbe8935c000000000103030a");
}

TEST(TcpHeader, ParsesEveryField) {
  const auto bytes = from_hex(
      "c000 01bb 01020304 a1b2c3d4 50 ff 1234 abcd 0007"
      "6869");  // two payload bytes
  std::size_t header_length = 0;
  const auto h = parse_tcp_header(bytes, &header_length);
  ASSERT_TRUE(h.has_value()) << to_string(h.error());
  EXPECT_EQ(h->src_port, 49152);
  EXPECT_EQ(h->dst_port, 443);
  EXPECT_EQ(h->seq, 0x01020304u);
  EXPECT_EQ(h->ack, 0xa1b2c3d4u);
  EXPECT_EQ(h->data_offset, 5);
  EXPECT_EQ(h->flags, 0xff);
  EXPECT_EQ(h->window, 0x1234);
  EXPECT_EQ(h->checksum, 0xabcd);
  EXPECT_EQ(h->urgent, 7);
  EXPECT_EQ(h->options, TcpOptions{});
  EXPECT_EQ(header_length, 20u);
}

// RFC 9293 §3.1: the reserved bits between data offset and flags are ignored on receipt
// and sent as zero.
TEST(TcpHeader, ReservedBitsIgnoredAndEmittedZero) {
  auto bytes = emit(test::sample_tcp_header());
  bytes[12] |= std::byte{0x0f};
  const auto h = parse_tcp_header(bytes);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->flags, tcp_flag::ACK | tcp_flag::PSH);
  EXPECT_EQ(emit(*h)[12], std::byte{0x50});
}

TEST(TcpHeader, DataOffsetRecomputedOnEmit) {
  TcpHeader h = test::sample_tcp_header();
  h.data_offset = 15;  // stale value: emit uses the options
  h.options.mss = 1400;
  const auto bytes = emit(h);
  EXPECT_EQ(bytes[12], std::byte{0x60});
  EXPECT_EQ(parse_tcp_header(bytes)->data_offset, 6);
}

TEST(TcpHeader, ShorterThanTwentyBytesIsTcpTruncated) {
  const auto bytes = emit(test::sample_tcp_header());
  for (std::size_t n = 0; n < 20; ++n) {
    EXPECT_EQ(error_of(std::span(bytes).first(n)), ParseError::TcpTruncated) << n;
  }
}

TEST(TcpHeader, DataOffsetBelowFiveIsTooSmall) {
  auto bytes = emit(test::sample_tcp_header(), 40);
  for (unsigned offset = 0; offset < 5; ++offset) {
    bytes[12] = static_cast<std::byte>(offset << 4);
    EXPECT_EQ(error_of(bytes), ParseError::TcpDataOffsetTooSmall) << offset;
  }
}

TEST(TcpHeader, DataOffsetPastEndOfSegment) {
  auto bytes = emit(test::sample_tcp_header(), 3);  // 23 bytes
  bytes[12] = std::byte{0x60};                      // claims 24
  EXPECT_EQ(error_of(bytes), ParseError::TcpDataOffsetPastEnd);
  bytes.resize(59, std::byte{1});
  bytes[12] = std::byte{0xf0};  // claims 60
  EXPECT_EQ(error_of(bytes), ParseError::TcpDataOffsetPastEnd);
}

TEST(TcpHeader, OptionErrorsPropagate) {
  auto bytes = emit(test::sample_tcp_header(), 4);
  bytes[12] = std::byte{0x60};
  const auto cases = {std::pair{"0200 0000", ParseError::TcpOptionLengthTooSmall},
                      std::pair{"0205 0000", ParseError::TcpOptionPastHeader},
                      std::pair{"0203 0000", ParseError::TcpOptionBadLength},
                      std::pair{"0101 0100", ParseError::None}};
  for (const auto& [hex, error] : cases) {
    const auto options = from_hex(hex);
    std::copy(options.begin(), options.end(), bytes.begin() + 20);
    EXPECT_EQ(error_of(bytes), error) << hex;
  }
}

// Options end at the data offset: bytes after it are payload, however they look.
TEST(TcpHeader, OptionsStopAtDataOffset) {
  TcpHeader h = test::sample_tcp_header();
  h.options.mss = 1200;
  auto bytes = emit(h, 4);
  bytes[24] = std::byte{0x02};  // looks like a truncated MSS, but is payload
  std::size_t header_length = 0;
  const auto parsed = parse_tcp_header(bytes, &header_length);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(header_length, 24u);
  EXPECT_EQ(parsed->options.mss, 1200);
}

// Cutting a segment with options and payload at every length.
TEST(TcpHeader, EveryPrefixGivesExactError) {
  TcpHeader h = test::sample_tcp_header();
  h.options.timestamps = Timestamps{5, 6};
  h.options.sack_count = 1;
  h.options.sack[0] = SackBlock{100, 200};
  const auto bytes = emit(h, 10);
  const std::size_t header = h.header_size();
  ASSERT_EQ(header, 44u);
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    const ParseError expected = cut < kTcpMinHeader ? ParseError::TcpTruncated
                                : cut < header      ? ParseError::TcpDataOffsetPastEnd
                                                    : ParseError::None;
    std::size_t header_length = 0;
    const auto r = parse_tcp_header(std::span(bytes).first(cut), &header_length);
    EXPECT_EQ(r ? ParseError::None : r.error(), expected) << cut;
    if (r) {
      EXPECT_EQ(header_length, header);
      EXPECT_EQ(r->options, h.options);
    }
  }
}

TEST(TcpHeader, HasFlag) {
  TcpHeader h;
  h.flags = tcp_flag::SYN | tcp_flag::ACK;
  EXPECT_TRUE(h.has(tcp_flag::SYN));
  EXPECT_TRUE(h.has(tcp_flag::ACK));
  EXPECT_FALSE(h.has(tcp_flag::FIN));
}

TEST(TcpFlags, HandshakeOrder) {
  using namespace tcp_flag;
  EXPECT_EQ(flags_to_string(0), "");
  EXPECT_EQ(flags_to_string(SYN), "SYN");
  EXPECT_EQ(flags_to_string(SYN | ACK), "SYN,ACK");
  EXPECT_EQ(flags_to_string(FIN | ACK), "FIN,ACK");
  EXPECT_EQ(flags_to_string(RST | ACK), "RST,ACK");
  EXPECT_EQ(flags_to_string(PSH | ACK), "PSH,ACK");
  EXPECT_EQ(flags_to_string(SYN | ECE | CWR), "SYN,ECE,CWR");
  EXPECT_EQ(flags_to_string(0xff), "SYN,FIN,RST,PSH,ACK,URG,ECE,CWR");
}

// RFC 9293 §3.1: checksum over pseudo-header and segment, verified to zero.
TEST(TcpChecksum, KnownAnswerFromCapturedSyn) {
  const auto packet = from_hex(test::kLinuxSynV4);
  auto segment = std::vector<std::byte>(packet.begin() + 20, packet.end());
  const auto src = IpAddress::v4(127, 0, 0, 1);
  EXPECT_TRUE(verify_tcp_checksum(src, src, segment));
  segment[16] = std::byte{0};
  segment[17] = std::byte{0};
  EXPECT_EQ(tcp_checksum(src, src, segment), 0x67ca);
  EXPECT_FALSE(verify_tcp_checksum(src, src, segment));
}

// The pseudo-header binds the segment to its addresses.
TEST(TcpChecksum, AddressesAreCovered) {
  const auto packet = from_hex(test::kLinuxSynV4);
  const auto segment = std::span(packet).subspan(20);
  const auto lo = IpAddress::v4(127, 0, 0, 1);
  EXPECT_TRUE(verify_tcp_checksum(lo, lo, segment));
  EXPECT_FALSE(verify_tcp_checksum(IpAddress::v4(127, 0, 0, 2), lo, segment));
  EXPECT_FALSE(verify_tcp_checksum(lo, IpAddress::v4(127, 0, 1, 1), segment));
}

}  // namespace tcp_header_test
}  // namespace synack::wire
