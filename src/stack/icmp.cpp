// SPDX-License-Identifier: MIT
// ICMP (RFC 792) and ICMPv6 (RFC 4443): parse, classify, build.
#include "stack/icmp.hpp"

#include <algorithm>
#include <array>

#include "wire/byte_order.hpp"
#include "wire/checksum.hpp"

namespace synack::icmp {
namespace {

using wire::detail::load_u16;
using wire::detail::load_u32;
using wire::detail::load_u8;
using wire::detail::store_u16;
using wire::detail::store_u32;
using wire::detail::store_u8;

constexpr std::size_t kTypeOffset = 0;
constexpr std::size_t kCodeOffset = 1;
constexpr std::size_t kChecksumOffset = 2;
constexpr std::size_t kRestOffset = 4;

// RFC 792: the checksum covers the ICMP message; RFC 4443 §2.3: ICMPv6 prepends the
// pseudo-header of RFC 8200 §8.1 with next header 58.
std::uint16_t message_checksum(const wire::IpAddress& src, const wire::IpAddress& dst,
                               std::span<const std::byte> message) {
  wire::ChecksumAccumulator acc;
  if (!src.is_v4()) {
    wire::add_pseudo_header(acc, src, dst, wire::kProtoIcmpv6,
                            static_cast<std::uint32_t>(message.size()));
  }
  acc.add(message);
  return acc.finish();
}

// Writes the IP header and the ICMP header around a message body already copied to
// out[header + 8 ...], then the checksum.
void finish_packet(const wire::IpAddress& from, const wire::IpAddress& to, std::uint8_t type,
                   std::uint8_t code, std::uint32_t rest, std::uint8_t ttl,
                   std::vector<std::byte>& out) {
  wire::IpHeader ip;
  ip.src = from;
  ip.dst = to;
  ip.ttl = ttl;
  ip.protocol = from.is_v4() ? wire::kProtoIcmp : wire::kProtoIcmpv6;
  ip.header_length = ip.emitted_header_size();
  ip.payload_length = out.size() - ip.header_length;
  // RFC 1191 hosts set DF on everything; an ICMP message is small enough never to need
  // fragmenting, and Linux sends its ICMP errors without DF. Keep DF clear like Linux.
  ip.dont_fragment = false;
  const std::span<std::byte> bytes{out};
  wire::emit_ip_header(ip, bytes);
  const std::span<std::byte> message = bytes.subspan(ip.header_length);
  store_u8(message, kTypeOffset, type);
  store_u8(message, kCodeOffset, code);
  store_u16(message, kChecksumOffset, 0);
  store_u32(message, kRestOffset, rest);
  store_u16(message, kChecksumOffset, message_checksum(from, to, message));
}

}  // namespace

Expected<IcmpMessage, IcmpParseError> parse(const wire::IpHeader& ip,
                                            std::span<const std::byte> body) {
  if (body.size() < kHeaderSize) return Unexpected{IcmpParseError::Truncated};
  // A correct checksum sums (with the field included) to zero, so finish() returns 0.
  if (message_checksum(ip.src, ip.dst, body) != 0) return Unexpected{IcmpParseError::BadChecksum};
  IcmpMessage m;
  m.type = load_u8(body, kTypeOffset);
  m.code = load_u8(body, kCodeOffset);
  m.rest = load_u32(body, kRestOffset);
  m.data = body.subspan(kHeaderSize);
  return m;
}

bool is_error(bool v6, std::uint8_t type) {
  // RFC 4443 §2.1: types 0..127 are errors, 128..255 informational. RFC 792 has no such
  // split; its errors are destination unreachable, source quench, redirect (5), time
  // exceeded and parameter problem.
  if (v6) return type < 128;
  return type == kV4DestUnreachable || type == kV4SourceQuench || type == 5 ||
         type == kV4TimeExceeded || type == kV4ParameterProblem;
}

std::optional<ErrorMeaning> classify_error(bool v6, std::uint8_t type, std::uint8_t code) {
  if (!v6) {
    switch (type) {
      case kV4DestUnreachable:
        switch (code) {
          // RFC 1122 §4.2.3.9: net (0), host (1) and source route failed (5) are soft
          // errors; so are the TOS variants (11, 12), as in Linux's icmp_err_convert.
          case 0:
          case 1:
          case 5:
          case 11:
          case 12:
            return ErrorMeaning{Error::Unreachable, false};
          // RFC 1122 §4.2.3.9: port unreachable (3) is a hard error; the peer refuses.
          case 3:
            return ErrorMeaning{Error::ConnectionRefused, true};
          // Fragmentation needed (4) is path-MTU discovery (RFC 1191), not a failure.
          case kV4CodeFragmentationNeeded:
            return std::nullopt;
          // Protocol unreachable (2, hard by RFC 1122 §4.2.3.9), unknown net/host (6, 7),
          // isolated host (8) and administratively prohibited (9, 10, 13 of RFC 1812,
          // 14, 15): hard, as Linux treats them.
          default:
            return ErrorMeaning{Error::Unreachable, true};
        }
      // RFC 1122 §4.2.3.9: time exceeded and parameter problem are soft errors.
      case kV4TimeExceeded:
      case kV4ParameterProblem:
        return ErrorMeaning{Error::Unreachable, false};
      // Source quench is deprecated (RFC 6633 §3: MUST be ignored); redirects are for routers.
      default:
        return std::nullopt;
    }
  }
  switch (type) {
    case kV6DestUnreachable:
      switch (code) {
        // RFC 4443 §3.1 code 4: port unreachable — the peer refuses.
        case 4:
          return ErrorMeaning{Error::ConnectionRefused, true};
        // Administratively prohibited (1), source address failed policy (5), reject route
        // (6): hard, as in Linux's icmpv6_err_convert.
        case 1:
        case 5:
        case 6:
          return ErrorMeaning{Error::Unreachable, true};
        // No route (0), beyond scope (2), address unreachable (3): may be transient; soft.
        default:
          return ErrorMeaning{Error::Unreachable, false};
      }
    case kV6TimeExceeded:
      return ErrorMeaning{Error::Unreachable, false};
    case kV6ParameterProblem:
      // RFC 4443 §3.4 code 1: the peer does not know TCP at all.
      return ErrorMeaning{Error::Unreachable, code == kV6CodeUnrecognizedNextHeader};
    // Packet too big (RFC 8201 path MTU) and unknown types: nothing to deliver.
    default:
      return std::nullopt;
  }
}

std::optional<QuotedTcp> parse_quoted_tcp(bool v6, std::span<const std::byte> quote) {
  constexpr std::size_t kTcpBytesQuoted = 8;  // ports and sequence number
  QuotedTcp q;
  std::size_t header_length = 0;
  std::uint8_t protocol = 0;
  if (!v6) {
    if (quote.size() < wire::kIpv4MinHeader) return std::nullopt;
    std::uint8_t version_ihl = load_u8(quote, 0);
    if ((version_ihl >> 4) != 4) return std::nullopt;
    header_length = static_cast<std::size_t>(version_ihl & 0x0f) * 4;
    if (header_length < wire::kIpv4MinHeader) return std::nullopt;
    // A quoted non-first fragment carries no TCP header.
    if ((load_u16(quote, 6) & 0x1fff) != 0) return std::nullopt;
    protocol = load_u8(quote, 9);
    q.src = wire::IpAddress::v4(load_u8(quote, 12), load_u8(quote, 13), load_u8(quote, 14),
                                load_u8(quote, 15));
    q.dst = wire::IpAddress::v4(load_u8(quote, 16), load_u8(quote, 17), load_u8(quote, 18),
                                load_u8(quote, 19));
  } else {
    if (quote.size() < wire::kIpv6Header) return std::nullopt;
    if ((load_u8(quote, 0) >> 4) != 6) return std::nullopt;
    header_length = wire::kIpv6Header;
    // synack sends no extension headers, so what it sent has TCP right after the header.
    protocol = load_u8(quote, 6);
    std::array<std::uint8_t, 16> src{}, dst{};
    for (std::size_t i = 0; i < 16; ++i) {
      src[i] = load_u8(quote, 8 + i);
      dst[i] = load_u8(quote, 24 + i);
    }
    q.src = wire::IpAddress::v6(src);
    q.dst = wire::IpAddress::v6(dst);
  }
  if (protocol != wire::kProtoTcp) return std::nullopt;
  if (quote.size() < header_length + kTcpBytesQuoted) return std::nullopt;
  const auto tcp = quote.subspan(header_length);
  q.src_port = load_u16(tcp, 0);
  q.dst_port = load_u16(tcp, 2);
  q.seq = load_u32(tcp, 4);
  return q;
}

void build_echo_reply(const wire::IpHeader& ip, const IcmpMessage& request, std::uint8_t ttl,
                      std::vector<std::byte>& out) {
  const std::size_t header = ip.dst.is_v4() ? wire::kIpv4MinHeader : wire::kIpv6Header;
  out.resize(header + kHeaderSize + request.data.size());
  std::copy(request.data.begin(), request.data.end(), out.begin() + header + kHeaderSize);
  // RFC 792: "the source and destination addresses are simply reversed, the type code
  // changed to 0, and the checksum recomputed"; RFC 4443 §4.2: identifier, sequence number
  // and data are those of the request.
  finish_packet(ip.dst, ip.src, ip.dst.is_v4() ? kV4EchoReply : kV6EchoReply, 0, request.rest, ttl,
                out);
}

void build_error(const wire::IpAddress& from, const wire::IpAddress& to, std::uint8_t type,
                 std::uint8_t code, std::uint32_t rest, std::span<const std::byte> offending,
                 std::uint8_t ttl, std::vector<std::byte>& out) {
  const bool v4 = from.is_v4();
  const std::size_t header = v4 ? wire::kIpv4MinHeader : wire::kIpv6Header;
  const std::size_t limit = v4 ? kV4ErrorMaxPacket : kV6ErrorMaxPacket;
  const std::size_t quoted = std::min(offending.size(), limit - header - kHeaderSize);
  out.resize(header + kHeaderSize + quoted);
  std::copy_n(offending.begin(), quoted, out.begin() + header + kHeaderSize);
  finish_packet(from, to, type, code, rest, ttl, out);
}

}  // namespace synack::icmp
