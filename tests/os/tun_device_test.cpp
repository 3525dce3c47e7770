// SPDX-License-Identifier: MIT
// The TUN link's pure parts: finishing a partial checksum as the kernel leaves it under
// TUN_F_CSUM (VIRTIO_NET_HDR_F_NEEDS_CSUM), the word-at-a-time sum, and prefix matching. The
// device itself needs root; tests/interop drives it against the kernel.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "os/netns.hpp"
#include "synack/tun_device.hpp"
#include "wire/checksum.hpp"
#include "wire/packet.hpp"

namespace synack::os {
using namespace synack::os;
namespace {

std::vector<std::byte> random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(rng());
  return v;
}

TEST(OnesComplementSum, MatchesTheReferenceChecksumForEveryLengthAndAlignment) {
  auto data = random_bytes(300, 1);
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t len = 0; len + offset <= data.size(); ++len) {
      auto span = std::span<const std::byte>(data).subspan(offset, len);
      std::uint16_t reference = wire::internet_checksum(span);
      std::uint16_t sum = ones_complement_sum(span);
      // internet_checksum() is the complement of the folded sum; 0 and 0xffff are the same
      // number in one's complement, so compare complemented, modulo that.
      auto ours = static_cast<std::uint16_t>(~sum);
      if (!(ours == reference || (ours == 0xffff && reference == 0) ||
            (ours == 0 && reference == 0xffff)))
        FAIL() << "offset " << offset << " length " << len;
    }
  }
}

// A TCP packet as the kernel hands it over with NEEDS_CSUM: the checksum field holds the
// folded pseudo-header sum, not complemented (what tcp_v4_send_check leaves).
std::vector<std::byte> partial_packet(const wire::IpAddress& src, const wire::IpAddress& dst,
                                      std::size_t payload, std::vector<std::byte>* complete) {
  wire::IpHeader ip;
  ip.src = src;
  ip.dst = dst;
  wire::TcpHeader tcp;
  tcp.src_port = 8000;
  tcp.dst_port = 40000;
  tcp.seq = 123456;
  tcp.ack = 654321;
  tcp.flags = 0x18;
  tcp.window = 512;
  auto data = random_bytes(payload, static_cast<unsigned>(payload));
  wire::build_tcp_packet(ip, tcp, data, *complete);
  std::vector<std::byte> partial = *complete;
  const std::size_t l4 = src.is_v4() ? 20 : 40;
  wire::ChecksumAccumulator pseudo;
  wire::add_pseudo_header(pseudo, src, dst, wire::kProtoTcp,
                          static_cast<std::uint32_t>(partial.size() - l4));
  auto folded = static_cast<std::uint16_t>(~pseudo.finish());
  partial[l4 + 16] = static_cast<std::byte>(folded >> 8);
  partial[l4 + 17] = static_cast<std::byte>(folded & 0xff);
  return partial;
}

TEST(PartialChecksum, CompletedLikeSkbChecksumHelp) {
  for (bool v6 : {false, true}) {
    auto src =
        v6 ? *wire::IpAddress::parse("fd53:796e:6163::2") : wire::IpAddress::v4(198, 18, 0, 2);
    auto dst =
        v6 ? *wire::IpAddress::parse("fd53:796e:6163::1") : wire::IpAddress::v4(198, 18, 0, 1);
    for (std::size_t payload : {0u, 1u, 2u, 1459u, 65000u}) {
      std::vector<std::byte> complete;
      auto packet = partial_packet(src, dst, payload, &complete);
      const std::size_t l4 = v6 ? 40 : 20;
      ASSERT_TRUE(complete_partial_checksum(packet, l4, 16));
      EXPECT_TRUE(wire::verify_tcp_checksum(src, dst, std::span(packet).subspan(l4)))
          << "v6 " << v6 << " payload " << payload;
    }
  }
}

// Checksum offload toward the kernel: what the stack writes with TcpChecksum::PseudoHeaderOnly
// becomes, once finished the way the kernel finishes it, exactly the fully checksummed packet.
TEST(PartialChecksum, PseudoHeaderOnlyPacketsFinishToTheFullChecksum) {
  for (bool v6 : {false, true}) {
    wire::IpHeader ip;
    ip.src = v6 ? *wire::IpAddress::parse("fd53:796e:6163::1") : wire::IpAddress::v4(198, 18, 0, 1);
    ip.dst = v6 ? *wire::IpAddress::parse("fd53:796e:6163::2") : wire::IpAddress::v4(198, 18, 0, 2);
    wire::TcpHeader tcp;
    tcp.src_port = 80;
    tcp.dst_port = 40000;
    tcp.seq = 12345;
    tcp.ack = 67890;
    tcp.flags = 0x18;
    tcp.window = 512;
    tcp.options.timestamps = wire::Timestamps{1, 2};
    std::vector<std::byte> payload(1001);
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::byte>(i * 7);
    std::vector<std::byte> full, partial;
    wire::build_tcp_packet(ip, tcp, payload, full);
    wire::build_tcp_packet(ip, tcp, payload, partial, wire::TcpChecksum::PseudoHeaderOnly);
    EXPECT_NE(full, partial);
    const std::size_t start = v6 ? 40 : 20;
    ASSERT_TRUE(complete_partial_checksum(partial, start, wire::kTcpChecksumFieldOffset));
    EXPECT_EQ(full, partial) << (v6 ? "IPv6" : "IPv4");
    EXPECT_TRUE(wire::parse_tcp_packet(partial));
  }
}

TEST(PartialChecksum, OffsetsOutsideThePacketRefused) {
  std::vector<std::byte> packet(40);
  EXPECT_FALSE(complete_partial_checksum(packet, 41, 0));
  EXPECT_FALSE(complete_partial_checksum(packet, 20, 19));
  EXPECT_FALSE(complete_partial_checksum(packet, 39, 0));
  EXPECT_TRUE(complete_partial_checksum(packet, 20, 18));
}

TEST(KernelSide, PrefixContains) {
  InterfacePrefix p{wire::IpAddress::v4(198, 18, 0, 2), 24};
  EXPECT_TRUE(prefix_contains(p, wire::IpAddress::v4(198, 18, 0, 1)));
  EXPECT_FALSE(prefix_contains(p, wire::IpAddress::v4(198, 18, 1, 1)));
  InterfacePrefix p6{*wire::IpAddress::parse("fd53:796e:6163::2"), 64};
  EXPECT_TRUE(prefix_contains(p6, *wire::IpAddress::parse("fd53:796e:6163::1")));
  EXPECT_FALSE(prefix_contains(p6, *wire::IpAddress::parse("fd53:796e:6164::1")));
  EXPECT_FALSE(prefix_contains(p6, wire::IpAddress::v4(198, 18, 0, 1)));
  EXPECT_TRUE(
      prefix_contains({wire::IpAddress::v4(10, 0, 0, 1), 0}, wire::IpAddress::v4(1, 2, 3, 4)));
  EXPECT_TRUE(prefix_contains({wire::IpAddress::v4(198, 18, 0, 2), 31},
                              wire::IpAddress::v4(198, 18, 0, 3)));
  EXPECT_FALSE(prefix_contains({wire::IpAddress::v4(198, 18, 0, 2), 32},
                               wire::IpAddress::v4(198, 18, 0, 3)));
}

}  // namespace
}  // namespace synack::os
