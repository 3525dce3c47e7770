// SPDX-License-Identifier: MIT
// Helpers shared by the wire tests: hex <-> bytes, sample headers, every option combination.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wire/ip_header.hpp"
#include "wire/packet.hpp"
#include "wire/tcp_header.hpp"

namespace synack::wire::test {

// "45 00 00 3c ..." -> bytes. Whitespace is ignored; anything else that is not hex is a
// bug in the test, so it yields an empty vector (and the test's size checks fail loudly).
inline std::vector<std::byte> from_hex(std::string_view hex) {
  std::vector<std::byte> out;
  int high = -1;
  for (char c : hex) {
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (c == ' ' || c == '\n' || c == '\t') continue;
    if (v < 0) return {};
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::byte>((high << 4) | v));
      high = -1;
    }
  }
  if (high >= 0) return {};
  return out;
}

inline std::string to_hex(std::span<const std::byte> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::byte b : bytes) {
    out.push_back(kHex[static_cast<unsigned>(b) >> 4]);
    out.push_back(kHex[static_cast<unsigned>(b) & 0xf]);
  }
  return out;
}

inline std::uint16_t load16(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned>(b[at]) << 8) |
                                    static_cast<unsigned>(b[at + 1]));
}

inline void store16(std::span<std::byte> b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::byte>(v >> 8);
  b[at + 1] = static_cast<std::byte>(v & 0xff);
}

inline IpHeader sample_v4_header() {
  IpHeader ip;
  ip.src = IpAddress::v4(192, 0, 2, 1);
  ip.dst = IpAddress::v4(198, 51, 100, 7);
  ip.ttl = 61;
  ip.tos = 0x02;  // ECT(0)
  ip.id = 0xbeef;
  ip.dont_fragment = true;
  return ip;
}

inline IpHeader sample_v6_header() {
  IpHeader ip;
  ip.src = *IpAddress::parse("2001:db8::1");
  ip.dst = *IpAddress::parse("2001:db8:ffff::abcd:2");
  ip.ttl = 57;
  ip.tos = 0xb8;
  ip.flow_label = 0xa8afb;
  ip.id = 0;
  ip.dont_fragment = true;
  return ip;
}

inline TcpHeader sample_tcp_header(std::uint8_t flags = tcp_flag::ACK | tcp_flag::PSH) {
  TcpHeader tcp;
  tcp.src_port = 49152;
  tcp.dst_port = 443;
  tcp.seq = 0xdeadbeef;
  tcp.ack = 0x01020304;
  tcp.flags = flags;
  tcp.window = 64240;
  tcp.urgent = 0;
  return tcp;
}

// Every combination of the options we understand: MSS, window scale, SACK-permitted and
// timestamps each present or absent, with 0 to 4 SACK blocks (80 in all).
inline std::vector<TcpOptions> every_option_combination() {
  std::vector<TcpOptions> all;
  for (int mask = 0; mask < 16; ++mask) {
    for (std::uint8_t blocks = 0; blocks <= kMaxSackBlocks; ++blocks) {
      TcpOptions o;
      if (mask & 1) o.mss = 1460;
      if (mask & 2) o.window_scale = 7;
      if (mask & 4) o.sack_permitted = true;
      if (mask & 8) o.timestamps = Timestamps{0x11223344, 0x55667788};
      o.sack_count = blocks;
      for (std::uint8_t i = 0; i < blocks; ++i) {
        o.sack[i] = SackBlock{0x10000000u + i * 0x1000u, 0x10000800u + i * 0x1000u};
      }
      all.push_back(o);
    }
  }
  return all;
}

// What parsing the emitted options gives back: the same, minus SACK blocks left off for
// lack of room.
inline TcpOptions expected_after_emit(TcpOptions o) {
  const std::size_t kept = o.emitted_sack_blocks();
  for (std::size_t i = kept; i < kMaxSackBlocks; ++i) o.sack[i] = SackBlock{};
  o.sack_count = static_cast<std::uint8_t>(kept);
  return o;
}

inline std::vector<std::byte> build(const IpHeader& ip, const TcpHeader& tcp,
                                    std::span<const std::byte> payload = {}) {
  std::vector<std::byte> out;
  build_tcp_packet(ip, tcp, payload, out);
  return out;
}

inline std::vector<std::byte> sample_payload(std::size_t n) {
  std::vector<std::byte> p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::byte>((i * 37 + 11) & 0xff);
  return p;
}

// Real packets captured with tshark on Linux 6.x loopback (curl to a local HTTP server).
// Loopback uses checksum offload, so the capture held the pseudo-header sum (0xfe30 /
// 0x0030) in the TCP checksum field; it is replaced here by the value Wireshark's checksum
// validator computed ("should be 0x67ca"), which an independent Python RFC 1071 sum agrees
// with. The IPv4 header checksums are as the kernel wrote them.
inline constexpr std::string_view kLinuxSynV4 =
    "4500003c0ce3400040062fd77f0000017f000001"
    "988046a0eaabaf2200000000a002ffd767ca0000"
    "0204ffd70402080adbe8935c000000000103030a";
inline constexpr std::string_view kLinuxSynAckV4 =
    "4500003c0000400040063cba7f0000017f000001"
    "46a098802251a2d8eaabaf23a012ffcb1a790000"
    "0204ffd70402080aa511e310dbe8935c0103030a";
inline constexpr std::string_view kLinuxSynV6 =
    "600a8afb00280640"
    "00000000000000000000000000000001"
    "00000000000000000000000000000001"
    "b73246a1d0dd784700000000a002ffc4efbd0000"
    "0204ffc40402080a5380c3ee000000000103030a";
inline constexpr std::string_view kLinuxSynAckV6 =
    "600c40d600280640"
    "00000000000000000000000000000001"
    "00000000000000000000000000000001"
    "46a1b732824724bed0dd7848a012ffb836710000"
    "0204ffc40402080a8c9d85a45380c3ee0103030a";

}  // namespace synack::wire::test
