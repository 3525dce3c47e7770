// SPDX-License-Identifier: MIT
// `synack decode` output: a per-connection table, a ladder (text or SVG), JSON.
#include <cstdio>

#include "decode/decode.hpp"

namespace synack::decode {
using namespace synack::observe;

namespace {

LadderSegment ladder_segment(const DecodedConnection& c, const DecodedSegment& row) {
  LadderSegment s;
  s.from = row.from;
  s.sent = instant_from_us(row.wire.time_us - c.start_us());
  s.arrived = std::nullopt;  // a capture shows when a segment passed, not when it arrived
  // Inferred, not observed: the sender repeated its effect before the peer showed it arrived.
  s.fate = row.lost_after_capture ? SegmentFate::Lost : SegmentFate::Delivered;
  s.flags = row.wire.tcp.flags;
  s.seq = row.seq;
  s.ack = row.ack;
  s.has_ack = row.has_ack;
  s.length = row.wire.payload_length;
  s.window = row.wire.tcp.window;
  s.options = row.options;
  s.retransmission = row.retransmission;
  std::string note;
  for (const auto& n : row.notes) {
    // Drawn from the flags: the arrow's colour, and "✕ lost".
    if (n == "retransmission" || n.starts_with("lost after the capture point")) continue;
    note += (note.empty() ? "" : "; ") + n;
  }
  for (const auto& v : row.violations) note += (note.empty() ? "! " : "; ! ") + v;
  s.note = note;
  return s;
}

// Changes revealed by the segment (arrivals of earlier segments at its sender) come before its
// arrow; its own and its arrival's after.
bool before_arrow(const StateChange& ch) { return ch.before_segment; }

std::string time_ms(std::int64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(us) / 1000.0);
  return buf;
}

std::size_t columns(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char ch : s)
    if ((ch & 0xC0) != 0x80) ++n;
  return n;
}

std::string pad(std::string s, std::size_t width) {
  std::size_t c = columns(s);
  if (c < width) s.append(width - c, ' ');
  return s;
}

std::string pad_left(const std::string& s, std::size_t width) {
  std::size_t c = columns(s);
  return c < width ? std::string(width - c, ' ') + s : s;
}

// "SYN-SENT → ESTABLISHED → ..." for one end.
std::string path_of(const DecodedConnection& c, int side, const std::string& arrow) {
  std::string out(to_string(c.initial[side]));
  for (const auto& row : c.segments)
    for (const auto& ch : row.changes)
      if (ch.side == side) out += arrow + std::string(to_string(ch.to));
  return out;
}

std::string plural(int n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

Ladder to_ladder(const DecodedConnection& c) {
  Ladder ladder;
  ladder.title = "connection " + std::to_string(c.number) + ": " + c.ends[0].to_string() + " <-> " +
                 c.ends[1].to_string() + (c.mid_stream ? " (capture began mid-stream)" : "");
  ladder.names[0] = c.name(0);
  ladder.names[1] = c.name(1);
  ladder.initial[0] = c.initial[0];
  ladder.initial[1] = c.initial[1];
  for (const auto& n : c.notes)
    if (n.find("TIME-WAIT") == std::string::npos) ladder.add_note(Instant{}, n);
  for (const auto& row : c.segments) {
    Instant t = instant_from_us(row.wire.time_us - c.start_us());
    for (const auto& ch : row.changes)
      if (before_arrow(ch)) ladder.add_state(ch.side, t, ch.from, ch.to, ch.cause);
    ladder.add_segment(ladder_segment(c, row));
    for (const auto& ch : row.changes)
      if (!before_arrow(ch)) ladder.add_state(ch.side, t, ch.from, ch.to, ch.cause);
  }
  Instant end = c.segments.empty() ? Instant{}
                                   : instant_from_us(c.segments.back().wire.time_us - c.start_us());
  for (int side = 0; side < 2; ++side)
    if (c.final_state[side] == State::TimeWait)
      ladder.add_note(end, "TIME-WAIT lasts 2 MSL, beyond the capture", side);
  ladder.final_state[0] = c.final_state[0];
  ladder.final_state[1] = c.final_state[1];
  return ladder;
}

std::string render_table(const DecodedConnection& c, const TableOptions& options) {
  const std::string right = options.unicode ? "→" : ">";
  const std::string left = options.unicode ? "←" : "<";
  auto paint = [&](const std::string& s, const char* code) {
    if (!options.color) return s;
    return std::string("\x1b[") + code + "m" + s + "\x1b[0m";
  };
  std::string out;
  std::int64_t duration = c.segments.empty() ? 0 : c.segments.back().wire.time_us - c.start_us();
  out += paint("connection " + std::to_string(c.number), "1") + ": " + c.name(0) + " " +
         (options.unicode ? "⇄" : "<->") + " " + c.name(1) + ", " +
         plural(static_cast<int>(c.segments.size()), "segment", "segments") + " in " +
         time_ms(duration) + " ms\n";
  for (int side = 0; side < 2; ++side) {
    for (const auto& row : c.segments) {
      if (row.from == side && row.wire.tcp.has(wire::tcp_flag::SYN)) {
        std::string o = options_label(row.wire.tcp.options);
        out += "  " + std::string(side == 0 ? "client" : "server") +
               " SYN options: " + (o.empty() ? "none" : o) + "\n";
        break;
      }
    }
  }
  if (c.window_scale[0])
    out += "  window scaling in effect: client shift " + std::to_string(*c.window_scale[0]) +
           ", server shift " + std::to_string(*c.window_scale[1]) + "\n";
  for (const auto& n : c.notes) out += "  note: " + n + "\n";

  // Columns: frame, time, direction, segment, client state, server state, notes.
  std::vector<std::string> labels;
  std::size_t label_w = 7;
  for (const auto& row : c.segments) {
    labels.push_back(segment_label(ladder_segment(c, row)));
    label_w = std::max(label_w, columns(labels.back()));
  }
  label_w = std::min<std::size_t>(label_w, 72);
  const std::size_t state_w = 13;
  out += "\n" + pad_left("frame", 7) + "  " + pad_left("time(ms)", 10) + "    " +
         pad("segment", label_w) + "  " + pad("client", state_w) + pad("server", state_w) +
         "notes\n";
  out += pad_left("", 7) + "  " + pad_left("", 10) + "    " + pad("", label_w) + "  " +
         pad(std::string(to_string(c.initial[0])), state_w) +
         pad(std::string(to_string(c.initial[1])), state_w) + "(initial)\n";
  State previous[2] = {c.initial[0], c.initial[1]};
  for (std::size_t i = 0; i < c.segments.size(); ++i) {
    const auto& row = c.segments[i];
    std::string dir = row.from == 0 ? right : left;
    std::string states;
    for (int side = 0; side < 2; ++side) {
      std::string name(to_string(row.state_after[side]));
      bool changed = row.state_after[side] != previous[side];
      for (const auto& ch : row.changes)
        if (ch.side == side) changed = true;
      std::string cell = pad(name, state_w);
      states += changed ? paint(cell, "1;36") : cell;
      previous[side] = row.state_after[side];
    }
    std::string notes;
    for (const auto& n : row.notes) notes += (notes.empty() ? "" : "; ") + n;
    for (const auto& v : row.violations)
      notes += (notes.empty() ? "" : "; ") + paint("RFC 9293: " + v, "1;31");
    const char* color = row.wire.tcp.has(wire::tcp_flag::RST)          ? "31"
                        : row.retransmission || row.lost_after_capture ? "35"
                                                                       : "32";
    out += pad_left(std::to_string(row.wire.frame), 7) + "  " +
           pad_left(time_ms(row.wire.time_us - c.start_us()), 10) + "  " + dir + " " +
           paint(pad(labels[i], label_w), color) + "  " + states + notes + "\n";
  }
  std::string arrow = options.unicode ? " → " : " -> ";
  out += "\n  client " + c.ends[0].to_string() + ": " + path_of(c, 0, arrow) + "\n";
  out += "  server " + c.ends[1].to_string() + ": " + path_of(c, 1, arrow) + "\n";
  out += "  final: client " + std::string(to_string(c.final_state[0])) + ", server " +
         std::string(to_string(c.final_state[1])) + "\n";
  const auto& n = c.counts;
  out += "  " + plural(n.retransmissions, "retransmission", "retransmissions") + ", " +
         std::to_string(n.out_of_order) + " out of order, " +
         plural(n.duplicate_acks, "duplicate ACK", "duplicate ACKs") + ", " +
         plural(n.zero_windows, "zero window", "zero windows") + ", " +
         plural(n.resets, "reset", "resets") + ", " +
         plural(n.violations, "RFC 9293 inconsistency", "RFC 9293 inconsistencies") + "\n";
  return out;
}

nlohmann::ordered_json to_json(const DecodedConnection& c) {
  using Json = nlohmann::ordered_json;
  auto state = [](State s) { return std::string(to_string(s)); };
  auto ms = [](std::int64_t us) { return static_cast<double>(us) / 1000.0; };
  const char* names[2] = {"client", "server"};
  Json out;
  out["connection"] = c.number;
  out["client"] = c.ends[0].to_string();
  out["server"] = c.ends[1].to_string();
  out["mid_stream"] = c.mid_stream;
  out["roles_guessed"] = c.roles_guessed;
  out["initial"] = {{"client", state(c.initial[0])}, {"server", state(c.initial[1])}};
  out["final"] = {{"client", state(c.final_state[0])}, {"server", state(c.final_state[1])}};
  out["notes"] = c.notes;
  Json segments = Json::array();
  for (const auto& row : c.segments) {
    Json s;
    s["frame"] = row.wire.frame;
    s["time_ms"] = ms(row.wire.time_us - c.start_us());
    s["from"] = names[row.from];
    s["flags"] = wire::flags_to_string(row.wire.tcp.flags);
    s["seq"] = row.seq;
    if (row.has_ack) s["ack"] = row.ack;
    s["len"] = row.wire.payload_length;
    s["win"] = row.wire.tcp.window;
    if (row.scaled_window) s["scaled_win"] = *row.scaled_window;
    s["options"] = options_label(row.options);
    s["retransmission"] = row.retransmission;
    s["out_of_order"] = row.out_of_order;
    s["duplicate_ack"] = row.duplicate_ack;
    s["zero_window"] = row.zero_window;
    s["notes"] = row.notes;
    s["violations"] = row.violations;
    Json changes = Json::array();
    for (const auto& ch : row.changes) {
      Json change;
      change["end"] = names[ch.side];
      change["from"] = state(ch.from);
      change["to"] = state(ch.to);
      change["cause"] = std::string(ch.cause);
      changes.push_back(std::move(change));
    }
    s["changes"] = std::move(changes);
    s["client_state"] = state(row.state_after[0]);
    s["server_state"] = state(row.state_after[1]);
    segments.push_back(std::move(s));
  }
  out["segments"] = std::move(segments);
  const auto& n = c.counts;
  Json counts;
  counts["retransmissions"] = n.retransmissions;
  counts["out_of_order"] = n.out_of_order;
  counts["duplicate_acks"] = n.duplicate_acks;
  counts["zero_windows"] = n.zero_windows;
  counts["resets"] = n.resets;
  counts["violations"] = n.violations;
  out["counts"] = std::move(counts);
  return out;
}

}  // namespace synack::decode
