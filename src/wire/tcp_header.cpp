// SPDX-License-Identifier: MIT
// The TCP header of RFC 9293 §3.1: parse, emit, checksum.
#include "wire/tcp_header.hpp"

#include "wire/byte_order.hpp"
#include "wire/checksum.hpp"
#include "wire/ip_header.hpp"

namespace synack::wire {

namespace {

using detail::load_u16;
using detail::load_u32;
using detail::load_u8;
using detail::store_u16;
using detail::store_u32;
using detail::store_u8;

// RFC 9293 §3.1 field offsets.
constexpr std::size_t kSourcePort = 0;
constexpr std::size_t kDestinationPort = 2;
constexpr std::size_t kSequence = 4;
constexpr std::size_t kAcknowledgment = 8;
constexpr std::size_t kDataOffset = 12;  // high nibble; the low nibble is reserved
constexpr std::size_t kFlags = 13;
constexpr std::size_t kWindow = 14;
constexpr std::size_t kChecksum = 16;
constexpr std::size_t kUrgentPointer = 18;
constexpr std::size_t kOptions = 20;

}  // namespace

std::string flags_to_string(std::uint8_t flags) {
  // Connection-setup order, so handshakes read "SYN", "SYN,ACK", "FIN,ACK", "RST,ACK".
  static constexpr struct {
    std::uint8_t bit;
    const char* name;
  } kNames[] = {
      {tcp_flag::SYN, "SYN"}, {tcp_flag::FIN, "FIN"}, {tcp_flag::RST, "RST"},
      {tcp_flag::PSH, "PSH"}, {tcp_flag::ACK, "ACK"}, {tcp_flag::URG, "URG"},
      {tcp_flag::ECE, "ECE"}, {tcp_flag::CWR, "CWR"},
  };
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if ((flags & bit) == 0) continue;
    if (!out.empty()) out.push_back(',');
    out += name;
  }
  return out;
}

Expected<TcpHeader, ParseError> parse_tcp_header(std::span<const std::byte> segment,
                                                 std::size_t* header_length) {
  if (segment.size() < kTcpMinHeader) return Unexpected{ParseError::TcpTruncated};
  // RFC 9293 §3.1 Data Offset: the header length in 32-bit words, at least 5.
  const std::uint8_t data_offset = load_u8(segment, kDataOffset) >> 4;
  const std::size_t length = data_offset * 4u;
  if (length < kTcpMinHeader) return Unexpected{ParseError::TcpDataOffsetTooSmall};
  if (length > segment.size()) return Unexpected{ParseError::TcpDataOffsetPastEnd};
  auto options = parse_tcp_options(segment.subspan(kOptions, length - kOptions));
  if (!options) return Unexpected{options.error()};
  TcpHeader h;
  h.src_port = load_u16(segment, kSourcePort);
  h.dst_port = load_u16(segment, kDestinationPort);
  h.seq = load_u32(segment, kSequence);
  h.ack = load_u32(segment, kAcknowledgment);
  h.data_offset = data_offset;
  // RFC 9293 §3.1: CWR ECE URG ACK PSH RST SYN FIN in byte 13. The four reserved bits
  // before them (one is AccECN's AE, RFC 3540's NS is historic) are ignored.
  h.flags = load_u8(segment, kFlags);
  h.window = load_u16(segment, kWindow);
  h.checksum = load_u16(segment, kChecksum);
  h.urgent = load_u16(segment, kUrgentPointer);
  h.options = *options;
  if (header_length != nullptr) *header_length = length;
  return h;
}

std::size_t emit_tcp_header(const TcpHeader& header, std::span<std::byte> out) {
  const std::size_t options_size = header.options.emitted_size();
  const std::size_t length = kTcpMinHeader + options_size;
  store_u16(out, kSourcePort, header.src_port);
  store_u16(out, kDestinationPort, header.dst_port);
  store_u32(out, kSequence, header.seq);
  store_u32(out, kAcknowledgment, header.ack);
  // RFC 9293 §3.1: Data Offset from the options actually written; reserved bits zero.
  store_u8(out, kDataOffset, static_cast<std::uint8_t>((length / 4) << 4));
  store_u8(out, kFlags, header.flags);
  store_u16(out, kWindow, header.window);
  store_u16(out, kChecksum, header.checksum);
  store_u16(out, kUrgentPointer, header.urgent);
  emit_tcp_options(header.options, out.subspan(kOptions, options_size));
  return length;
}

std::uint16_t tcp_checksum(const IpAddress& src, const IpAddress& dst,
                           std::span<const std::byte> segment_with_zero_checksum) {
  // RFC 9293 §3.1 "Checksum": over the pseudo-header, the TCP header and the data.
  ChecksumAccumulator acc;
  add_pseudo_header(acc, src, dst, kProtoTcp,
                    static_cast<std::uint32_t>(segment_with_zero_checksum.size()));
  acc.add(segment_with_zero_checksum);
  return acc.finish();
}

bool verify_tcp_checksum(const IpAddress& src, const IpAddress& dst,
                         std::span<const std::byte> segment) {
  // Summing the received checksum field too gives all ones for an intact segment
  // (RFC 1071 §1 "to check a checksum"), so the complement is zero.
  return tcp_checksum(src, dst, segment) == 0;
}

}  // namespace synack::wire
