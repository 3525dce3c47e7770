// SPDX-License-Identifier: MIT
#include "observe/state_diagram.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>

#include <nlohmann/json.hpp>

#include "tcp/transitions.hpp"

namespace synack::observe {

namespace {

using S = State;

// ---------------------------------------------------------------------------------------
// The graph.

// Node names: the states, and CLOSED twice as in the RFC's figure — where a connection
// starts (top) and where it ends once it was synchronized (bottom).
std::string node_id(State s) {
  std::string id(to_string(s));
  std::replace(id.begin(), id.end(), '-', '_');
  return id;
}
constexpr const char* kClosedEnd = "CLOSED_END";

std::string head_node(const DiagramEdge& e) {
  if (e.to != S::Closed) return node_id(e.to);
  bool from_synchronized = std::all_of(e.from.begin(), e.from.end(), is_synchronized);
  return from_synchronized ? kClosedEnd : node_id(S::Closed);
}

bool is_any_synchronized_edge(const DiagramEdge& e) { return e.from.size() > 1; }

const std::vector<State>& synchronized_states() {
  static const std::vector<State> kStates = {S::Established, S::FinWait1, S::FinWait2, S::CloseWait,
                                             S::Closing,     S::LastAck,  S::TimeWait};
  return kStates;
}

DiagramEdge edge(State from, State to, EdgeKind kind, std::vector<EdgeLine> lines) {
  DiagramEdge e;
  e.from = {from};
  e.to = to;
  e.kind = kind;
  e.lines = std::move(lines);
  // Lines take their edge's kind unless they say otherwise (an RST beside the figure's CLOSE).
  for (auto& l : e.lines)
    if (l.kind == EdgeKind::Figure5) l.kind = kind;
  return e;
}

EdgeLine line(std::string label, std::vector<std::string> also = {},
              EdgeKind kind = EdgeKind::Figure5) {
  EdgeLine l;
  l.kind = kind;
  l.causes.push_back(label);
  for (auto& c : also) l.causes.push_back(std::move(c));
  l.label = std::move(label);
  return l;
}

// HTML-like label text for Graphviz: & < > escaped.
std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else
      out += c;
  }
  return out;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

constexpr const char* kFigureColour = "#1d2433";
constexpr const char* kExtraColour = "#b03030";
constexpr const char* kObservedColour = "#7b3fa0";
constexpr const char* kUntakenColour = "#a8a8a8";

const char* kind_colour(EdgeKind k) {
  switch (k) {
    case EdgeKind::Figure5:
      return kFigureColour;
    case EdgeKind::Rfc3107:
      return kExtraColour;
    case EdgeKind::Observed:
      return kObservedColour;
  }
  return kFigureColour;
}

}  // namespace

std::uint64_t DiagramEdge::taken() const {
  std::uint64_t n = 0;
  for (const auto& l : lines) n += l.taken;
  return n;
}

Expected<TransitionCounts, std::string> read_transition_trace(std::istream& in) {
  TransitionCounts counts;
  std::string text;
  std::size_t number = 0;
  while (std::getline(in, text)) {
    ++number;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto fail = [&](const std::string& why) {
      return Unexpected{"line " + std::to_string(number) + ": " + why};
    };
    // Each line one JSON object (nlohmann-json; no exceptions: a bad line is an error value).
    auto object = nlohmann::json::parse(text, nullptr, false);
    if (object.is_discarded()) return fail("not JSON");
    if (!object.is_object()) return fail("not a JSON object");
    auto text_of = [&](const char* key) -> std::optional<std::string> {
      auto it = object.find(key);
      if (it == object.end() || !it->is_string()) return std::nullopt;
      return it->get<std::string>();
    };
    if (text_of("type") != "transition") continue;
    auto from = text_of("from"), to = text_of("to"), cause = text_of("cause");
    if (!from || !to || !cause)
      return fail("a transition needs \"from\", \"to\" and \"cause\" as strings");
    auto from_state = state_from_string(*from);
    auto to_state = state_from_string(*to);
    if (!from_state) return fail("no state named \"" + *from + "\"");
    if (!to_state) return fail("no state named \"" + *to + "\"");
    ++counts[TransitionKey{*from_state, *to_state, *cause}];
  }
  return counts;
}

StateDiagram rfc9293_state_diagram() {
  StateDiagram d;
  d.title = "TCP connection states — RFC 9293 §3.3.2, Figure 5";
  // The drawn rows of the transition table (tcp/transitions.hpp), in its order: one edge per
  // (from, to), one line per cause (a SameLine row adds its cause to the line before it), and
  // §3.10.7.4's RST from a synchronized state drawn once, "any synchronized state".
  auto kind_of = [](tcp::Drawn drawn) {
    return drawn == tcp::Drawn::Figure5 ? EdgeKind::Figure5 : EdgeKind::Rfc3107;
  };
  auto is_synchronized_rst = [](const tcp::Transition& t) {
    const auto& sync = synchronized_states();
    return t.to == S::Closed && t.cause == tcp::Cause::RcvRstDelete &&
           std::find(sync.begin(), sync.end(), t.from) != sync.end();
  };
  auto& e = d.edges;
  std::optional<EdgeLine> rst_line;
  for (const tcp::Transition& t : tcp::kTransitions) {
    if (t.drawn == tcp::Drawn::NotDrawn) continue;
    std::string text(t.text());
    if (is_synchronized_rst(t)) {
      if (!rst_line) rst_line = line(text, {}, kind_of(t.drawn));
      continue;
    }
    auto host = std::find_if(e.begin(), e.end(), [&](const DiagramEdge& x) {
      return x.from.size() == 1 && x.from[0] == t.from && x.to == t.to;
    });
    if (t.drawn == tcp::Drawn::SameLine && host != e.end()) {
      host->lines.back().causes.push_back(text);  // the table asserts the row before exists
      continue;
    }
    if (host == e.end()) {
      e.push_back(edge(t.from, t.to, kind_of(t.drawn), {line(text, {}, kind_of(t.drawn))}));
    } else {
      host->lines.push_back(line(text, {}, kind_of(t.drawn)));
    }
  }
  if (rst_line) {
    DiagramEdge rst;
    rst.from = synchronized_states();
    rst.to = S::Closed;
    rst.kind = rst_line->kind;
    rst.lines = {*rst_line};
    e.push_back(rst);
  }
  return d;
}

void count_transitions(StateDiagram& diagram, const TransitionCounts& counts) {
  diagram.counted = true;
  auto leaves = [](const DiagramEdge& e, State s) {
    return std::find(e.from.begin(), e.from.end(), s) != e.from.end();
  };
  for (const auto& [key, n] : counts) {
    diagram.transitions += n;
    // The edge and line that name this cause exactly.
    EdgeLine* found = nullptr;
    for (auto& e : diagram.edges) {
      if (e.to != key.to || !leaves(e, key.from)) continue;
      for (auto& l : e.lines)
        if (std::find(l.causes.begin(), l.causes.end(), key.cause) != l.causes.end()) found = &l;
      if (found) break;
    }
    if (!found) {
      // Else a new line on the edge between the same two states — the one leaving only this
      // state if there is one, else "any synchronized state" — or a new edge.
      DiagramEdge* host = nullptr;
      for (auto& e : diagram.edges)
        if (e.to == key.to && leaves(e, key.from) && (!host || e.from.size() < host->from.size()))
          host = &e;
      if (!host) {
        diagram.edges.push_back(edge(key.from, key.to, EdgeKind::Observed, {}));
        host = &diagram.edges.back();
      }
      host->lines.push_back(line(key.cause));
      found = &host->lines.back();
      found->kind = EdgeKind::Observed;
    }
    found->taken += n;
  }
}

std::string to_dot(const StateDiagram& diagram) {
  std::string out;
  out += "// RFC 9293 §3.3.2 Figure 5 and the transitions of §3.10.7; drawn by synack.\n";
  out += "digraph tcp_states {\n";
  out +=
      "  graph [fontname=\"DejaVu Sans\", fontsize=11, nodesep=0.5, ranksep=0.55,\n"
      "         compound=true, newrank=true, bgcolor=\"white\", pad=0.3, labelloc=t,\n"
      "         labeljust=c, fontcolor=\"" +
      std::string(kFigureColour) + "\"];\n";
  out +=
      "  node [shape=box, style=\"rounded,filled\", fontname=\"DejaVu Sans\", fontsize=12,\n"
      "        fillcolor=\"#eef2fb\", color=\"#44506a\", penwidth=1.3, margin=\"0.18,0.08\"];\n";
  out += "  edge [fontname=\"DejaVu Sans\", fontsize=9.5, arrowsize=0.7];\n";

  // Title and key. Graphviz places each differently coloured run by its own estimate of the
  // text's width, so the runs are kept apart by a few spaces rather than a separator.
  const std::string gap = "&#160;&#160;&#160;&#160;";
  auto coloured = [](const char* colour, const std::string& text) {
    return "<FONT COLOR=\"" + std::string(colour) + "\">" + text + "</FONT>";
  };
  std::string title = html_escape(diagram.title);
  std::string key = "black: RFC 9293 Figure 5" + gap +
                    coloured(kExtraColour, "red: the further transitions of §3.10.7");
  if (diagram.counted) {
    key += gap + coloured(kObservedColour, "purple: taken, not in the RFC") +
           "<BR/><B>×N</B>: taken N times in the trace (" + std::to_string(diagram.transitions) +
           " transitions)" + gap + coloured(kUntakenColour, "grey dashed: never taken");
  }
  out += "  label=<<FONT POINT-SIZE=\"15\"><B>" + title +
         "</B></FONT><BR/><FONT POINT-SIZE=\"10\">" + key + "</FONT><BR/> >;\n";

  // Which states the trace entered or left: the others are drawn faint.
  auto visited = [&](State s) {
    if (!diagram.counted || s == S::Closed) return true;
    for (const auto& e : diagram.edges)
      if (e.taken() > 0 &&
          (e.to == s || std::find(e.from.begin(), e.from.end(), s) != e.from.end())) {
        if (e.to == s) return true;
        // Leaving s counts only if this edge leaves s alone (not "any synchronized state").
        if (e.from.size() == 1) return true;
      }
    return false;
  };
  auto node = [&](const std::string& id, State s, const std::string& extra = "") {
    bool seen = visited(s);
    std::string o = "  " + id + " [label=<<B>" + std::string(to_string(s)) + "</B>>";
    if (!seen) o += ", fontcolor=\"#8a8a8a\", color=\"#b8b8b8\", fillcolor=\"#f6f6f6\"";
    if (s == S::Established && seen) o += ", fillcolor=\"#e3f4e7\"";
    if (s == S::Closed) o += ", fillcolor=\"#efefef\"";
    o += extra + "];\n";
    return o;
  };

  // The layout of the RFC's figure: top to bottom, the opening, ESTABLISHED, the closing.
  out += "  { rank=min; " + node(node_id(S::Closed), S::Closed) + "  }\n";
  out += "  " + std::string("{ rank=same; ") + node(node_id(S::Listen), S::Listen) + "  }\n";
  out += "  { rank=same; " + node(node_id(S::SynReceived), S::SynReceived) +
         node(node_id(S::SynSent), S::SynSent) + "  }\n";
  out += "  subgraph cluster_synchronized {\n";
  out +=
      "    label=\"synchronized states\"; labeljust=r; labelloc=b; fontsize=10;\n"
      "    fontcolor=\"#7a6a6a\"; style=\"rounded,dashed\"; color=\"#d8b0b0\"; margin=14;\n";
  out += "    { rank=same; " + node(node_id(S::Established), S::Established) + "    }\n";
  out += "    { rank=same; " + node(node_id(S::FinWait1), S::FinWait1) +
         node(node_id(S::CloseWait), S::CloseWait) + "    }\n";
  out += "    { rank=same; " + node(node_id(S::FinWait2), S::FinWait2) +
         node(node_id(S::Closing), S::Closing) + node(node_id(S::LastAck), S::LastAck) + "    }\n";
  out += "    { rank=same; " + node(node_id(S::TimeWait), S::TimeWait) + "    }\n";
  out += "  }\n";
  out += "  { rank=max; " + node(kClosedEnd, S::Closed) + "  }\n";
  // Keep the figure's left-to-right order within ranks.
  out += "  SYN_RECEIVED -> SYN_SENT [style=invis];\n";
  out += "  FIN_WAIT_1 -> CLOSE_WAIT [style=invis, minlen=3];\n";
  out += "  FIN_WAIT_2 -> CLOSING -> LAST_ACK [style=invis];\n";

  for (const auto& e : diagram.edges) {
    std::uint64_t taken = e.taken();
    bool grey = diagram.counted && taken == 0;
    const char* colour = grey ? kUntakenColour : kind_colour(e.kind);
    std::string label;
    for (std::size_t i = 0; i < e.lines.size(); ++i) {
      const auto& l = e.lines[i];
      if (i) label += "<BR/>";
      std::string text = html_escape(l.label);
      if (diagram.counted && l.taken > 0) text += " <B>×" + std::to_string(l.taken) + "</B>";
      if (diagram.counted && l.taken == 0 && !grey)
        text = "<FONT COLOR=\"" + std::string(kUntakenColour) + "\">" + text + "</FONT>";
      else if (l.kind != e.kind && !grey)
        text = "<FONT COLOR=\"" + std::string(kind_colour(l.kind)) + "\">" + text + "</FONT>";
      label += text;
    }
    if (is_any_synchronized_edge(e)) label = "any synchronized state:<BR/>" + label;
    std::string tail = is_any_synchronized_edge(e) ? node_id(S::TimeWait) : node_id(e.from[0]);
    std::string head = head_node(e);
    std::string attrs =
        "label=<" + label + ">, color=\"" + colour + "\", fontcolor=\"" + colour + "\"";
    if (grey) attrs += ", style=dashed";
    if (diagram.counted && taken > 0) attrs += ", penwidth=2";
    if (is_any_synchronized_edge(e)) attrs += ", ltail=cluster_synchronized";
    // Edges that run up the figure (back to CLOSED or LISTEN) are laid out as downward edges
    // with the arrowhead at their start, so they route beside the others, not around them.
    bool upward =
        (head == node_id(S::Closed) || head == node_id(S::Listen)) && tail != node_id(S::Closed);
    if (upward) {
      std::swap(tail, head);
      attrs += ", dir=back";
    }
    std::string tooltip;
    for (const auto& l : e.lines) tooltip += (tooltip.empty() ? "" : "; ") + l.label;
    attrs += ", tooltip=" +
             quote(std::string(to_string(e.from.size() == 1 ? e.from[0] : S::Established)) +
                   (e.from.size() > 1 ? " (any synchronized)" : "") + " -> " +
                   std::string(to_string(e.to)) + ": " + tooltip);
    out += "  " + tail + " -> " + head + " [" + attrs + "];\n";
  }
  out += "}\n";
  return out;
}

}  // namespace synack::observe
