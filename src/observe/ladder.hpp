// SPDX-License-Identifier: MIT
// A ladder (sequence) diagram of one TCP conversation between two ends: segments as arrows,
// state changes written on each end's timeline. Built from a simulation (LadderRecorder) or
// from a capture (synack decode), rendered as text here and as SVG in ladder_svg.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "synack/state.hpp"
#include "synack/time.hpp"
#include "synack/trace.hpp"
#include "wire/tcp_header.hpp"

namespace synack::observe {

enum class SegmentFate : std::uint8_t { Delivered, Lost, Duplicated, Corrupted };

struct LadderSegment {
  int from = 0;  // 0 = left end, 1 = right end
  Instant sent;
  std::optional<Instant> arrived;
  SegmentFate fate = SegmentFate::Delivered;
  std::uint8_t flags = 0;
  std::uint32_t seq = 0;  // relative to the sender's ISN
  std::uint32_t ack = 0;  // relative to the receiver's ISN
  bool has_ack = false;
  std::uint32_t length = 0;
  std::uint32_t window = 0;  // as on the wire
  wire::TcpOptions options;
  bool retransmission = false;
  std::string note;  // e.g. "out of order", "zero window"
};

struct LadderState {
  int side = 0;
  Instant time;
  State from = State::Closed;
  State to = State::Closed;
  std::string cause;
};

struct LadderEvent {
  enum class Kind : std::uint8_t { Segment, State, Note } kind = Kind::Segment;
  LadderSegment segment;
  LadderState state;
  std::string note;
  int note_side = -1;  // -1: centre
  Instant time;
};

struct Ladder {
  std::string title;
  std::string names[2];  // e.g. "client 198.18.0.1:49152"
  State initial[2] = {State::Closed, State::Closed};
  std::vector<LadderEvent> events;  // in time order
  State final_state[2] = {State::Closed, State::Closed};

  void add_segment(LadderSegment s);
  void add_state(int side, Instant time, State from, State to, std::string cause);
  void add_note(Instant time, std::string note, int side = -1);
};

// "SYN seq=0 win=65535 <mss 1460,sackOK,ts,ws 7>" — the label on an arrow.
std::string segment_label(const LadderSegment& s);
std::string options_label(const wire::TcpOptions& o);

struct TextRenderOptions {
  bool color = false;
  bool unicode = true;
  int width = 110;
};
std::string render_text(const Ladder& ladder, const TextRenderOptions& options);

}  // namespace synack::observe
