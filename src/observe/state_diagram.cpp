#include "observe/state_diagram.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "tcp/transitions.hpp"

namespace synack::observe {

namespace {

using S = State;

// ---------------------------------------------------------------------------------------
// A JSON-lines trace: each line a flat object of strings, numbers and booleans.

// Parses one flat JSON object into key -> value (strings unescaped, other values as written).
std::optional<std::map<std::string, std::string>> parse_flat_object(const std::string& line,
                                                                    std::string& error) {
  std::map<std::string, std::string> out;
  std::size_t i = 0;
  auto skip_space = [&] {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
  };
  auto parse_string = [&](std::string& s) -> bool {
    if (i >= line.size() || line[i] != '"') return false;
    ++i;
    while (i < line.size() && line[i] != '"') {
      char c = line[i++];
      if (c != '\\') {
        s += c;
        continue;
      }
      if (i >= line.size()) return false;
      char e = line[i++];
      switch (e) {
        case 'n':
          s += '\n';
          break;
        case 't':
          s += '\t';
          break;
        case 'r':
          s += '\r';
          break;
        case 'b':
          s += '\b';
          break;
        case 'f':
          s += '\f';
          break;
        case 'u': {
          if (i + 4 > line.size()) return false;
          unsigned code = 0;
          for (int k = 0; k < 4; ++k) {
            char h = line[i++];
            code <<= 4;
            if (h >= '0' && h <= '9')
              code |= static_cast<unsigned>(h - '0');
            else if (h >= 'a' && h <= 'f')
              code |= static_cast<unsigned>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F')
              code |= static_cast<unsigned>(h - 'A' + 10);
            else
              return false;
          }
          // Causes are ASCII; anything else is kept as UTF-8 (no surrogate pairs needed).
          if (code < 0x80) {
            s += static_cast<char>(code);
          } else if (code < 0x800) {
            s += static_cast<char>(0xC0 | (code >> 6));
            s += static_cast<char>(0x80 | (code & 0x3F));
          } else {
            s += static_cast<char>(0xE0 | (code >> 12));
            s += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            s += static_cast<char>(0x80 | (code & 0x3F));
          }
          break;
        }
        default:
          s += e;  // \" \\ \/
      }
    }
    if (i >= line.size()) return false;
    ++i;  // closing quote
    return true;
  };
  skip_space();
  if (i >= line.size() || line[i] != '{') {
    error = "not a JSON object";
    return std::nullopt;
  }
  ++i;
  skip_space();
  if (i < line.size() && line[i] == '}') return out;
  while (true) {
    skip_space();
    std::string key, value;
    if (!parse_string(key)) {
      error = "expected a quoted key";
      return std::nullopt;
    }
    skip_space();
    if (i >= line.size() || line[i] != ':') {
      error = "expected ':' after \"" + key + "\"";
      return std::nullopt;
    }
    ++i;
    skip_space();
    if (i < line.size() && line[i] == '"') {
      if (!parse_string(value)) {
        error = "unterminated string for \"" + key + "\"";
        return std::nullopt;
      }
    } else {
      std::size_t start = i;
      while (i < line.size() && line[i] != ',' && line[i] != '}') ++i;
      value = line.substr(start, i - start);
      while (!value.empty() && value.back() == ' ') value.pop_back();
      if (value.empty()) {
        error = "missing value for \"" + key + "\"";
        return std::nullopt;
      }
    }
    out[key] = value;
    skip_space();
    if (i < line.size() && line[i] == ',') {
      ++i;
      continue;
    }
    if (i < line.size() && line[i] == '}') {
      ++i;
      skip_space();
      if (i != line.size()) {
        error = "text after the object";
        return std::nullopt;
      }
      return out;
    }
    error = "expected ',' or '}'";
    return std::nullopt;
  }
}

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
    std::string error;
    auto object = parse_flat_object(text, error);
    auto fail = [&](const std::string& why) {
      return Unexpected{"line " + std::to_string(number) + ": " + why};
    };
    if (!object) return fail(error);
    auto type = object->find("type");
    if (type == object->end() || type->second != "transition") continue;
    auto from = object->find("from"), to = object->find("to"), cause = object->find("cause");
    if (from == object->end() || to == object->end() || cause == object->end())
      return fail("a transition needs \"from\", \"to\" and \"cause\"");
    auto from_state = state_from_string(from->second);
    auto to_state = state_from_string(to->second);
    if (!from_state) return fail("no state named \"" + from->second + "\"");
    if (!to_state) return fail("no state named \"" + to->second + "\"");
    ++counts[TransitionKey{*from_state, *to_state, cause->second}];
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

Expected<std::string, std::string> run_graphviz(const std::string& dot, const std::string& format) {
  // The graph goes in through a temporary file, so a dot that dies early cannot stop us
  // with SIGPIPE; its output comes back through a pipe.
  std::FILE* input = std::tmpfile();
  if (!input)
    return Unexpected{std::string("cannot create a temporary file: ") + std::strerror(errno)};
  if (std::fwrite(dot.data(), 1, dot.size(), input) != dot.size() || std::fflush(input) != 0) {
    std::fclose(input);
    return Unexpected{std::string("cannot write a temporary file")};
  }
  std::rewind(input);
  int out[2];
  if (pipe(out) != 0) {
    std::fclose(input);
    return Unexpected{std::string("pipe: ") + std::strerror(errno)};
  }
  std::string type = "-T" + format;
  pid_t pid = fork();
  if (pid < 0) {
    std::fclose(input);
    close(out[0]);
    close(out[1]);
    return Unexpected{std::string("fork: ") + std::strerror(errno)};
  }
  if (pid == 0) {
    dup2(fileno(input), STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    char* argv[] = {const_cast<char*>("dot"), type.data(), nullptr};
    execvp("dot", argv);
    _exit(127);
  }
  close(out[1]);
  std::string result;
  char buffer[65536];
  while (true) {
    ssize_t n = read(out[0], buffer, sizeof buffer);
    if (n > 0)
      result.append(buffer, static_cast<std::size_t>(n));
    else if (n == 0 || errno != EINTR)
      break;
  }
  close(out[0]);
  std::fclose(input);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    return Unexpected{std::string(
        "cannot run Graphviz's dot: install it (Debian: apt-get install graphviz) or use --dot")};
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Unexpected{std::string("dot failed (exit status ") +
                      std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")"};
  return result;
}

}  // namespace synack::observe
