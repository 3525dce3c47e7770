// SPDX-License-Identifier: MIT
#include "observe/ladder.hpp"

#include <algorithm>
#include <cstdio>

namespace synack::observe {

void Ladder::add_segment(LadderSegment s) {
  LadderEvent e;
  e.kind = LadderEvent::Kind::Segment;
  e.time = s.sent;
  e.segment = std::move(s);
  events.push_back(std::move(e));
}

void Ladder::add_state(int side, Instant time, State from, State to, std::string cause) {
  LadderEvent e;
  e.kind = LadderEvent::Kind::State;
  e.time = time;
  e.state = LadderState{side, time, from, to, std::move(cause)};
  events.push_back(std::move(e));
  final_state[side] = to;
}

void Ladder::add_note(Instant time, std::string note, int side) {
  LadderEvent e;
  e.kind = LadderEvent::Kind::Note;
  e.time = time;
  e.note = std::move(note);
  e.note_side = side;
  events.push_back(std::move(e));
}

std::string options_label(const wire::TcpOptions& o) {
  std::string out;
  auto add = [&](const std::string& s) {
    if (!out.empty()) out += ",";
    out += s;
  };
  if (o.mss) add("mss " + std::to_string(*o.mss));
  if (o.window_scale) add("ws " + std::to_string(*o.window_scale));
  if (o.sack_permitted) add("sackOK");
  if (o.timestamps) add("ts");
  for (std::size_t i = 0; i < o.sack_count; ++i) add("sack");
  return out;
}

std::string segment_label(const LadderSegment& s) {
  std::string label = wire::flags_to_string(s.flags);
  if (label.empty()) label = "(none)";
  label += " seq=" + std::to_string(s.seq);
  if (s.has_ack) label += " ack=" + std::to_string(s.ack);
  if (s.length > 0) label += " len=" + std::to_string(s.length);
  label += " win=" + std::to_string(s.window);
  std::string opts = options_label(s.options);
  if (!opts.empty()) label += " <" + opts + ">";
  return label;
}

namespace {

// Width in terminal columns of a UTF-8 string (every code point counts one).
std::size_t columns(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

std::string pad_to(std::string s, std::size_t width) {
  std::size_t c = columns(s);
  if (c < width) s.append(width - c, ' ');
  return s;
}

std::string repeat(const std::string& unit, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += unit;
  return s;
}

std::string time_column(Instant t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%10.3f", static_cast<double>(to_us(t)) / 1000.0);
  return buf;
}

}  // namespace

std::string render_text(const Ladder& ladder, const TextRenderOptions& options) {
  const std::string bar = options.unicode ? "│" : "|";
  const std::string dash = options.unicode ? "─" : "-";
  const std::string right_head = options.unicode ? "▶" : ">";
  const std::string left_head = options.unicode ? "◀" : "<";
  const std::string lost = options.unicode ? "✕" : "X";
  auto paint = [&](const std::string& s, const char* code) {
    if (!options.color) return s;
    return std::string("\x1b[") + code + "m" + s + "\x1b[0m";
  };

  const std::size_t time_w = 11;
  const std::size_t side_w = 14;  // state column on each side
  const std::size_t mid_w =
      static_cast<std::size_t>(std::max(60, options.width)) - time_w - 2 * side_w - 2;
  std::string out;
  if (!ladder.title.empty()) out += ladder.title + "\n\n";
  out += pad_to(" time (ms)", time_w) + pad_to(ladder.names[0], side_w + mid_w / 2) +
         ladder.names[1] + "\n";
  auto line = [&](const std::string& t, const std::string& left, const std::string& mid,
                  const std::string& right) {
    out += pad_to(t, time_w) + pad_to(left, side_w) + bar + pad_to(mid, mid_w) + bar + " " + right +
           "\n";
  };
  line("", paint(std::string(to_string(ladder.initial[0])), "1"), "",
       paint(std::string(to_string(ladder.initial[1])), "1"));

  for (const auto& e : ladder.events) {
    switch (e.kind) {
      case LadderEvent::Kind::State: {
        std::string name = paint(std::string(to_string(e.state.to)), "1;36");
        if (e.state.side == 0)
          line(time_column(e.time), name, "", "");
        else
          line(time_column(e.time), "", "", name);
        break;
      }
      case LadderEvent::Kind::Note:
        line(time_column(e.time), "", "  " + paint(e.note, "2"), "");
        break;
      case LadderEvent::Kind::Segment: {
        const auto& s = e.segment;
        std::string label = segment_label(s);
        if (s.retransmission) label += " (retransmission)";
        if (!s.note.empty()) label += " (" + s.note + ")";
        std::size_t body = mid_w - 2;
        std::size_t label_w = columns(label) + 2;
        std::size_t fill = body > label_w ? body - label_w : 0;
        std::string arrow;
        bool dropped = s.fate == SegmentFate::Lost || s.fate == SegmentFate::Corrupted;
        std::string why = s.fate == SegmentFate::Corrupted ? " corrupted" : " lost";
        if (s.from == 0) {
          std::string head = dropped ? " " + lost + why : right_head;
          std::size_t f = fill > columns(head) ? fill - columns(head) + 1 : 1;
          arrow = repeat(dash, 2) + " " + label + " " + repeat(dash, f > 2 ? f - 2 : 1) + head;
        } else {
          std::string head = dropped ? lost + why + " " : left_head;
          std::size_t f = fill > columns(head) ? fill - columns(head) + 1 : 1;
          arrow = head + repeat(dash, f > 2 ? f - 2 : 1) + " " + label + " " + repeat(dash, 2);
        }
        const char* color = s.flags & wire::tcp_flag::RST ? "31"
                            : dropped                     ? "33"
                            : s.retransmission            ? "35"
                                                          : "32";
        line(time_column(e.time), "", paint(arrow, color), "");
        break;
      }
    }
  }
  line("", paint(std::string(to_string(ladder.final_state[0])), "1"), "",
       paint(std::string(to_string(ladder.final_state[1])), "1"));
  return out;
}

}  // namespace synack::observe
