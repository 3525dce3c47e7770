// SPDX-License-Identifier: MIT
// Helpers shared by the stack's source files (not part of the API).
#pragma once

#include <algorithm>
#include <span>

#include "synack/trace.hpp"
#include "tcp/segment.hpp"
#include "wire/address_class.hpp"
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

// What a trace record shows of a header (SegmentEvent::header).
inline SegmentHeader trace_header(const wire::TcpHeader& h) {
  return SegmentHeader{h.seq, h.ack, h.flags, h.window, h.options};
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

// RFC 9293 §3.9.2.1 (MUST-63): a source no host may send from — and, intercepting, a
// destination no relayed connection may reach: loopback in every form (::ffff:127.0.0.1
// included), unspecified, "this network", multicast, broadcast, reserved (wire::classify).
inline bool is_martian_source(const wire::IpAddress& a) {
  return wire::is_martian(wire::classify(a));
}

}  // namespace synack::stack_internal
