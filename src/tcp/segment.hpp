// SPDX-License-Identifier: MIT
// A TCP segment as the connection sees it: header values with SeqNum types and a payload
// view. The stack turns wire::TcpPacket into this and back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "synack/seqnum.hpp"
#include "wire/tcp_header.hpp"

namespace synack::tcp {

using wire::tcp_flag::ACK;
using wire::tcp_flag::FIN;
using wire::tcp_flag::PSH;
using wire::tcp_flag::RST;
using wire::tcp_flag::SYN;

struct Segment {
  SeqNum seq;
  SeqNum ack;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;  // as on the wire, before scaling
  wire::TcpOptions options;
  std::span<const std::byte> payload;
  bool retransmission = false;  // set on output, for traces and counters
  // Segmentation offload: payload is several packets' worth, to be cut by the link into
  // pieces of gso_size bytes, each with these headers (0: one packet).
  std::uint16_t gso_size = 0;

  bool has(std::uint8_t f) const { return (flags & f) != 0; }
  // RFC 9293 §3.4 SEG.LEN: payload plus one for SYN and one for FIN.
  std::uint32_t length() const {
    return static_cast<std::uint32_t>(payload.size()) + (has(SYN) ? 1 : 0) + (has(FIN) ? 1 : 0);
  }
};

// Where a connection puts the segments it sends. The payload span is only valid during
// the call (it points into the send buffer): the sink serializes it at once.
class SegmentSink {
 public:
  virtual ~SegmentSink() = default;
  virtual void send(const Segment& segment) = 0;
  // The batch the stack is gathering (TcpConfig::batch_output), numbered from 1; 0: none. In
  // one, a connection may hold its output until Connection::flush_held(), and calls held()
  // once when it starts holding.
  virtual std::uint32_t batch() const { return 0; }
  virtual void held() {}
};

}  // namespace synack::tcp
