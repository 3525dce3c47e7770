// SPDX-License-Identifier: MIT
#include "observe/ladder_svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <optional>
#include <vector>

namespace synack::observe {

namespace {

constexpr const char* kSynColour = "#1b8a2f";
constexpr const char* kFinColour = "#1f5fbf";
constexpr const char* kRstColour = "#c62828";
constexpr const char* kDataColour = "#222222";
constexpr const char* kLostColour = "#e00000";
constexpr const char* kMutedColour = "#555555";
constexpr const char* kTimelineColour = "#444444";
constexpr const char* kFont = "DejaVu Sans, Verdana, Arial, sans-serif";
// A white outline drawn under text, so lines that pass beneath a label do not cut it.
constexpr const char* kHalo =
    " stroke=\"#ffffff\" stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\"";

// Advance widths of DejaVu Sans (in em), a little generous: the layout only needs to know
// that a label fits, and narrower fonts (Verdana, Arial) are then narrower still.
double char_em(unsigned char c) {
  if (c == ' ' || c == ',' || c == '.' || c == ':' || c == ';' || c == '\'') return 0.33;
  if (c == '=' || c == '<' || c == '>' || c == '+' || c == '~') return 0.84;
  if (c == '(' || c == ')' || c == '/' || c == '-' || c == '[' || c == ']') return 0.40;
  if (c >= '0' && c <= '9') return 0.64;
  if (c == 'I' || c == 'J') return 0.32;
  if (c == 'M') return 0.87;
  if (c == 'W') return 1.0;
  if (c >= 'A' && c <= 'Z') return 0.72;
  if (c == 'i' || c == 'l' || c == 'j') return 0.29;
  if (c == 'f' || c == 't') return 0.40;
  if (c == 'r') return 0.42;
  if (c == 'm') return 0.98;
  if (c == 'w') return 0.83;
  if (c >= 'a' && c <= 'z') return 0.62;
  return 0.7;
}

// Estimated width in pixels of `s` at font size `size` (UTF-8; non-ASCII counts 1 em).
double text_width(std::string_view s, double size, bool bold = false) {
  double em = 0;
  for (unsigned char c : s) {
    if (c < 0x80)
      em += char_em(c);
    else if ((c & 0xC0) != 0x80)
      em += 1.0;  // first byte of a multi-byte code point
  }
  return em * size * (bold ? 1.1 : 1.0);
}

// Pixels with at most one decimal, trailing zeros dropped.
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  std::string s = buf;
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  if (s == "-0") s = "0";
  return s;
}

// Milliseconds with up to three decimals: "0", "1", "1000", "1.5".
std::string format_ms(std::int64_t us) {
  char buf[40];
  if (us % 1000 == 0) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(us / 1000));
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(us) / 1000.0);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  return s;
}

// A gap of idle time as people say it: "199 ms", "1 s", "60 s", "1.5 s".
std::string format_gap(Duration d) {
  double ms = static_cast<double>(to_us(d)) / 1000.0;
  char buf[40];
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%.3g ms", ms);
  } else if (ms < 120000) {
    std::snprintf(buf, sizeof buf, "%.3g s", ms / 1000.0);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g min", ms / 60000.0);
  }
  return buf;
}

const char* segment_colour(const LadderSegment& s) {
  if (s.flags & wire::tcp_flag::RST) return kRstColour;
  if (s.flags & wire::tcp_flag::SYN) return kSynColour;
  if (s.flags & wire::tcp_flag::FIN) return kFinColour;
  return kDataColour;
}

const char* segment_class(const LadderSegment& s) {
  if (s.flags & wire::tcp_flag::RST) return "rst";
  if (s.flags & wire::tcp_flag::SYN) return "syn";
  if (s.flags & wire::tcp_flag::FIN) return "fin";
  return "data";
}

bool dropped(const LadderSegment& s) {
  return s.fate == SegmentFate::Lost || s.fate == SegmentFate::Corrupted;
}

// The two lines written along an arrow: what the segment is, then what it advertises.
struct ArrowLabel {
  std::string main;    // "SYN,ACK seq=0 ack=1 len=14"
  std::string aside;   // "retransmission", "duplicate", ... (italic, after main)
  std::string detail;  // "win=65535 <mss 1460,ws 3,sackOK,ts>"
};

ArrowLabel arrow_label(const LadderSegment& s, bool show_options) {
  ArrowLabel l;
  l.main = wire::flags_to_string(s.flags);
  if (l.main.empty()) l.main = "(no flags)";
  l.main += " seq=" + std::to_string(s.seq);
  if (s.has_ack) l.main += " ack=" + std::to_string(s.ack);
  if (s.length > 0) l.main += " len=" + std::to_string(s.length);
  if (s.retransmission) l.aside = "retransmission";
  if (!s.note.empty()) l.aside += (l.aside.empty() ? "" : ", ") + s.note;
  l.detail = "win=" + std::to_string(s.window);
  if (show_options) {
    std::string opts = options_label(s.options);
    if (!opts.empty()) l.detail += " <" + opts + ">";
  }
  return l;
}

// Splits `text` into lines of at most `width` pixels at font `size`, at spaces.
std::vector<std::string> wrap(const std::string& text, double width, double size, bool bold) {
  std::vector<std::string> lines;
  std::string line;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t j = text.find(' ', i);
    if (j == std::string::npos) j = text.size();
    std::string word = text.substr(i, j - i);
    std::string candidate = line.empty() ? word : line + " " + word;
    if (!line.empty() && text_width(candidate, size, bold) > width) {
      lines.push_back(line);
      line = word;
    } else {
      line = candidate;
    }
    i = j + 1;
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

// ---------------------------------------------------------------------------------------
// Vertical layout: points (sends, arrivals, state changes, notes) placed on rows.

enum class PointKind : std::uint8_t { Send, Arrive, LostEnd, State, Note };

struct Point {
  Instant time;
  std::size_t key = 0;  // order among points at the same instant (see build_points)
  PointKind kind = PointKind::Send;
  int side = -1;
  std::size_t event = 0;
};

struct Row {
  Instant time;
  double y = 0;
  bool exclusive = false;  // a note: nothing else shares its row
  bool real = false;       // holds more than a lost segment's imagined arrival
  bool has_endpoint[2] = {false, false};
  PointKind endpoint_kind[2] = {PointKind::Send, PointKind::Send};
  bool has_state[2] = {false, false};
};

int side_of(const LadderEvent& e) {
  switch (e.kind) {
    case LadderEvent::Kind::Segment:
      return e.segment.from;
    case LadderEvent::Kind::State:
      return e.state.side;
    case LadderEvent::Kind::Note:
      return e.note_side;
  }
  return -1;
}

// The typical one-way delay: the median over segments with a known arrival, else zero.
Duration typical_delay(const Ladder& ladder) {
  std::vector<std::int64_t> delays;
  for (const auto& e : ladder.events)
    if (e.kind == LadderEvent::Kind::Segment && e.segment.arrived && !dropped(e.segment))
      delays.push_back(std::max<std::int64_t>(0, to_us(*e.segment.arrived - e.segment.sent)));
  if (delays.empty()) return Duration{0};
  std::nth_element(delays.begin(), delays.begin() + delays.size() / 2, delays.end());
  return Duration{delays[delays.size() / 2]};
}

// The flags a state change's cause says arrived: "rcv SYN,ACK / snd ACK" -> SYN|ACK, "rcv ACK
// of FIN" -> ACK; 0 when the change was not caused by a segment ("CLOSE / snd FIN").
std::uint8_t flags_received(std::string_view cause) {
  if (cause.rfind("rcv ", 0) != 0) return 0;
  std::string_view what = cause.substr(4);
  what = what.substr(0, what.find_first_of(" /"));
  std::uint8_t flags = 0;
  while (!what.empty()) {
    std::string_view name = what.substr(0, what.find(','));
    if (name == "SYN")
      flags |= wire::tcp_flag::SYN;
    else if (name == "ACK")
      flags |= wire::tcp_flag::ACK;
    else if (name == "FIN")
      flags |= wire::tcp_flag::FIN;
    else if (name == "RST")
      flags |= wire::tcp_flag::RST;
    else
      return 0;  // "rcv ICMP unreachable": no segment to point at
    if (name.size() == what.size()) break;
    what.remove_prefix(name.size() + 1);
  }
  return flags;
}

// Every point in drawing order. Events keep the ladder's order (key 2j+1); an arrival gets key
// 2j (just before event j) or 2j+2 (just after it). The ladder does not say which arrival
// caused what, so: a state change whose cause is "rcv <flags>" follows the first arrival at
// that end and instant that carries those flags; other arrivals follow the arrival before them
// (or come before everything the end does at that instant).
std::vector<Point> build_points(const Ladder& ladder, Duration delay) {
  const auto& events = ladder.events;
  struct Arrival {
    std::size_t event;
    Instant at;
    int receiver;
    bool lost;
  };
  std::vector<Point> points;
  std::vector<Arrival> arrivals;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    switch (e.kind) {
      case LadderEvent::Kind::State:
        points.push_back({e.time, 2 * i + 1, PointKind::State, e.state.side, i});
        break;
      case LadderEvent::Kind::Note:
        points.push_back({e.time, 2 * i + 1, PointKind::Note, e.note_side, i});
        break;
      case LadderEvent::Kind::Segment: {
        const auto& s = e.segment;
        points.push_back({s.sent, 2 * i + 1, PointKind::Send, s.from, i});
        bool lost = dropped(s);
        Instant at = s.arrived && !lost ? *s.arrived : s.sent + delay;
        arrivals.push_back({i, std::max(at, s.sent), 1 - s.from, lost});
        break;
      }
    }
  }
  std::vector<bool> done(arrivals.size(), false);
  for (std::size_t a = 0; a < arrivals.size(); ++a) {
    if (done[a]) continue;
    const Instant at = arrivals[a].at;
    const int receiver = arrivals[a].receiver;
    // This end's arrivals at this instant, in the order they were sent, and its events then.
    std::vector<std::size_t> group;
    for (std::size_t b = a; b < arrivals.size(); ++b)
      if (!done[b] && arrivals[b].at == at && arrivals[b].receiver == receiver) {
        group.push_back(b);
        done[b] = true;
      }
    std::vector<std::size_t> local;
    for (std::size_t j = 0; j < events.size(); ++j)
      if (events[j].time == at && side_of(events[j]) == receiver) local.push_back(j);
    std::size_t after_all = events.size();
    for (std::size_t j = 0; j < events.size(); ++j)
      if (events[j].time > at) {
        after_all = j;
        break;
      }
    std::vector<std::optional<std::size_t>> key(group.size());
    std::size_t next = 0;  // arrivals before `next` are spoken for
    for (std::size_t j : local) {
      if (events[j].kind != LadderEvent::Kind::State) continue;
      std::uint8_t want = flags_received(events[j].state.cause);
      if (!want) continue;
      // "rcv ACK of FIN/SYN": of several plain ACKs arriving together, the last acknowledges
      // the most; any other cause: the first arrival with its flags.
      const std::uint8_t control = wire::tcp_flag::SYN | wire::tcp_flag::FIN | wire::tcp_flag::RST;
      std::optional<std::size_t> match;
      for (std::size_t g = next; g < group.size(); ++g) {
        const auto& s = events[arrivals[group[g]].event].segment;
        if (arrivals[group[g]].lost) continue;
        bool fits = (s.flags & want) == want;
        if (want == wire::tcp_flag::ACK) {
          if (s.flags & control) {
            if (!match && fits) match = g;
            break;
          }
          if (fits) match = g;
        } else if (fits) {
          match = g;
          break;
        }
      }
      if (match) {
        key[*match] = 2 * j;
        next = *match + 1;
      }
    }
    std::size_t previous = local.empty() ? 2 * after_all : 2 * local.front();
    for (std::size_t g = 0; g < group.size(); ++g) {
      if (key[g]) {
        previous = *key[g] + 2;  // the next one comes after the event this one caused
      } else {
        key[g] = previous;
      }
      const Arrival& arrival = arrivals[group[g]];
      std::size_t k = *key[g];
      // Sent and arrived at the same instant (no delay known): after its own send.
      if (at == events[arrival.event].segment.sent) k = std::max(k, 2 * arrival.event + 2);
      points.push_back(
          {at, k, arrival.lost ? PointKind::LostEnd : PointKind::Arrive, receiver, arrival.event});
    }
  }
  std::stable_sort(points.begin(), points.end(), [](const Point& a, const Point& b) {
    if (a.time != b.time) return a.time < b.time;
    return a.key < b.key;
  });
  return points;
}

// Whether `p` may be drawn on `row` (the last row so far) rather than on a new one below.
bool can_share(const Row& row, const Point& p) {
  if (row.exclusive) return false;
  switch (p.kind) {
    case PointKind::Note:
      return false;
    case PointKind::LostEnd:
      return true;
    case PointKind::Send:
      return !row.has_endpoint[p.side];
    // An arrival after a state change drawn on this row would look like its cause.
    case PointKind::Arrive:
      return !row.has_endpoint[p.side] && !row.has_state[p.side];
    // A state change may sit beside the arrival that caused it, or before a send it causes;
    // not beside a send that went out before it.
    case PointKind::State:
      return !row.has_state[p.side] &&
             !(row.has_endpoint[p.side] && row.endpoint_kind[p.side] == PointKind::Send);
  }
  return false;
}

void place(Row& row, const Point& p) {
  switch (p.kind) {
    case PointKind::Note:
      row.exclusive = true;
      row.real = true;
      break;
    case PointKind::LostEnd:
      break;
    case PointKind::Send:
    case PointKind::Arrive:
      row.has_endpoint[p.side] = true;
      row.endpoint_kind[p.side] = p.kind;
      row.real = true;
      break;
    case PointKind::State:
      row.has_state[p.side] = true;
      row.real = true;
      break;
  }
}

struct Break {
  double top = 0, bottom = 0;
  Duration idle{0};
};

struct Layout {
  std::vector<Row> rows;
  std::vector<Break> breaks;
  // Per ladder event: the row of its point (sends and states) and of its arrival.
  std::vector<std::size_t> row_of, end_row_of;
};

Layout lay_out(const Ladder& ladder, const SvgOptions& options, double first_y) {
  Layout layout;
  Duration delay = typical_delay(ladder);
  std::vector<Point> points = build_points(ladder, delay);
  layout.row_of.assign(ladder.events.size(), 0);
  layout.end_row_of.assign(ladder.events.size(), 0);
  // Each point goes on the first row of its instant that it can share, but never above an
  // earlier point of the same end (or, for an arrival, above its own send): the two ends
  // act independently within an instant, so their rows interleave.
  std::size_t instant_start = 0;
  std::size_t last_row[2] = {0, 0};
  for (const Point& p : points) {
    auto& rows = layout.rows;
    if (rows.empty() || rows.back().time != p.time) instant_start = rows.size();
    std::size_t first = instant_start;
    bool sided = p.side == 0 || p.side == 1;
    if (sided && p.kind != PointKind::LostEnd) first = std::max(first, last_row[p.side]);
    if (p.kind == PointKind::Arrive || p.kind == PointKind::LostEnd)
      first = std::max(first, layout.row_of[p.event]);
    std::size_t r = first;
    if (p.kind == PointKind::Note) r = rows.size();  // a note has a row of its own, below all
    while (r < rows.size() && !can_share(rows[r], p)) ++r;
    if (r == rows.size()) {
      Row row;
      row.time = p.time;
      rows.push_back(row);
    }
    place(rows[r], p);
    if (p.kind == PointKind::Note) {
      last_row[0] = last_row[1] = r;
    } else if (sided && p.kind != PointKind::LostEnd) {
      last_row[p.side] = r;
    }
    if (p.kind == PointKind::Arrive || p.kind == PointKind::LostEnd)
      layout.end_row_of[p.event] = r;
    else
      layout.row_of[p.event] = r;
  }
  // The time unit the axis is scaled by: the typical delay, else the typical step.
  Duration unit = delay;
  if (unit <= Duration{0}) {
    std::vector<std::int64_t> steps;
    for (std::size_t r = 1; r < layout.rows.size(); ++r)
      if (layout.rows[r].time > layout.rows[r - 1].time)
        steps.push_back(to_us(layout.rows[r].time - layout.rows[r - 1].time));
    if (!steps.empty()) {
      std::nth_element(steps.begin(), steps.begin() + steps.size() / 2, steps.end());
      unit = Duration{steps[steps.size() / 2]};
    } else {
      unit = Duration{1000};
    }
  }
  const double gap = options.row_gap;
  const double band = std::max(30.0, gap);  // height of a break's "… 60 s …" band
  double y = first_y;
  std::optional<Instant> last_real;
  for (std::size_t r = 0; r < layout.rows.size(); ++r) {
    Row& row = layout.rows[r];
    if (r > 0) {
      Duration dt = row.time - layout.rows[r - 1].time;
      double ratio = static_cast<double>(to_us(dt)) / static_cast<double>(to_us(unit));
      if (ratio > 8) {
        // A long idle stretch: drawn as a break, labelled with the time since the last
        // thing that happened (not since a lost segment's imagined arrival).
        Break b;
        b.top = y + 16;
        b.bottom = b.top + band;
        b.idle = row.time - last_real.value_or(layout.rows[r - 1].time);
        layout.breaks.push_back(b);
        y = b.bottom + gap;
      } else {
        y += gap + (dt > Duration{0} ? gap * 0.35 * std::min(ratio, 3.0) : 0.0);
      }
    }
    row.y = y;
    if (row.real) last_real = row.time;
  }
  return layout;
}

// ---------------------------------------------------------------------------------------
// Drawing.

class Svg {
 public:
  std::string out;
  void raw(std::string_view s) { out += s; }
  // <text> with a halo; `attrs` go on the element as they are.
  void text(double x, double y, std::string_view s, std::string_view attrs) {
    out += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\"" + std::string(attrs) + kHalo + ">" +
           xml_escape(s) + "</text>\n";
  }
  void line(double x1, double y1, double x2, double y2, std::string_view attrs) {
    out += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" +
           num(y2) + "\"" + std::string(attrs) + "/>\n";
  }
};

std::string state_name(State s) { return std::string(to_string(s)); }

struct Geometry {
  double font = 11;
  double time_right = 0;  // right edge of the time labels
  double x[2] = {0, 0};   // the timelines
  double state_col = 0;   // width reserved for state boxes beside each timeline
  double width = 0;
  double label_budget = 0;  // length available to an arrow's label
};

void draw_state_box(Svg& svg, const Geometry& g, int side, double y, State state,
                    std::string_view cause, bool dot) {
  std::string name = state_name(state);
  double w = text_width(name, g.font, true) + 14;
  double h = g.font + 9;
  double x = side == 0 ? g.x[0] - 9 - w : g.x[1] + 9;
  const char* fill = state == State::Established ? "#e9f6ec"
                     : state == State::Closed    ? "#f1f1f1"
                                                 : "#eef2fb";
  svg.raw("<g class=\"state\" data-side=\"" + std::to_string(side) + "\" data-state=\"" + name +
          "\">");
  if (!cause.empty())
    svg.raw("<title>" + xml_escape(name + " — " + std::string(cause)) + "</title>");
  svg.raw("<rect x=\"" + num(x) + "\" y=\"" + num(y - h / 2) + "\" width=\"" + num(w) +
          "\" height=\"" + num(h) + "\" rx=\"6\" fill=\"" + fill +
          "\" stroke=\"#44506a\" stroke-width=\"1\"/>");
  svg.raw("<text x=\"" + num(x + w / 2) + "\" y=\"" + num(y + g.font * 0.36) +
          "\" text-anchor=\"middle\" font-weight=\"bold\" fill=\"#1d2433\">" + name + "</text>");
  if (dot)
    svg.raw("<circle cx=\"" + num(g.x[side]) + "\" cy=\"" + num(y) +
            "\" r=\"3\" fill=\"#44506a\"/>");
  svg.raw("</g>\n");
}

void draw_segment(Svg& svg, const Geometry& g, const LadderSegment& s, double y_sent, double y_end,
                  const SvgOptions& options) {
  const int from = s.from == 0 ? 0 : 1;
  const double xs = g.x[from], xe = g.x[1 - from];
  const double dir = from == 0 ? 1.0 : -1.0;
  const bool lost = dropped(s);
  const char* colour = segment_colour(s);
  double dx = xe - xs, dy = y_end - y_sent;
  double length = std::hypot(dx, dy);
  double ux = dx / length, uy = dy / length;
  // Where the line stops: the far timeline (minus the head), or halfway for a lost segment.
  double tx = lost ? xs + dx / 2 : xe, ty = lost ? y_sent + dy / 2 : y_end;
  ArrowLabel label = arrow_label(s, options.show_options);

  svg.raw(std::string("<g class=\"segment ") + segment_class(s) + (lost ? " lost" : "") +
          (s.retransmission ? " retransmission" : "") + "\" data-mid=\"" + num(xs + dx / 2) + "," +
          num(y_sent + dy / 2) + "\">");
  std::string tip = segment_label(s) + " — sent " + format_ms(to_us(s.sent)) + " ms";
  if (lost)
    tip += s.fate == SegmentFate::Corrupted ? ", corrupted on the way" : ", lost on the way";
  else if (s.arrived)
    tip += ", arrived " + format_ms(to_us(*s.arrived)) + " ms";
  if (s.retransmission) tip += " (retransmission)";
  svg.raw("<title>" + xml_escape(tip) + "</title>\n");

  std::string stroke = std::string(" stroke=\"") + colour + "\" stroke-width=\"1.6\"";
  if (s.retransmission) stroke += " stroke-dasharray=\"7 4\"";
  const double head = 9, half = 4;
  if (lost) {
    svg.line(xs, y_sent, tx, ty, stroke);
    double m = 5.5;
    svg.raw("<path class=\"lost-mark\" data-at=\"" + num(tx) + "," + num(ty) + "\" d=\"M" +
            num(tx - m) + " " + num(ty - m) + "L" + num(tx + m) + " " + num(ty + m) + "M" +
            num(tx - m) + " " + num(ty + m) + "L" + num(tx + m) + " " + num(ty - m) +
            "\" stroke=\"" + kLostColour + "\" stroke-width=\"2.6\" stroke-linecap=\"round\"/>");
    svg.text(
        tx, ty + g.font + 8, s.fate == SegmentFate::Corrupted ? "corrupted" : "lost",
        std::string(" text-anchor=\"middle\" font-weight=\"bold\" fill=\"") + kLostColour + "\"");
  } else {
    double bx = tx - ux * head, by = ty - uy * head;
    svg.line(xs, y_sent, bx, by, stroke);
    svg.raw("<path d=\"M" + num(tx) + " " + num(ty) + "L" + num(bx - uy * half) + " " +
            num(by + ux * half) + "L" + num(bx + uy * half) + " " + num(by - ux * half) +
            "Z\" fill=\"" + colour + "\"/>\n");
  }

  // The label runs along the arrow from near the sender, above it, upright, and stays on
  // the sender's half so that crossing arrows keep their labels apart.
  double inset = 14;
  double px = xs + dir * inset, py = y_sent + uy / std::abs(ux) * inset;
  double angle = std::atan2(dir * dy, std::abs(dx)) * 180.0 / std::numbers::pi;
  const char* anchor = from == 0 ? "start" : "end";
  double small = g.font * 0.9;
  double main_w = text_width(label.main, g.font) +
                  (label.aside.empty() ? 0 : text_width(" " + label.aside, g.font));
  double detail_w = text_width(label.detail, small);
  auto fit = [&](double w) {
    // A label longer than the room it has (a width set by hand) is squeezed to fit.
    return w > g.label_budget
               ? " textLength=\"" + num(g.label_budget) + "\" lengthAdjust=\"spacingAndGlyphs\""
               : std::string();
  };
  svg.raw("<g transform=\"translate(" + num(px) + " " + num(py) + ") rotate(" + num(angle) +
          ")\" text-anchor=\"" + anchor + "\">");
  svg.raw("<text y=\"" + num(-(small + 6)) + "\" fill=\"" + colour + "\"" + kHalo + fit(main_w) +
          ">" + xml_escape(label.main));
  if (!label.aside.empty())
    svg.raw(" <tspan font-style=\"italic\">" + xml_escape(label.aside) + "</tspan>");
  svg.raw("</text>");
  svg.raw("<text y=\"-4\" font-size=\"" + num(small) + "\" fill=\"" + kMutedColour + "\"" + kHalo +
          fit(detail_w) + ">" + xml_escape(label.detail) + "</text>");
  svg.raw("</g></g>\n");
}

// The key under the drawing; returns its width.
double draw_legend(Svg* svg, double x, double y, double font) {
  struct Item {
    const char* colour;
    const char* dash;
    const char* text;
  };
  static const Item kItems[] = {
      {kSynColour, nullptr, "SYN"},           {kFinColour, nullptr, "FIN"},
      {kRstColour, nullptr, "RST"},           {kDataColour, nullptr, "data, ACK"},
      {kDataColour, "7 4", "retransmission"},
  };
  double start = x;
  for (const auto& item : kItems) {
    if (svg) {
      std::string attrs = std::string(" stroke=\"") + item.colour + "\" stroke-width=\"1.6\"";
      if (item.dash) attrs += std::string(" stroke-dasharray=\"") + item.dash + "\"";
      svg->line(x, y - 4, x + 26, y - 4, attrs);
      svg->raw("<text x=\"" + num(x + 32) + "\" y=\"" + num(y) + "\">" + item.text + "</text>\n");
    }
    x += 32 + text_width(item.text, font) + 18;
  }
  if (svg) {
    double m = 4.5;
    svg->raw("<path d=\"M" + num(x + 8 - m) + " " + num(y - 4 - m) + "L" + num(x + 8 + m) + " " +
             num(y - 4 + m) + "M" + num(x + 8 - m) + " " + num(y - 4 + m) + "L" + num(x + 8 + m) +
             " " + num(y - 4 - m) + "\" stroke=\"" + kLostColour +
             "\" stroke-width=\"2.2\" stroke-linecap=\"round\"/>");
    svg->raw("<text x=\"" + num(x + 20) + "\" y=\"" + num(y) + "\">lost</text>\n");
  }
  x += 20 + text_width("lost", font) + 18;
  const char* box_text = "state (RFC 9293)";
  if (svg) {
    svg->raw("<rect x=\"" + num(x) + "\" y=\"" + num(y - 11) + "\" width=\"26\" height=\"14\" " +
             "rx=\"5\" fill=\"#eef2fb\" stroke=\"#44506a\"/>");
    svg->raw("<text x=\"" + num(x + 32) + "\" y=\"" + num(y) + "\">" + box_text + "</text>\n");
  }
  x += 32 + text_width(box_text, font);
  return x - start;
}

}  // namespace

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        // Control characters are not allowed in XML 1.0; a capture's note might hold one.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t')
          out += '?';
        else
          out += c;
    }
  }
  return out;
}

namespace {

// `heading`: whether the picture carries its own title (an HTML page puts it in <h1>).
std::string render_svg_impl(const Ladder& ladder, const SvgOptions& options, bool heading) {
  Geometry g;
  g.font = options.font_size > 4 ? options.font_size : 11;
  const double gap = std::max(20, options.row_gap);
  SvgOptions opts = options;
  opts.row_gap = static_cast<int>(gap);

  // Horizontal layout: time margin, state column, lane between the timelines, state column.
  double state_w = 0;
  auto widen_for = [&](State s) {
    state_w = std::max(state_w, text_width(state_name(s), g.font, true) + 14);
  };
  for (int side = 0; side < 2; ++side) {
    widen_for(ladder.initial[side]);
    widen_for(ladder.final_state[side]);
  }
  double widest_label = 0;
  for (const auto& e : ladder.events) {
    if (e.kind == LadderEvent::Kind::State) widen_for(e.state.to);
    if (e.kind != LadderEvent::Kind::Segment) continue;
    ArrowLabel l = arrow_label(e.segment, options.show_options);
    double main_w =
        text_width(l.main, g.font) + (l.aside.empty() ? 0 : text_width(" " + l.aside, g.font));
    widest_label = std::max({widest_label, main_w, text_width(l.detail, g.font * 0.9)});
  }
  g.state_col = std::max(90.0, state_w + 18);
  g.time_right = options.show_times ? 62 : 0;
  double name_font = g.font * 1.2;
  double name_half[2];
  for (int side = 0; side < 2; ++side)
    name_half[side] = text_width(ladder.names[side], name_font, true) / 2 + 10;
  g.x[0] = std::max(g.time_right + 8 + g.state_col, name_half[0]);
  double right_part = std::max(g.state_col + 10, name_half[1]);
  const double inset = 14, centre_gap = 34;  // label inset from the timeline; clear middle
  double legend_w = draw_legend(nullptr, 0, 0, g.font);
  double span;
  if (options.width > 0) {
    span = std::max(160.0, options.width - g.x[0] - right_part);
  } else {
    span = std::max(520.0, 2 * (widest_label + inset + centre_gap));
    double total = g.x[0] + span + right_part;
    double least = std::max(900.0, legend_w + 40);
    if (total < least) span += least - total;
  }
  g.x[1] = g.x[0] + span;
  g.width = options.width > 0 ? options.width : g.x[1] + right_part;
  g.label_budget = span / 2 - inset - centre_gap;

  // Vertical layout: title, names, initial states, rows, final states, legend.
  std::string title = options.title.empty() ? ladder.title : options.title;
  double title_font = g.font * 1.35;
  std::vector<std::string> title_lines;
  if (heading) title_lines = wrap(title, g.width - 32, title_font, true);
  double y = 14;
  Svg svg;
  std::string body;
  double title_y = y + title_font;
  y += title_lines.size() * (title_font * 1.35) + (title_lines.empty() ? 0 : 12);
  double names_y = y + name_font;
  double timeline_top = names_y + 8;
  double initial_y = timeline_top + g.font + 6;
  Layout layout = lay_out(ladder, opts, initial_y + gap);
  double last_y = layout.rows.empty() ? initial_y : layout.rows.back().y;
  bool final_box[2];
  for (int side = 0; side < 2; ++side) {
    State shown = ladder.initial[side];
    for (const auto& e : ladder.events)
      if (e.kind == LadderEvent::Kind::State && e.state.side == side) shown = e.state.to;
    final_box[side] = shown != ladder.final_state[side];
  }
  double final_y = last_y + gap;
  double timeline_bottom = final_box[0] || final_box[1] ? final_y : last_y + gap * 0.6;
  double legend_y = final_y + 22 + g.font * 1.6;
  double height = options.legend ? legend_y + 16 : final_y + 24;

  svg.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  svg.raw("<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" +
          num(std::ceil(g.width)) + "\" height=\"" + num(std::ceil(height)) + "\" viewBox=\"0 0 " +
          num(std::ceil(g.width)) + " " + num(std::ceil(height)) + "\" font-family=\"" + kFont +
          "\" font-size=\"" + num(g.font) + "\">\n");
  svg.raw("<title>" + xml_escape(title.empty() ? "TCP ladder diagram" : title) + "</title>\n");
  svg.raw("<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");

  for (std::size_t i = 0; i < title_lines.size(); ++i)
    svg.raw("<text x=\"16\" y=\"" + num(title_y + i * title_font * 1.35) + "\" font-size=\"" +
            num(title_font) + "\" font-weight=\"bold\" fill=\"#1d2433\">" +
            xml_escape(title_lines[i]) + "</text>\n");
  for (int side = 0; side < 2; ++side)
    svg.raw("<text class=\"end-name\" x=\"" + num(g.x[side]) + "\" y=\"" + num(names_y) +
            "\" text-anchor=\"middle\" font-size=\"" + num(name_font) +
            "\" font-weight=\"bold\" fill=\"#1d2433\">" + xml_escape(ladder.names[side]) +
            "</text>\n");
  if (options.show_times)
    svg.raw("<text x=\"" + num(g.time_right) + "\" y=\"" + num(names_y) +
            "\" text-anchor=\"end\" fill=\"" + kMutedColour + "\">time (ms)</text>\n");

  // Timelines, interrupted by breaks.
  for (double x : g.x) {
    double from = timeline_top;
    for (const Break& b : layout.breaks) {
      svg.line(x, from, x, b.top,
               std::string(" stroke=\"") + kTimelineColour + "\" stroke-width=\"2\"");
      svg.line(x, b.top, x, b.bottom,
               std::string(" stroke=\"") + kTimelineColour +
                   "\" stroke-width=\"2\" stroke-dasharray=\"2 5\"");
      from = b.bottom;
    }
    svg.line(x, from, x, timeline_bottom,
             std::string(" stroke=\"") + kTimelineColour + "\" stroke-width=\"2\"");
  }
  for (const Break& b : layout.breaks) {
    double mid = (b.top + b.bottom) / 2;
    svg.raw("<g class=\"break\">");
    svg.line(g.x[0] + 6, b.top, g.x[1] - 6, b.top,
             " stroke=\"#bbbbbb\" stroke-width=\"1\" stroke-dasharray=\"3 4\"");
    svg.line(g.x[0] + 6, b.bottom, g.x[1] - 6, b.bottom,
             " stroke=\"#bbbbbb\" stroke-width=\"1\" stroke-dasharray=\"3 4\"");
    svg.text(
        (g.x[0] + g.x[1]) / 2, mid + g.font * 0.4, "… " + format_gap(b.idle) + " …",
        std::string(" text-anchor=\"middle\" font-style=\"italic\" fill=\"") + kMutedColour + "\"");
    svg.raw("</g>\n");
  }

  // Time labels, once per instant.
  if (options.show_times) {
    std::optional<Instant> labelled;
    for (const Row& row : layout.rows) {
      if (!row.real || (labelled && *labelled == row.time)) continue;
      labelled = row.time;
      svg.raw("<text class=\"time\" x=\"" + num(g.time_right) + "\" y=\"" +
              num(row.y + g.font * 0.36) + "\" text-anchor=\"end\" fill=\"" + kMutedColour + "\">" +
              format_ms(to_us(row.time)) + "</text>\n");
    }
  }

  for (int side = 0; side < 2; ++side)
    draw_state_box(svg, g, side, initial_y, ladder.initial[side], "", false);

  // Segments first, state boxes and notes over them.
  for (std::size_t i = 0; i < ladder.events.size(); ++i) {
    const auto& e = ladder.events[i];
    if (e.kind != LadderEvent::Kind::Segment) continue;
    draw_segment(svg, g, e.segment, layout.rows[layout.row_of[i]].y,
                 layout.rows[layout.end_row_of[i]].y, opts);
  }
  for (std::size_t i = 0; i < ladder.events.size(); ++i) {
    const auto& e = ladder.events[i];
    double row_y = layout.rows[layout.row_of[i]].y;
    if (e.kind == LadderEvent::Kind::State) {
      draw_state_box(svg, g, e.state.side == 0 ? 0 : 1, row_y, e.state.to, e.state.cause, true);
    } else if (e.kind == LadderEvent::Kind::Note) {
      double x = e.note_side == 0   ? g.x[0] + inset
                 : e.note_side == 1 ? g.x[1] - inset
                                    : (g.x[0] + g.x[1]) / 2;
      const char* anchor = e.note_side == 0 ? "start" : e.note_side == 1 ? "end" : "middle";
      svg.text(x, row_y + g.font * 0.36, e.note,
               std::string(" class=\"note\" text-anchor=\"") + anchor +
                   "\" font-style=\"italic\" fill=\"#6a4a00\"");
    }
  }
  // The final states, unless the last box on that timeline already says it.
  for (int side = 0; side < 2; ++side)
    if (final_box[side]) draw_state_box(svg, g, side, final_y, ladder.final_state[side], "", false);

  if (options.legend) {
    double lx = std::max(16.0, (g.width - legend_w) / 2);
    svg.raw("<g class=\"legend\" fill=\"#333333\">");
    draw_legend(&svg, lx, legend_y, g.font);
    svg.raw("</g>\n");
  }
  svg.raw("</svg>\n");
  return svg.out;
}

}  // namespace

std::string render_svg(const Ladder& ladder, const SvgOptions& options) {
  return render_svg_impl(ladder, options, true);
}

std::string render_html(const Ladder& ladder, const SvgOptions& options) {
  std::string title = options.title.empty() ? ladder.title : options.title;
  if (title.empty()) title = "TCP ladder diagram";
  SvgOptions inner = options;
  inner.legend = false;  // the page has its own, and its heading is the title
  std::string svg = render_svg_impl(ladder, inner, false);
  // Inline SVG in HTML takes no XML declaration.
  if (svg.rfind("<?xml", 0) == 0) svg.erase(0, svg.find('\n') + 1);
  TextRenderOptions text;
  text.unicode = true;
  text.color = false;
  text.width = 120;

  auto swatch = [](const char* colour, const char* style) {
    return std::string("<span class=\"swatch\" style=\"border-top:2px ") + style + " " + colour +
           "\"></span>";
  };
  std::string page;
  page += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n";
  page += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n";
  page += "<title>" + xml_escape(title) + " — synack</title>\n";
  page +=
      "<style>\n"
      "body { font-family: \"DejaVu Sans\", Verdana, Arial, sans-serif; color: #1d2433;"
      " background: #ffffff; margin: 24px auto; max-width: 1400px; padding: 0 16px; }\n"
      "h1 { font-size: 1.3em; margin: 0 0 0.4em; }\n"
      "p.ends { margin: 0 0 0.8em; color: #444444; }\n"
      "ul.legend { list-style: none; padding: 0; margin: 0 0 1em; display: flex;"
      " flex-wrap: wrap; gap: 6px 22px; font-size: 0.9em; }\n"
      "ul.legend li { display: flex; align-items: center; gap: 7px; }\n"
      ".swatch { display: inline-block; width: 28px; height: 0; }\n"
      ".box { display: inline-block; width: 24px; height: 12px; border: 1px solid #44506a;"
      " border-radius: 5px; background: #eef2fb; }\n"
      ".lost { color: #e00000; font-weight: bold; }\n"
      "figure { margin: 0; overflow-x: auto; }\n"
      "figure svg { max-width: 100%; height: auto; }\n"
      "details { margin-top: 1.2em; }\n"
      "pre { font-family: \"DejaVu Sans Mono\", monospace; font-size: 12px; line-height: 1.3;"
      " overflow-x: auto; }\n"
      "footer { margin-top: 1.5em; font-size: 0.85em; color: #666666; }\n"
      "</style>\n</head>\n<body>\n";
  page += "<h1>" + xml_escape(title) + "</h1>\n";
  page += "<p class=\"ends\">Left: <strong>" + xml_escape(ladder.names[0]) +
          "</strong> — right: <strong>" + xml_escape(ladder.names[1]) +
          "</strong>. Time runs down; long idle stretches are cut short and marked with "
          "their length.</p>\n";
  page += "<ul class=\"legend\">\n";
  page += "<li>" + swatch(kSynColour, "solid") + "SYN</li>\n";
  page += "<li>" + swatch(kFinColour, "solid") + "FIN</li>\n";
  page += "<li>" + swatch(kRstColour, "solid") + "RST</li>\n";
  page += "<li>" + swatch(kDataColour, "solid") + "data and ACKs</li>\n";
  page += "<li>" + swatch(kDataColour, "dashed") + "retransmission</li>\n";
  page += "<li><span class=\"lost\">✕</span>lost on the way</li>\n";
  page +=
      "<li><span class=\"box\"></span>state entered (RFC 9293 names; hover for the "
      "cause)</li>\n";
  page += "<li>seq and ack are relative to each end's initial sequence number</li>\n";
  page += "</ul>\n";
  page += "<figure>\n" + svg + "</figure>\n";
  page += "<details>\n<summary>The same ladder as text</summary>\n<pre>" +
          xml_escape(render_text(ladder, text)) + "</pre>\n</details>\n";
  page += "<footer>Drawn by synack, a user-space TCP/IP stack.</footer>\n";
  page += "</body>\n</html>\n";
  return page;
}

}  // namespace synack::observe
