// SPDX-License-Identifier: MIT
// The TCP header of RFC 9293 §3.1 and its options (MSS §3.2, window scale and timestamps
// RFC 7323, SACK-permitted and SACK RFC 2018): a value type with parse / emit / size.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "synack/expected.hpp"
#include "synack/tcp_options.hpp"
#include "wire/ip_address.hpp"
#include "wire/parse_error.hpp"

namespace synack::wire {

// "SYN,ACK" style; "" for no flags.
std::string flags_to_string(std::uint8_t flags);

inline constexpr std::size_t kTcpMinHeader = 20;
inline constexpr std::size_t kTcpMaxHeader = 60;
inline constexpr std::size_t kTcpMaxOptions = kTcpMaxHeader - kTcpMinHeader;  // 40 bytes

// Option kinds (RFC 9293 §3.2, RFC 7323 §2.2 and §3.2, RFC 2018 §2 and §3).
namespace tcp_option {
inline constexpr std::uint8_t kEndOfList = 0;
inline constexpr std::uint8_t kNop = 1;
inline constexpr std::uint8_t kMss = 2;
inline constexpr std::uint8_t kWindowScale = 3;
inline constexpr std::uint8_t kSackPermitted = 4;
inline constexpr std::uint8_t kSack = 5;
inline constexpr std::uint8_t kTimestamps = 8;
}  // namespace tcp_option

struct TcpHeader {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t data_offset = 5;  // in 32-bit words; parse output, emit recomputes from options
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  std::uint16_t checksum = 0;
  std::uint16_t urgent = 0;
  TcpOptions options;

  bool has(std::uint8_t flag) const { return (flags & flag) != 0; }
  std::size_t header_size() const { return kTcpMinHeader + options.emitted_size(); }
};

// Parses options from the bytes between the fixed header and the data. Errors:
// TcpOptionLengthTooSmall, TcpOptionPastHeader, TcpOptionBadLength. More SACK blocks
// than kMaxSackBlocks are a TcpOptionBadLength. Framing is checked before meaning: an option
// whose length is < 2 or runs past `bytes` is reported as such even if its kind is known.
// EOL ends the list; NOPs are skipped; unknown kinds are skipped by length; a repeated
// option overwrites the earlier one.
Expected<TcpOptions, ParseError> parse_tcp_options(std::span<const std::byte> bytes);

// Writes the options in a fixed order (that of Linux): MSS; SACK-permitted and timestamps
// (SACK-permitted,2,TS when both, else NOP,NOP,TS or NOP,NOP,SACK-permitted); NOP,window scale;
// NOP,NOP,SACK with emitted_sack_blocks() blocks; padded to a multiple of 4. `out` must hold
// emitted_size() bytes. Returns emitted_size().
std::size_t emit_tcp_options(const TcpOptions& options, std::span<std::byte> out);

// Parses a TCP header (no checksum check: see verify_tcp_checksum). Errors: TcpTruncated,
// TcpDataOffsetTooSmall, TcpDataOffsetPastEnd, and the option errors. `header_length` gets
// the header size in bytes so the payload is segment.subspan(header_length).
Expected<TcpHeader, ParseError> parse_tcp_header(std::span<const std::byte> segment,
                                                 std::size_t* header_length = nullptr);

// Writes header + options into `out` (which must hold header.header_size() bytes) with the
// checksum field as given. Returns bytes written.
std::size_t emit_tcp_header(const TcpHeader& header, std::span<std::byte> out);

// Checksum over pseudo-header + segment (header and payload) per RFC 9293 §3.1.
std::uint16_t tcp_checksum(const IpAddress& src, const IpAddress& dst,
                           std::span<const std::byte> segment_with_zero_checksum);
bool verify_tcp_checksum(const IpAddress& src, const IpAddress& dst,
                         std::span<const std::byte> segment);

}  // namespace synack::wire
