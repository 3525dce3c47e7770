// SPDX-License-Identifier: MIT
// Why a packet could not be parsed. Every malformed input maps to one of these; none throws.
#pragma once

#include <cstdint>
#include <string_view>

namespace synack::wire {

enum class ParseError : std::uint8_t {
  None,
  // IP layer
  Truncated,            // buffer shorter than the header it claims to hold
  BadIpVersion,         // version nibble not 4 (or not 6 for the v6 parser)
  BadIpv4HeaderLength,  // IHL < 5 or past the buffer
  BadIpTotalLength,     // total/payload length smaller than the header or past the buffer
  BadIpv4HeaderChecksum,
  Ipv4Fragment,  // MF set or fragment offset != 0: we do not reassemble
  UnsupportedIpv6ExtensionHeader,
  NotTcp,  // protocol / next header is not 6 (caller may look at ICMP/UDP)
  // TCP layer
  TcpTruncated,             // fewer than 20 bytes of TCP header
  TcpDataOffsetTooSmall,    // data offset < 5
  TcpDataOffsetPastEnd,     // header length exceeds the segment
  TcpOptionLengthTooSmall,  // option length 0 or 1
  TcpOptionPastHeader,      // option (or its length byte) runs past the header
  TcpOptionBadLength,       // a known option with the wrong fixed length (e.g. MSS len != 4)
  TcpBadChecksum,
};

constexpr std::string_view to_string(ParseError e) {
  switch (e) {
    case ParseError::None:
      return "none";
    case ParseError::Truncated:
      return "truncated";
    case ParseError::BadIpVersion:
      return "bad_ip_version";
    case ParseError::BadIpv4HeaderLength:
      return "bad_ipv4_header_length";
    case ParseError::BadIpTotalLength:
      return "bad_ip_total_length";
    case ParseError::BadIpv4HeaderChecksum:
      return "bad_ipv4_header_checksum";
    case ParseError::Ipv4Fragment:
      return "ipv4_fragment";
    case ParseError::UnsupportedIpv6ExtensionHeader:
      return "unsupported_ipv6_extension_header";
    case ParseError::NotTcp:
      return "not_tcp";
    case ParseError::TcpTruncated:
      return "tcp_truncated";
    case ParseError::TcpDataOffsetTooSmall:
      return "tcp_data_offset_too_small";
    case ParseError::TcpDataOffsetPastEnd:
      return "tcp_data_offset_past_end";
    case ParseError::TcpOptionLengthTooSmall:
      return "tcp_option_length_too_small";
    case ParseError::TcpOptionPastHeader:
      return "tcp_option_past_header";
    case ParseError::TcpOptionBadLength:
      return "tcp_option_bad_length";
    case ParseError::TcpBadChecksum:
      return "tcp_bad_checksum";
  }
  return "?";
}

}  // namespace synack::wire
