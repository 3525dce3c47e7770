// SPDX-License-Identifier: MIT
#include "relay/steering.hpp"

namespace synack::relay {
namespace {

constexpr unsigned kProtoUdp = 17;

unsigned byte_at(std::span<const std::byte> p, std::size_t i) {
  return static_cast<unsigned>(p[i]);
}

}  // namespace

void ForwardPorts::add(ForwardProtocol protocol, std::uint16_t port) {
  bits(protocol)[port / 64].fetch_or(std::uint64_t{1} << (port % 64), std::memory_order_relaxed);
}

bool ForwardPorts::contains(ForwardProtocol protocol, std::uint16_t port) const {
  return (bits(protocol)[port / 64].load(std::memory_order_relaxed) >> (port % 64)) & 1;
}

std::optional<std::uint16_t> udp_source_port(std::span<const std::byte> packet) {
  if (packet.empty()) return std::nullopt;
  std::size_t header = 0;
  switch (byte_at(packet, 0) >> 4) {
    case 4: {
      if (packet.size() < 20) return std::nullopt;
      header = (byte_at(packet, 0) & 0x0f) * 4;
      // RFC 791: a fragment other than the first has no UDP header; the first's (MF set,
      // offset 0) has one, but the stack drops fragments anyway.
      const unsigned fragment = (byte_at(packet, 6) << 8) | byte_at(packet, 7);
      if (header < 20 || byte_at(packet, 9) != kProtoUdp || (fragment & 0x3fff) != 0)
        return std::nullopt;
      break;
    }
    case 6:
      // RFC 8200 §3: next header at 6; extension headers are not followed (the stack drops
      // what it cannot parse: drop_parse_ipv6_extension).
      if (packet.size() < 40 || byte_at(packet, 6) != kProtoUdp) return std::nullopt;
      header = 40;
      break;
    default:
      return std::nullopt;
  }
  if (packet.size() < header + 8) return std::nullopt;
  return static_cast<std::uint16_t>((byte_at(packet, header) << 8) | byte_at(packet, header + 1));
}

}  // namespace synack::relay
