// SPDX-License-Identifier: MIT
// UDP datagrams (RFC 768): parse with the length and checksum checks, build with the
// checksum over the pseudo-header (RFC 768 for IPv4, RFC 8200 §8.1 for IPv6).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "wire/ip_header.hpp"

namespace synack::wire {

inline constexpr std::size_t kUdpHeaderSize = 8;

struct UdpDatagram {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::span<const std::byte> payload;  // points into the parsed buffer
};

enum class UdpError : std::uint8_t { Truncated, BadLength, BadChecksum, ZeroPort };

// `segment` is the IP payload of a packet whose header is `ip`. Errors: Truncated (under 8
// bytes), BadLength (the UDP length field below 8 or past the IP payload), BadChecksum (a
// wrong checksum; a zero checksum is "none" in IPv4 but an error in IPv6, RFC 8200 §8.1),
// ZeroPort (destination port 0 is reserved).
struct UdpParse {
  std::optional<UdpDatagram> datagram;
  UdpError error = UdpError::Truncated;
};
// verify_checksum false: the link vouched for it (the field may hold a partial sum).
UdpParse parse_udp(const IpHeader& ip, std::span<const std::byte> segment,
                   bool verify_checksum = true);

// IP header + UDP header + payload into `out` (resized), with lengths and both checksums.
// The caller keeps payload within 65507 bytes (IPv4) / 65527 (IPv6).
void build_udp_packet(IpHeader ip, std::uint16_t src_port, std::uint16_t dst_port,
                      std::span<const std::byte> payload, std::vector<std::byte>& out);

}  // namespace synack::wire
