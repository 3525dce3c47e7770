// SPDX-License-Identifier: MIT
// ICMP (RFC 792) and ICMPv6 (RFC 4443) for the stack's IP layer: bytes <-> values for the few
// messages a TCP host needs — echo request/reply, the errors we send (protocol unreachable,
// ICMPv6 parameter problem) and the errors we receive, parsed down to the quoted TCP header so
// the stack can hand them to the connection they concern (RFC 1122 §4.2.3.9, RFC 5461).
// Pure functions, no state: rate limiting and delivery are the stack's business.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "synack/error.hpp"
#include "synack/expected.hpp"
#include "wire/ip_address.hpp"
#include "wire/ip_header.hpp"

namespace synack::icmp {

// RFC 792 types.
inline constexpr std::uint8_t kV4EchoReply = 0;
inline constexpr std::uint8_t kV4DestUnreachable = 3;
inline constexpr std::uint8_t kV4SourceQuench = 4;
inline constexpr std::uint8_t kV4EchoRequest = 8;
inline constexpr std::uint8_t kV4TimeExceeded = 11;
inline constexpr std::uint8_t kV4ParameterProblem = 12;
// RFC 792 destination-unreachable codes.
inline constexpr std::uint8_t kV4CodeProtocolUnreachable = 2;
inline constexpr std::uint8_t kV4CodeFragmentationNeeded = 4;

// RFC 4443 §2.1 types.
inline constexpr std::uint8_t kV6DestUnreachable = 1;
inline constexpr std::uint8_t kV6PacketTooBig = 2;
inline constexpr std::uint8_t kV6TimeExceeded = 3;
inline constexpr std::uint8_t kV6ParameterProblem = 4;
inline constexpr std::uint8_t kV6EchoRequest = 128;
inline constexpr std::uint8_t kV6EchoReply = 129;
// RFC 4443 §3.4 parameter-problem code 1: unrecognized Next Header type.
inline constexpr std::uint8_t kV6CodeUnrecognizedNextHeader = 1;

inline constexpr std::size_t kHeaderSize = 8;  // type, code, checksum, 4 bytes "rest of header"
// How much an error message may quote: RFC 1812 §4.3.2.3 (an IPv4 error must not exceed 576
// bytes) and RFC 4443 §2.4 (c) (an ICMPv6 error must not exceed the minimum MTU, 1280).
inline constexpr std::size_t kV4ErrorMaxPacket = 576;
inline constexpr std::size_t kV6ErrorMaxPacket = 1280;

enum class IcmpParseError : std::uint8_t { Truncated, BadChecksum };

struct IcmpMessage {
  std::uint8_t type = 0;
  std::uint8_t code = 0;
  std::uint32_t rest = 0;           // bytes 4..7: echo id/seq, pointer, MTU...
  std::span<const std::byte> data;  // after the 8-byte header (echo data, or the quote)
};

// Parses an ICMP (ip.protocol 1) or ICMPv6 (58) message that is the payload `body` of the
// packet whose header is `ip`, verifying its checksum (RFC 792: over the message; RFC 4443
// §2.3: with the RFC 8200 §8.1 pseudo-header). Errors: Truncated (shorter than 8 bytes),
// BadChecksum.
Expected<IcmpMessage, IcmpParseError> parse(const wire::IpHeader& ip,
                                            std::span<const std::byte> body);

// True for the error messages (as opposed to informational ones such as echo), for which
// RFC 1122 §3.2.2 / RFC 4443 §2.4 (e) forbid sending an error in answer.
bool is_error(bool v6, std::uint8_t type);

// What an error received means for the connection it quotes.
struct ErrorMeaning {
  Error error = Error::Unreachable;
  bool hard = false;  // RFC 1122 §4.2.3.9: hard errors abort a connection that is opening
};
// nullopt for messages that are not errors a TCP connection acts on (echo, unknown types,
// and path-MTU messages, which synack does not use: RFC 1191 / RFC 8201 would lower the MSS).
std::optional<ErrorMeaning> classify_error(bool v6, std::uint8_t type, std::uint8_t code);

// The TCP segment an error message quotes: the invoking packet's IP header and the first 8
// bytes of its TCP header (RFC 792 "Internet Header + 64 bits of Original Data Datagram";
// RFC 4443 quotes more). `src` is the address the quoted packet came from — ours.
struct QuotedTcp {
  wire::IpAddress src;
  wire::IpAddress dst;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t seq = 0;
};
// nullopt unless the quote holds an IP header of the expected family carrying TCP and at
// least 8 bytes of the TCP header. The quoted header is truncated by design, so its lengths
// and checksum are not checked.
std::optional<QuotedTcp> parse_quoted_tcp(bool v6, std::span<const std::byte> quote);

// Builds the echo reply answering `request` (an echo request received with header `ip`) into
// `out`: addresses swapped, same identifier, sequence number and data (RFC 792 "Echo or Echo
// Reply Message", RFC 4443 §4.2).
void build_echo_reply(const wire::IpHeader& ip, const IcmpMessage& request, std::uint8_t ttl,
                      std::vector<std::byte>& out);

// Builds an error message from `from` to `to` quoting as much of `offending` (the invoking
// packet, from its IP header on) as the size limits above allow.
void build_error(const wire::IpAddress& from, const wire::IpAddress& to, std::uint8_t type,
                 std::uint8_t code, std::uint32_t rest, std::span<const std::byte> offending,
                 std::uint8_t ttl, std::vector<std::byte>& out);

}  // namespace synack::icmp
