// SPDX-License-Identifier: MIT
// IPv4 (RFC 791 §3.1) and IPv6 (RFC 8200 §3) header parsing and emission.
#include "wire/ip_header.hpp"

#include "wire/byte_order.hpp"
#include "wire/checksum.hpp"

namespace synack::wire {

namespace {

using detail::load_u16;
using detail::load_u32;
using detail::load_u8;
using detail::store_u16;
using detail::store_u32;
using detail::store_u8;

// RFC 791 §3.1 field offsets.
namespace ipv4 {
constexpr std::size_t kVersionIhl = 0;
constexpr std::size_t kTos = 1;
constexpr std::size_t kTotalLength = 2;
constexpr std::size_t kIdentification = 4;
constexpr std::size_t kFlagsFragment = 6;
constexpr std::size_t kTtl = 8;
constexpr std::size_t kProtocol = 9;
constexpr std::size_t kChecksum = 10;
constexpr std::size_t kSource = 12;
constexpr std::size_t kDestination = 16;
constexpr std::uint16_t kFlagDontFragment = 0x4000;
constexpr std::uint16_t kFlagMoreFragments = 0x2000;
constexpr std::uint16_t kFragmentOffsetMask = 0x1fff;
}  // namespace ipv4

// RFC 8200 §3 field offsets.
namespace ipv6 {
constexpr std::size_t kVersionClassFlow = 0;
constexpr std::size_t kPayloadLength = 4;
constexpr std::size_t kNextHeader = 6;
constexpr std::size_t kHopLimit = 7;
constexpr std::size_t kSource = 8;
constexpr std::size_t kDestination = 24;
constexpr std::uint32_t kFlowLabelMask = 0xfffff;
}  // namespace ipv6

IpAddress load_v4_address(std::span<const std::byte> b, std::size_t at) {
  return IpAddress::v4(load_u8(b, at), load_u8(b, at + 1), load_u8(b, at + 2), load_u8(b, at + 3));
}

IpAddress load_v6_address(std::span<const std::byte> b, std::size_t at) {
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = load_u8(b, at + i);
  return IpAddress::v6(bytes);
}

void store_address(std::span<std::byte> b, std::size_t at, const IpAddress& addr,
                   std::size_t length) {
  for (std::size_t i = 0; i < length; ++i) store_u8(b, at + i, addr.bytes[i]);
}

// RFC 8200 §4 and the IANA "IPv6 Extension Header Types" registry: hop-by-hop (0),
// routing (43), fragment (44), authentication (51), destination options (60), mobility
// (135), HIP (139), shim6 (140), experimental (253, 254). We do not walk the chain; a
// packet that carries any of them is refused rather than misread as its first header.
// ESP (50) is not on the list: what follows it is encrypted, so it is just an unknown
// protocol to us.
bool is_ipv6_extension_header(std::uint8_t next_header) {
  switch (next_header) {
    case 0:
    case 43:
    case 44:
    case 51:
    case 60:
    case 135:
    case 139:
    case 140:
    case 253:
    case 254:
      return true;
    default:
      return false;
  }
}

Expected<IpHeader, ParseError> parse_ipv4(std::span<const std::byte> packet, std::size_t trailing) {
  if (packet.size() < kIpv4MinHeader) return Unexpected{ParseError::Truncated};
  // RFC 791 §3.1: IHL counts 32-bit words and is at least 5.
  const std::size_t header_length = (load_u8(packet, ipv4::kVersionIhl) & 0x0f) * 4u;
  if (header_length < kIpv4MinHeader || header_length > packet.size()) {
    return Unexpected{ParseError::BadIpv4HeaderLength};
  }
  // RFC 791 §3.1: Total Length covers header and data. Bytes after it are link-layer
  // padding (an Ethernet frame's minimum size) and are ignored.
  const std::size_t total_length = load_u16(packet, ipv4::kTotalLength);
  if (total_length < header_length || total_length > packet.size() + trailing) {
    return Unexpected{ParseError::BadIpTotalLength};
  }
  // RFC 791 §3.1 "Header Checksum", RFC 1071: the sum over the header including the
  // checksum field is all ones, so the complement is zero.
  if (internet_checksum(packet.first(header_length)) != 0) {
    return Unexpected{ParseError::BadIpv4HeaderChecksum};
  }
  // RFC 791 §3.2 fragmentation: we do not reassemble; a fragment (more-fragments set, or a
  // nonzero offset for the last one) is refused. The reserved flag bit is ignored.
  const std::uint16_t flags_fragment = load_u16(packet, ipv4::kFlagsFragment);
  if ((flags_fragment & ipv4::kFlagMoreFragments) != 0 ||
      (flags_fragment & ipv4::kFragmentOffsetMask) != 0) {
    return Unexpected{ParseError::Ipv4Fragment};
  }
  IpHeader h;
  h.src = load_v4_address(packet, ipv4::kSource);
  h.dst = load_v4_address(packet, ipv4::kDestination);
  h.protocol = load_u8(packet, ipv4::kProtocol);
  h.ttl = load_u8(packet, ipv4::kTtl);
  h.tos = load_u8(packet, ipv4::kTos);
  h.id = load_u16(packet, ipv4::kIdentification);
  h.dont_fragment = (flags_fragment & ipv4::kFlagDontFragment) != 0;
  h.flow_label = 0;
  // RFC 791 §3.1 options (IHL > 5) are skipped, not interpreted.
  h.header_length = header_length;
  h.payload_length = total_length - header_length;
  return h;
}

Expected<IpHeader, ParseError> parse_ipv6(std::span<const std::byte> packet, std::size_t trailing) {
  if (packet.size() < kIpv6Header) return Unexpected{ParseError::Truncated};
  // RFC 8200 §3: Payload Length is the rest of the packet after this header. Bytes past
  // it are link padding. (A zero length with a Jumbo Payload option needs a hop-by-hop
  // header, which is refused below.)
  const std::size_t payload_length = load_u16(packet, ipv6::kPayloadLength);
  if (kIpv6Header + payload_length > packet.size() + trailing) {
    return Unexpected{ParseError::BadIpTotalLength};
  }
  const std::uint8_t next_header = load_u8(packet, ipv6::kNextHeader);
  if (is_ipv6_extension_header(next_header)) {
    return Unexpected{ParseError::UnsupportedIpv6ExtensionHeader};
  }
  const std::uint32_t first_word = load_u32(packet, ipv6::kVersionClassFlow);
  IpHeader h;
  h.src = load_v6_address(packet, ipv6::kSource);
  h.dst = load_v6_address(packet, ipv6::kDestination);
  h.protocol = next_header;
  h.ttl = load_u8(packet, ipv6::kHopLimit);
  h.tos = static_cast<std::uint8_t>((first_word >> 20) & 0xff);
  h.id = 0;
  h.dont_fragment = true;  // RFC 8200 §5: routers never fragment IPv6
  h.flow_label = first_word & ipv6::kFlowLabelMask;
  h.header_length = kIpv6Header;
  h.payload_length = payload_length;
  return h;
}

}  // namespace

Expected<IpHeader, ParseError> parse_ip_header(std::span<const std::byte> packet,
                                               std::size_t trailing) {
  if (packet.empty()) return Unexpected{ParseError::Truncated};
  // RFC 791 §3.1 / RFC 8200 §3: the version is the first nibble in both families.
  switch (load_u8(packet, 0) >> 4) {
    case 4:
      return parse_ipv4(packet, trailing);
    case 6:
      return parse_ipv6(packet, trailing);
    default:
      return Unexpected{ParseError::BadIpVersion};
  }
}

std::size_t emit_ip_header(const IpHeader& header, std::span<std::byte> out) {
  if (header.is_v4()) {
    // RFC 791 §3.1, no options: version 4, IHL 5. Total Length is 16 bits; the caller
    // keeps payload_length <= 65515.
    store_u8(out, ipv4::kVersionIhl, 0x45);
    store_u8(out, ipv4::kTos, header.tos);
    store_u16(out, ipv4::kTotalLength,
              static_cast<std::uint16_t>(kIpv4MinHeader + header.payload_length));
    store_u16(out, ipv4::kIdentification, header.id);
    store_u16(out, ipv4::kFlagsFragment, header.dont_fragment ? ipv4::kFlagDontFragment : 0);
    store_u8(out, ipv4::kTtl, header.ttl);
    store_u8(out, ipv4::kProtocol, header.protocol);
    store_u16(out, ipv4::kChecksum, 0);
    store_address(out, ipv4::kSource, header.src, 4);
    store_address(out, ipv4::kDestination, header.dst, 4);
    // RFC 791 §3.1: checksum computed with the checksum field zero.
    store_u16(out, ipv4::kChecksum,
              internet_checksum(std::span<const std::byte>(out.first(kIpv4MinHeader))));
    return kIpv4MinHeader;
  }
  // RFC 8200 §3: version 6, traffic class, 20-bit flow label.
  store_u32(out, ipv6::kVersionClassFlow,
            (6u << 28) | (static_cast<std::uint32_t>(header.tos) << 20) |
                (header.flow_label & ipv6::kFlowLabelMask));
  store_u16(out, ipv6::kPayloadLength, static_cast<std::uint16_t>(header.payload_length));
  store_u8(out, ipv6::kNextHeader, header.protocol);
  store_u8(out, ipv6::kHopLimit, header.ttl);
  store_address(out, ipv6::kSource, header.src, 16);
  store_address(out, ipv6::kDestination, header.dst, 16);
  return kIpv6Header;
}

}  // namespace synack::wire
