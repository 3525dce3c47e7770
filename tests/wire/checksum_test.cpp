// SPDX-License-Identifier: MIT
// RFC 1071 Internet checksum: known answers and accumulator properties.
#include "wire/checksum.hpp"

#include <gtest/gtest.h>

#include <random>

#include "wire/tcp_header.hpp"
#include "wire/wire_test_support.hpp"

namespace synack::wire {
namespace {

using test::from_hex;

// Folds after every word, the way RFC 1071 §4.1's reference code ends up, as an oracle.
std::uint16_t naive_checksum(std::span<const std::byte> data) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < data.size(); i += 2) {
    std::uint32_t word = static_cast<std::uint32_t>(data[i]) << 8;
    if (i + 1 < data.size()) word |= static_cast<std::uint32_t>(data[i + 1]);
    sum += word;
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

// RFC 1071 §3 "Numerical Examples": the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (with the
// carry folded in), so the checksum is its complement, 220d.
TEST(Checksum, Rfc1071NumericalExample) {
  const auto bytes = from_hex("0001 f203 f4f5 f6f7");
  EXPECT_EQ(internet_checksum(bytes), 0x220d);
}

// The same sum with the checksum appended verifies to zero (RFC 1071 §1 step (3)).
TEST(Checksum, DataWithItsChecksumSumsToZero) {
  const auto bytes = from_hex("0001 f203 f4f5 f6f7 220d");
  EXPECT_EQ(internet_checksum(bytes), 0);
}

// A well-known IPv4 header (192.168.0.1 -> 192.168.0.199, UDP): checksum b861.
TEST(Checksum, KnownIpv4HeaderChecksum) {
  auto header = from_hex("4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7");
  EXPECT_EQ(internet_checksum(header), 0xb861);
  header[10] = std::byte{0xb8};
  header[11] = std::byte{0x61};
  EXPECT_EQ(internet_checksum(header), 0);
}

TEST(Checksum, EmptyInputIsAllOnes) { EXPECT_EQ(internet_checksum({}), 0xffff); }

// RFC 1071 §4.1: an odd final byte is the high half of a word padded with zero.
TEST(Checksum, OddLengthPadsWithZero) {
  EXPECT_EQ(internet_checksum(from_hex("0001 f2")), internet_checksum(from_hex("0001 f200")));
  EXPECT_EQ(internet_checksum(from_hex("ab")), static_cast<std::uint16_t>(~0xab00 & 0xffff));
}

// End-around carry: many all-ones words sum to all ones, checksum zero.
TEST(Checksum, CarriesFoldBackIn) {
  std::vector<std::byte> ones(65536, std::byte{0xff});
  EXPECT_EQ(internet_checksum(ones), 0);
  std::vector<std::byte> carry = from_hex("ffff 0001");  // ffff + 0001 = 1_0000 -> 0001
  EXPECT_EQ(internet_checksum(carry), static_cast<std::uint16_t>(~0x0001 & 0xffff));
}

TEST(Checksum, MatchesNaiveFoldOnRandomData) {
  std::mt19937 rng(1071);
  for (std::size_t length = 0; length < 300; ++length) {
    std::vector<std::byte> data(length);
    for (auto& b : data) b = static_cast<std::byte>(rng() & 0xff);
    EXPECT_EQ(internet_checksum(data), naive_checksum(data)) << "length " << length;
  }
}

// Packet-sized inputs of mostly high bytes: many end-around carries in the 64-bit word loop.
TEST(Checksum, MatchesNaiveFoldOnLargeHighData) {
  std::mt19937 rng(65535);
  for (std::size_t length : {65483u, 65535u, 9001u}) {
    std::vector<std::byte> data(length);
    for (auto& b : data) b = static_cast<std::byte>(0xf0 | (rng() & 0x0f));
    EXPECT_EQ(internet_checksum(data), naive_checksum(data)) << "length " << length;
  }
}

// Spans fed one after another sum like their concatenation, whatever the split (odd splits
// included), so headers and payload can be summed where they lie.
TEST(Checksum, AccumulatorSplitAnywhereMatchesWhole) {
  const auto data = test::sample_payload(41);
  const std::uint16_t whole = internet_checksum(data);
  const std::span<const std::byte> all{data};
  for (std::size_t a = 0; a <= data.size(); ++a) {
    for (std::size_t b = a; b <= data.size(); ++b) {
      ChecksumAccumulator acc;
      acc.add(all.subspan(0, a));
      acc.add(all.subspan(a, b - a));
      acc.add(all.subspan(b));
      ASSERT_EQ(acc.finish(), whole) << a << "," << b;
    }
  }
}

TEST(Checksum, AddU16AndU32AreBigEndianWords) {
  ChecksumAccumulator words;
  words.add_u16(0x0001);
  words.add_u32(0xf203f4f5);
  words.add_u16(0xf6f7);
  EXPECT_EQ(words.finish(), 0x220d);
  // After an odd span, words continue byte by byte.
  ChecksumAccumulator odd;
  odd.add(from_hex("00"));
  odd.add_u16(0x01f2);
  odd.add(from_hex("03f4f5"));
  odd.add_u16(0xf6f7);
  EXPECT_EQ(odd.finish(), 0x220d);
}

// Linux leaves the folded pseudo-header sum in the TCP checksum field when it offloads the
// checksum (CHECKSUM_PARTIAL), and our captures on loopback show it: 0xfe30 for a 40-byte
// segment 127.0.0.1 -> 127.0.0.1, 0x0030 for ::1 -> ::1. Our pseudo-header sums must agree.
TEST(Checksum, PseudoHeaderSumMatchesLinuxOffloadPlaceholder) {
  ChecksumAccumulator v4;
  add_pseudo_header(v4, IpAddress::v4(127, 0, 0, 1), IpAddress::v4(127, 0, 0, 1), 6, 40);
  EXPECT_EQ(static_cast<std::uint16_t>(~v4.finish()), 0xfe30);
  ChecksumAccumulator v6;
  const auto loopback = *IpAddress::parse("::1");
  add_pseudo_header(v6, loopback, loopback, 6, 40);
  EXPECT_EQ(static_cast<std::uint16_t>(~v6.finish()), 0x0030);
}

// RFC 8200 §8.1: the IPv6 pseudo-header carries a 32-bit length; segments longer than
// 65535 (jumbograms) must sum its high half too.
TEST(Checksum, PseudoHeaderUsesThirtyTwoBitLength) {
  const auto a = *IpAddress::parse("2001:db8::1");
  const auto b = *IpAddress::parse("2001:db8::2");
  ChecksumAccumulator big;
  add_pseudo_header(big, a, b, 6, 0x00010000);
  ChecksumAccumulator manual;
  manual.add(std::as_bytes(std::span(a.bytes)));
  manual.add(std::as_bytes(std::span(b.bytes)));
  manual.add_u16(0x0001);
  manual.add_u16(0x0000);
  manual.add_u16(0x0000);
  manual.add_u16(0x0006);
  EXPECT_EQ(big.finish(), manual.finish());
}

}  // namespace
}  // namespace synack::wire
