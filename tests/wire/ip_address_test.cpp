// SPDX-License-Identifier: MIT
// IpAddress text forms (dotted quad, RFC 4291 §2.2 input, RFC 5952 output) and Endpoint.
#include "wire/ip_address.hpp"

#include <gtest/gtest.h>

#include <set>

namespace synack::wire {
namespace {

std::string round_trip(std::string_view text) {
  const auto addr = IpAddress::parse(text);
  if (!addr) return "<invalid>";
  return addr->to_string();
}

TEST(IpAddress, ParsesDottedQuad) {
  const auto a = IpAddress::parse("192.0.2.33");
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->is_v4());
  EXPECT_EQ(a->bytes[0], 192);
  EXPECT_EQ(a->bytes[3], 33);
  EXPECT_EQ(a->v4_u32(), 0xc0000221u);
  EXPECT_EQ(a->to_string(), "192.0.2.33");
  EXPECT_EQ(round_trip("0.0.0.0"), "0.0.0.0");
  EXPECT_EQ(round_trip("255.255.255.255"), "255.255.255.255");
}

TEST(IpAddress, RejectsMalformedDottedQuad) {
  for (const char* bad :
       {"", "1", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.1000", "01.2.3.4", "1..2.3", ".1.2.3",
        "1.2.3.", " 1.2.3.4", "1.2.3.4 ", "a.b.c.d", "1.2.3.-4", "1.2.3.4/24", "0x1.2.3.4"}) {
    EXPECT_FALSE(IpAddress::parse(bad).has_value()) << bad;
  }
}

TEST(IpAddress, V4FromU32RoundTrips) {
  const auto a = IpAddress::v4_from_u32(0x0a000001);
  EXPECT_EQ(a, IpAddress::v4(10, 0, 0, 1));
  EXPECT_EQ(a.v4_u32(), 0x0a000001u);
  // IPv4 leaves bytes 4..15 zero so comparison and hashing see only the address.
  for (std::size_t i = 4; i < 16; ++i) EXPECT_EQ(a.bytes[i], 0);
}

TEST(IpAddress, ParsesIpv6Forms) {
  const auto a = IpAddress::parse("2001:db8::1");
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->is_v4());
  EXPECT_EQ(a->bytes[0], 0x20);
  EXPECT_EQ(a->bytes[1], 0x01);
  EXPECT_EQ(a->bytes[2], 0x0d);
  EXPECT_EQ(a->bytes[3], 0xb8);
  EXPECT_EQ(a->bytes[15], 0x01);
  EXPECT_EQ(round_trip("::"), "::");
  EXPECT_EQ(round_trip("::1"), "::1");
  EXPECT_EQ(round_trip("fe80::"), "fe80::");
  EXPECT_EQ(round_trip("1:2:3:4:5:6:7:8"), "1:2:3:4:5:6:7:8");
  EXPECT_EQ(round_trip("1:2:3:4:5:6:7::"), "1:2:3:4:5:6:7:0");  // "::" for one group
  EXPECT_EQ(round_trip("::2:3:4:5:6:7:8"), "0:2:3:4:5:6:7:8");
}

// RFC 5952 §4: the canonical text form.
TEST(IpAddress, Rfc5952LeadingZerosDropped) {  // §4.1
  EXPECT_EQ(round_trip("2001:0db8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
  EXPECT_EQ(round_trip("2001:db8:00aa::0001"), "2001:db8:aa::1");
}

TEST(IpAddress, Rfc5952LongestZeroRunCompressed) {  // §4.2.1, §4.2.3
  EXPECT_EQ(round_trip("2001:db8:0:0:0:0:2:1"), "2001:db8::2:1");
  EXPECT_EQ(round_trip("2001:0:0:1:0:0:0:1"), "2001:0:0:1::1");
}

TEST(IpAddress, Rfc5952SingleZeroGroupNotCompressed) {  // §4.2.2
  EXPECT_EQ(round_trip("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
  EXPECT_EQ(round_trip("2001:db8::1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
}

TEST(IpAddress, Rfc5952FirstOfEqualRunsCompressed) {  // §4.2.3
  EXPECT_EQ(round_trip("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
}

TEST(IpAddress, Rfc5952Lowercase) {  // §4.3
  EXPECT_EQ(round_trip("2001:DB8:0:0:8:800:200C:417A"), "2001:db8::8:800:200c:417a");
}

TEST(IpAddress, Rfc5952Ipv4MappedUsesDottedQuad) {  // §5
  EXPECT_EQ(round_trip("::ffff:192.0.2.1"), "::ffff:192.0.2.1");
  EXPECT_EQ(round_trip("::ffff:c000:0201"), "::ffff:192.0.2.1");
  // Other embeddings (deprecated IPv4-compatible, RFC 4291 §2.5.5.1) print as hex.
  EXPECT_EQ(round_trip("::192.0.2.1"), "::c000:201");
  EXPECT_EQ(round_trip("64:ff9b::192.0.2.33"), "64:ff9b::c000:221");
}

TEST(IpAddress, RejectsMalformedIpv6) {
  for (const char* bad : {":",
                          ":::",
                          "1::2::3",
                          "12345::",
                          "1:2:3:4:5:6:7:8:9",
                          "1:2:3:4:5:6:7",
                          ":1::",
                          "1:",
                          ":1",
                          "1:2:3:4:5:6:7:8::",
                          "::1:2:3:4:5:6:7:8",
                          "g::",
                          "fe80::1%eth0",
                          "::ffff:1.2.3",
                          "1.2.3.4::",
                          "::1.2.3.4:5",
                          "::ffff:256.0.0.1",
                          "1:2:3:4:5:6:7:1.2.3.4",
                          "[::1]",
                          " ::1",
                          "::1 ",
                          "1:::2",
                          "::-1"}) {
    EXPECT_FALSE(IpAddress::parse(bad).has_value()) << bad;
  }
  // Six groups plus a dotted quad fill all eight.
  EXPECT_EQ(round_trip("1:2:3:4:5:6:1.2.3.4"), "1:2:3:4:5:6:102:304");
}

TEST(IpAddress, EveryGroupPositionRoundTrips) {
  // Each single nonzero group in each position, and each run of zeros, prints and reparses.
  for (int mask = 0; mask < 256; ++mask) {
    std::array<std::uint8_t, 16> bytes{};
    for (int g = 0; g < 8; ++g) {
      if (mask & (1 << g)) bytes[2 * g + 1] = static_cast<std::uint8_t>(g + 1);
    }
    const auto addr = IpAddress::v6(bytes);
    const auto text = addr.to_string();
    const auto back = IpAddress::parse(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(*back, addr) << text;
  }
}

TEST(IpAddress, OrderingAndHashing) {
  const auto v4 = IpAddress::v4(1, 2, 3, 4);
  const auto v6 = *IpAddress::parse("::102:304");
  EXPECT_NE(v4, v6);  // same low bytes, different family
  EXPECT_LT(v4, v6);
  EXPECT_EQ(v4.hash(), IpAddress::v4(1, 2, 3, 4).hash());
  std::set<std::size_t> hashes;
  for (int i = 0; i < 256; ++i)
    hashes.insert(IpAddress::v4(10, 0, 0, static_cast<std::uint8_t>(i)).hash());
  EXPECT_EQ(hashes.size(), 256u);
}

TEST(Endpoint, ToString) {
  EXPECT_EQ((Endpoint{IpAddress::v4(1, 2, 3, 4), 80}.to_string()), "1.2.3.4:80");
  EXPECT_EQ((Endpoint{*IpAddress::parse("::1"), 8080}.to_string()), "[::1]:8080");
  EXPECT_EQ((Endpoint{IpAddress::v4(0, 0, 0, 0), 65535}.to_string()), "0.0.0.0:65535");
}

}  // namespace
}  // namespace synack::wire
