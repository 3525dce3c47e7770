// Helpers shared by the stack's source files (not part of the API).
#pragma once

#include <algorithm>
#include <span>

#include "tcp/segment.hpp"
#include "wire/ip_address.hpp"
#include "wire/tcp_header.hpp"

namespace synack::stack_internal {

inline tcp::Segment to_segment(const wire::TcpHeader& h, std::span<const std::byte> payload) {
  tcp::Segment s;
  s.seq = SeqNum(h.seq);
  s.ack = SeqNum(h.ack);
  s.flags = h.flags;
  s.window = h.window;
  s.options = h.options;
  s.payload = payload;
  return s;
}

inline bool is_unspecified(const wire::IpAddress& a) {
  return std::all_of(a.bytes.begin(), a.bytes.end(), [](std::uint8_t b) { return b == 0; });
}

// RFC 9293 §3.9.2.1 (MUST-63, RFC 1122 §3.2.1.3): broadcast, multicast, loopback and
// "this network" addresses never originate a TCP segment from another host; nor can a
// connection go to a broadcast or multicast address (MUST-46).
inline bool is_broadcast_or_multicast(const wire::IpAddress& a) {
  if (a.is_v4()) return a.bytes[0] >= 224;  // 224/4 multicast, 240/4 reserved, broadcast
  return a.bytes[0] == 0xff;                // ff00::/8
}

inline bool is_martian_source(const wire::IpAddress& a) {
  if (is_unspecified(a) || is_broadcast_or_multicast(a)) return true;
  if (a.is_v4()) return a.bytes[0] == 127 || a.bytes[0] == 0;
  bool loopback = a.bytes[15] == 1 && std::all_of(a.bytes.begin(), a.bytes.begin() + 15,
                                                   [](std::uint8_t b) { return b == 0; });
  return loopback;
}

}  // namespace synack::stack_internal
