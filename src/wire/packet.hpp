// SPDX-License-Identifier: MIT
// A whole IP+TCP packet: parse (with every check) and build (with checksums).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "synack/expected.hpp"
#include "wire/ip_header.hpp"
#include "wire/parse_error.hpp"
#include "wire/tcp_header.hpp"

namespace synack::wire {

struct TcpPacket {
  IpHeader ip;
  TcpHeader tcp;
  std::span<const std::byte> payload;  // points into the parsed buffer
};

// Parses IP then TCP, verifies the IPv4 header checksum and the TCP checksum.
// Errors: any ParseError; NotTcp when the IP payload is another protocol. Order: IP header
// errors, NotTcp, TCP header and option errors (on the IP payload, link padding excluded),
// then TcpBadChecksum.
Expected<TcpPacket, ParseError> parse_tcp_packet(std::span<const std::byte> packet);

// Builds IP header + TCP header + payload into `out` (resized), filling in lengths and both
// checksums. ip.protocol is forced to TCP and ip.payload_length computed. The caller keeps
// the TCP header and payload within 65535 bytes (65515 for IPv4): the length fields are 16
// bits. Options are laid out as emit_tcp_options() says (SACK blocks that do not fit are
// left off).
//
// PseudoHeaderOnly leaves the TCP checksum field holding the folded pseudo-header sum, not
// complemented — a "partial" checksum for a link that finishes it (checksum offload: the
// Linux kernel accepts such packets from a TUN with VIRTIO_NET_HDR_F_NEEDS_CSUM).
enum class TcpChecksum : std::uint8_t { Full, PseudoHeaderOnly };
void build_tcp_packet(IpHeader ip, const TcpHeader& tcp, std::span<const std::byte> payload,
                      std::vector<std::byte>& out, TcpChecksum checksum = TcpChecksum::Full);
// The same without the payload: `out` holds the IP and TCP headers only, their lengths and
// checksums computed for `payload`, which the caller sends right after them (gather I/O:
// the payload is never copied).
void build_tcp_headers(IpHeader ip, const TcpHeader& tcp, std::span<const std::byte> payload,
                       std::vector<std::byte>& out, TcpChecksum checksum = TcpChecksum::Full);
inline constexpr std::size_t kTcpChecksumFieldOffset = 16;  // RFC 9293 §3.1

}  // namespace synack::wire
