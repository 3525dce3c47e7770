// SPDX-License-Identifier: MIT
// UDP (RFC 768) parsing and building.
#include "wire/udp.hpp"

#include <algorithm>

#include "wire/byte_order.hpp"
#include "wire/checksum.hpp"

namespace synack::wire {

namespace {
constexpr std::size_t kUdpChecksumOffset = 6;

std::uint16_t udp_checksum(const IpHeader& ip, std::span<const std::byte> datagram) {
  ChecksumAccumulator acc;
  add_pseudo_header(acc, ip.src, ip.dst, kProtoUdp, static_cast<std::uint32_t>(datagram.size()));
  acc.add(datagram);
  return acc.finish();
}
}  // namespace

UdpParse parse_udp(const IpHeader& ip, std::span<const std::byte> segment, bool verify_checksum) {
  UdpParse result;
  if (segment.size() < kUdpHeaderSize) {
    result.error = UdpError::Truncated;
    return result;
  }
  const std::uint16_t length = detail::load_u16(segment, 4);
  // RFC 768: the length covers header and data; the IP payload may carry link padding.
  if (length < kUdpHeaderSize || length > segment.size()) {
    result.error = UdpError::BadLength;
    return result;
  }
  const auto datagram = segment.first(length);
  const std::uint16_t stored = detail::load_u16(segment, kUdpChecksumOffset);
  if (verify_checksum && stored == 0 && !ip.is_v4()) {
    result.error = UdpError::BadChecksum;  // RFC 8200 §8.1: mandatory over IPv6
    return result;
  }
  // Summing a datagram that carries its checksum gives zero (0xffff before complement).
  if (verify_checksum && stored != 0 && udp_checksum(ip, datagram) != 0) {
    result.error = UdpError::BadChecksum;
    return result;
  }
  UdpDatagram d;
  d.src_port = detail::load_u16(segment, 0);
  d.dst_port = detail::load_u16(segment, 2);
  if (d.dst_port == 0) {
    result.error = UdpError::ZeroPort;
    return result;
  }
  d.payload = datagram.subspan(kUdpHeaderSize);
  result.datagram = d;
  return result;
}

void build_udp_packet(IpHeader ip, std::uint16_t src_port, std::uint16_t dst_port,
                      std::span<const std::byte> payload, std::vector<std::byte>& out) {
  ip.protocol = kProtoUdp;
  const std::size_t udp_length = kUdpHeaderSize + payload.size();
  ip.payload_length = udp_length;
  ip.header_length = ip.emitted_header_size();
  out.resize(ip.header_length + udp_length);
  const std::span<std::byte> bytes{out};
  emit_ip_header(ip, bytes);
  const std::span<std::byte> udp = bytes.subspan(ip.header_length);
  detail::store_u16(udp, 0, src_port);
  detail::store_u16(udp, 2, dst_port);
  detail::store_u16(udp, 4, static_cast<std::uint16_t>(udp_length));
  detail::store_u16(udp, kUdpChecksumOffset, 0);
  std::copy(payload.begin(), payload.end(), udp.begin() + kUdpHeaderSize);
  const std::uint16_t sum = udp_checksum(ip, udp);
  // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
  detail::store_u16(udp, kUdpChecksumOffset, sum == 0 ? 0xffff : sum);
}

}  // namespace synack::wire
