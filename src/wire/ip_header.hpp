// SPDX-License-Identifier: MIT
// IPv4 (RFC 791) and IPv6 (RFC 8200) headers: parse from bytes, emit to bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "synack/expected.hpp"
#include "wire/ip_address.hpp"
#include "wire/parse_error.hpp"

namespace synack::wire {

inline constexpr std::uint8_t kProtoIcmp = 1;
inline constexpr std::uint8_t kProtoTcp = 6;
inline constexpr std::uint8_t kProtoUdp = 17;
inline constexpr std::uint8_t kProtoIcmpv6 = 58;
inline constexpr std::size_t kIpv4MinHeader = 20;
inline constexpr std::size_t kIpv6Header = 40;

// The IP layer's view of a packet, for either family.
struct IpHeader {
  IpAddress src;
  IpAddress dst;
  std::uint8_t protocol = kProtoTcp;  // IPv4 protocol / IPv6 next header
  std::uint8_t ttl = 64;              // IPv4 TTL / IPv6 hop limit
  std::uint8_t tos = 0;               // IPv4 TOS / IPv6 traffic class
  std::uint16_t id = 0;               // IPv4 identification
  bool dont_fragment = true;          // IPv4 DF
  std::uint32_t flow_label = 0;       // IPv6
  std::size_t header_length = 0;      // bytes of IP header (parse output; emit computes it)
  std::size_t payload_length = 0;     // bytes after the IP header

  bool is_v4() const { return src.is_v4(); }
  std::size_t emitted_header_size() const { return is_v4() ? kIpv4MinHeader : kIpv6Header; }
};

// Parses an IPv4 or IPv6 header, deciding by the version nibble. Errors: Truncated,
// BadIpVersion, BadIpv4HeaderLength, BadIpTotalLength, BadIpv4HeaderChecksum, Ipv4Fragment,
// UnsupportedIpv6ExtensionHeader. Bytes past the total length (link padding) are ignored.
// IPv4 options are skipped. Does not reject non-TCP protocols; the caller looks at `protocol`.
// Checks run in this order, and the first failure is returned: empty buffer (Truncated),
// version; IPv4: 20 bytes present (Truncated), 5 <= IHL and IHL*4 <= buffer
// (BadIpv4HeaderLength), IHL*4 <= total length <= buffer (BadIpTotalLength), header
// checksum, fragment; IPv6: 40 bytes present (Truncated), 40 + payload length <= buffer
// (BadIpTotalLength), next header not an extension header. So a valid packet cut short
// gives Truncated inside the fixed header and BadIpTotalLength after it.
// `trailing`: bytes of the same packet that follow `packet` elsewhere (gather input,
// Stack::receive_packet with headers and payload apart). They count toward the total length
// but are never read; the IP header itself must lie in `packet`.
Expected<IpHeader, ParseError> parse_ip_header(std::span<const std::byte> packet,
                                               std::size_t trailing = 0);

// Writes the header (no options, IPv4 header checksum filled in) into `out`, which must hold
// emitted_header_size() bytes; `payload_length` is taken from the header. Returns bytes written.
std::size_t emit_ip_header(const IpHeader& header, std::span<std::byte> out);

}  // namespace synack::wire
