// SPDX-License-Identifier: MIT
// What the core reports as it works: every state change (from, to, cause, time), every
// segment in and out, and every drop. `synack trace`, the ladder diagrams, the state
// diagram counts and the transition-coverage test all read these events.
#pragma once

#include <cstdint>
#include <string_view>

#include "synack/address.hpp"
#include "synack/state.hpp"
#include "synack/tcp_options.hpp"
#include "synack/time.hpp"

namespace synack {

using ConnectionId = std::uint64_t;

struct TransitionEvent {
  Instant time;
  ConnectionId connection = 0;
  wire::Endpoint local;
  wire::Endpoint remote;
  State from = State::Closed;
  State to = State::Closed;
  // Event and action in the RFC figure's words, e.g. "rcv SYN / snd SYN,ACK".
  std::string_view cause;
};

enum class Direction : std::uint8_t { In, Out };

// The TCP header fields a trace shows, by value (the ports are in SegmentEvent's src / dst).
struct SegmentHeader {
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;    // wire::tcp_flag bits
  std::uint16_t window = 0;  // as sent, not scaled
  wire::TcpOptions options;
};

struct SegmentEvent {
  Instant time;
  ConnectionId connection = 0;  // 0 when no connection matched
  Direction direction = Direction::In;
  wire::Endpoint src;
  wire::Endpoint dst;
  SegmentHeader header;
  std::uint32_t payload_length = 0;
  bool retransmission = false;
};

struct DropEvent {
  Instant time;
  ConnectionId connection = 0;
  std::string_view counter;  // the counter that was bumped
};

class TraceSink {
 public:
  virtual ~TraceSink() = default;
  virtual void on_transition(const TransitionEvent&) {}
  virtual void on_segment(const SegmentEvent&) {}
  virtual void on_drop(const DropEvent&) {}
};

}  // namespace synack
