// SPDX-License-Identifier: MIT
// `synack diagram`: RFC 9293's state diagram in DOT, its edges labelled with the causes the
// stack really records, counted from a trace, and rendered by Graphviz into a picture.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "cli/commands.hpp"
#include "observe/graphviz.hpp"
#include "observe/json_trace.hpp"
#include "observe/state_diagram.hpp"
#include "picture_check.hpp"
#include "sim/scenarios.hpp"
#include "tcp/transitions.hpp"

using namespace synack;
using namespace synack::cli;
using namespace synack::observe;
using namespace synack::sim;
using namespace synack::test;

namespace {

class TransitionCollector final : public TraceSink {
 public:
  TransitionCounts counts;
  void on_transition(const TransitionEvent& e) override {
    ++counts[TransitionKey{e.from, e.to, std::string(e.cause)}];
  }
};

const DiagramEdge* find_edge(const StateDiagram& d, State from, State to,
                             const std::string& label) {
  for (const auto& e : d.edges) {
    if (e.to != to || std::find(e.from.begin(), e.from.end(), from) == e.from.end()) continue;
    for (const auto& l : e.lines)
      if (l.label == label) return &e;
  }
  return nullptr;
}

std::uint64_t taken(const StateDiagram& d, State from, State to, const std::string& label) {
  const DiagramEdge* e = find_edge(d, from, to, label);
  if (!e) return ~0ull;
  for (const auto& l : e->lines)
    if (l.label == label) return l.taken;
  return ~0ull;
}

// The DOT statement of the edge whose label starts with `label` (and leaves `tail`).
std::string dot_edge(const std::string& dot, const std::string& tail, const std::string& label) {
  std::istringstream lines(dot);
  std::string line;
  while (std::getline(lines, line))
    if (line.find(" -> ") != std::string::npos &&
        line.find("label=<" + label) != std::string::npos && line.find(tail) != std::string::npos)
      return line;
  return "";
}

std::filesystem::path exchange_trace(const std::filesystem::path& dir) {
  auto path = dir / "exchange.jsonl";
  JsonTraceWriter writer(path.string(), true);  // with segments: the reader must skip them
  SimOptions options;
  options.extra_trace = &writer;
  auto result = run_scenario(*find_scenario("exchange"), options);
  EXPECT_TRUE(result.ok) << result.summary;
  return path;
}

}  // namespace

TEST(StateDiagram, DotHasElevenStatesAndTheFiguresEdgesInTheRfcsWords) {
  std::string dot = to_dot(rfc9293_state_diagram());
  for (State s : kAllStates)
    EXPECT_NE(dot.find("<B>" + std::string(to_string(s)) + "</B>"), std::string::npos)
        << to_string(s);
  for (const char* label :
       {"passive OPEN", "active OPEN / snd SYN", "rcv SYN / snd SYN,ACK", "SEND / snd SYN",
        "rcv SYN,ACK / snd ACK", "rcv ACK of SYN", "CLOSE / snd FIN", "rcv FIN / snd ACK",
        "rcv ACK of FIN", "CLOSE / delete TCB", "rcv ACK of FIN / delete TCB",
        "timeout=2MSL / delete TCB",
        // §3.10.7's additions
        "rcv RST / delete TCB", "rcv RST / return to LISTEN", "rcv FIN,ACK / snd ACK"})
    EXPECT_NE(dot.find(label), std::string::npos) << label;
  auto d = rfc9293_state_diagram();
  EXPECT_NE(find_edge(d, State::FinWait1, State::TimeWait, "rcv FIN,ACK / snd ACK"), nullptr);
  EXPECT_NE(find_edge(d, State::SynReceived, State::Listen, "rcv RST / return to LISTEN"), nullptr);
  for (State s : {State::Established, State::FinWait1, State::FinWait2, State::CloseWait,
                  State::Closing, State::LastAck, State::TimeWait})
    EXPECT_NE(find_edge(d, s, State::Closed, "rcv RST / delete TCB"), nullptr) << to_string(s);
  EXPECT_EQ(dot.find("style=dashed"), std::string::npos) << "nothing is grey without a trace";
}

TEST(StateDiagram, EveryScenarioTransitionIsAnEdgeOfTheDiagram) {
  // The labels are the causes the stack records: a renamed cause in src/tcp would show up
  // here as a transition the RFC's figure does not have.
  TransitionCollector collector;
  for (const auto& scenario : all_scenarios()) {
    SimOptions options;
    options.extra_trace = &collector;
    run_scenario(scenario, options);
  }
  ASSERT_GT(collector.counts.size(), 15u);
  StateDiagram d = rfc9293_state_diagram();
  count_transitions(d, collector.counts);
  std::set<std::string> allowed_extra_prefixes = {"ABORT", "timeout=SYN", "timeout=R2",
                                                  "timeout=keepalive", "rcv ICMP"};
  for (const auto& e : d.edges)
    for (const auto& l : e.lines) {
      if (l.kind != EdgeKind::Observed) continue;
      bool allowed = false;
      for (const auto& p : allowed_extra_prefixes) allowed |= l.label.rfind(p, 0) == 0;
      EXPECT_TRUE(allowed) << "a transition the diagram does not draw: " << to_string(e.from[0])
                           << " -> " << to_string(e.to) << " \"" << l.label << "\"";
    }
  EXPECT_GT(taken(d, State::Closing, State::TimeWait, "rcv ACK of FIN"), 0u);
  EXPECT_GT(taken(d, State::SynSent, State::SynReceived, "rcv SYN / snd SYN,ACK"), 0u);
}

TEST(StateDiagram, TraceCountsTakenEdgesAndGreysTheRest) {
  auto dir = scratch_dir("diagram-trace");
  std::ifstream in(exchange_trace(dir));
  auto counts = read_transition_trace(in);
  ASSERT_TRUE(counts) << counts.error();
  StateDiagram d = rfc9293_state_diagram();
  count_transitions(d, *counts);
  EXPECT_EQ(d.transitions, 12u);
  EXPECT_EQ(taken(d, State::Closed, State::Listen, "passive OPEN"), 1u);
  EXPECT_EQ(taken(d, State::SynSent, State::Established, "rcv SYN,ACK / snd ACK"), 1u);
  EXPECT_EQ(taken(d, State::FinWait2, State::TimeWait, "rcv FIN / snd ACK"), 1u);
  EXPECT_EQ(taken(d, State::TimeWait, State::Closed, "timeout=2MSL / delete TCB"), 1u);
  EXPECT_EQ(taken(d, State::FinWait1, State::Closing, "rcv FIN / snd ACK"), 0u);

  std::string dot = to_dot(d);
  std::string used = dot_edge(dot, "SYN_SENT", "rcv SYN,ACK / snd ACK");
  EXPECT_NE(used.find("<B>×1</B>"), std::string::npos) << used;
  EXPECT_EQ(used.find("dashed"), std::string::npos) << used;
  std::string unused = dot_edge(dot, "FIN_WAIT_1", "rcv FIN / snd ACK");
  EXPECT_NE(unused.find("style=dashed"), std::string::npos) << unused;
  EXPECT_NE(unused.find("color=\"#a8a8a8\""), std::string::npos) << unused;
  EXPECT_EQ(unused.find("×"), std::string::npos) << unused;
  std::filesystem::remove_all(dir);
}

TEST(StateDiagram, TransitionsTheFigureLacksAreAddedFromTheTrace) {
  TransitionCounts counts;
  counts[{State::Established, State::Closed, "ABORT / snd RST"}] = 2;
  counts[{State::SynSent, State::Closed, "timeout=SYN retries / delete TCB"}] = 1;
  StateDiagram d = rfc9293_state_diagram();
  count_transitions(d, counts);
  EXPECT_EQ(taken(d, State::Established, State::Closed, "ABORT / snd RST"), 2u);
  EXPECT_EQ(taken(d, State::SynSent, State::Closed, "timeout=SYN retries / delete TCB"), 1u);
  std::string dot = to_dot(d);
  EXPECT_NE(dot.find("ABORT / snd RST <B>×2</B>"), std::string::npos);
}

TEST(StateDiagram, ReadingATraceRejectsWhatIsNotOne) {
  {
    std::istringstream in(
        "{\"type\":\"segment\",\"len\":3}\n\n"
        "{\"type\":\"transition\",\"from\":\"LISTEN\",\"to\":\"SYN-RECEIVED\","
        "\"cause\":\"rcv SYN / snd SYN,ACK\"}\n");
    auto counts = read_transition_trace(in);
    ASSERT_TRUE(counts) << counts.error();
    EXPECT_EQ(counts->size(), 1u);
  }
  {
    std::istringstream in("{\"type\":\"transition\"}\nnot json\n");
    auto counts = read_transition_trace(in);
    ASSERT_FALSE(counts);
    EXPECT_NE(counts.error().find("line 1"), std::string::npos) << counts.error();
  }
  {
    std::istringstream in(
        "\n{\"type\":\"transition\",\"from\":\"LISTEN\",\"to\":\"HALF-OPEN\","
        "\"cause\":\"x\"}\n");
    auto counts = read_transition_trace(in);
    ASSERT_FALSE(counts);
    EXPECT_NE(counts.error().find("line 2"), std::string::npos) << counts.error();
    EXPECT_NE(counts.error().find("HALF-OPEN"), std::string::npos) << counts.error();
  }
  {
    std::istringstream in("{\"type\":\"transition\",\"from\":\"LISTEN\"");
    EXPECT_FALSE(read_transition_trace(in));
  }
}

TEST(StateDiagram, GraphvizRendersElevenStatesAndTheCountedTrace) {
  auto plain = render_graphviz(to_dot(rfc9293_state_diagram()));
  ASSERT_TRUE(plain) << plain.error();
  for (State s : kAllStates) {
    // Graphviz writes '-' in SVG text as "&#45;".
    std::string name;
    for (char c : to_string(s)) name += c == '-' ? std::string("&#45;") : std::string(1, c);
    EXPECT_NE(plain->find(">" + name + "</text>"), std::string::npos) << to_string(s);
  }

  auto dir = scratch_dir("diagram-render");
  std::ifstream in(exchange_trace(dir));
  auto counts = read_transition_trace(in);
  ASSERT_TRUE(counts) << counts.error();
  StateDiagram d = rfc9293_state_diagram();
  count_transitions(d, *counts);
  auto svg = render_graphviz(to_dot(d));
  ASSERT_TRUE(svg) << svg.error();
  EXPECT_NE(svg->find("×1"), std::string::npos);
  EXPECT_NE(svg->find("stroke=\"#a8a8a8\" stroke-dasharray"), std::string::npos)
      << "untaken edges are grey and dashed";
  write_file(dir / "plain.svg", *plain);
  write_file(dir / "counted.svg", *svg);
  std::string why;
  EXPECT_TRUE(well_formed_xml(dir / "plain.svg", why)) << why;
  EXPECT_TRUE(well_formed_xml(dir / "counted.svg", why)) << why;

  if (!have_tool("rsvg-convert") || !have_tool("python3")) {
    GTEST_SKIP() << "rsvg-convert (librsvg2-bin) or python3 missing: the PNG is not checked";
  }
  for (const char* name : {"plain", "counted"}) {
    auto png = dir / (std::string(name) + ".png");
    ASSERT_EQ(render_png(dir / (std::string(name) + ".svg"), png), "") << name;
    PngStats stats = png_stats(png);
    ASSERT_TRUE(stats.ok) << stats.error;
    EXPECT_GE(stats.width, 500) << name;
    EXPECT_LE(stats.width, 4000) << name;
    EXPECT_GE(stats.height, 500) << name;
    EXPECT_LE(stats.height, 4000) << name;
    double ink = static_cast<double>(stats.all.nonwhite) / stats.all.total;
    EXPECT_GT(ink, 0.02) << name;
    EXPECT_GT(stats.all.dark, 2000) << name;
    EXPECT_GT(stats.all.red, 50) << name << ": §3.10.7's edges are red";
    if (std::string(name) == "counted") {
      EXPECT_GT(stats.all.grey, 2000) << "untaken edges and states are grey";
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(Graphviz, BadDotOrFormatIsAnError) {
  auto broken = render_graphviz("digraph { a -> ");
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().find("DOT"), std::string::npos) << broken.error();
  auto format = render_graphviz("digraph { a -> b }", "no-such-format");
  ASSERT_FALSE(format);
  EXPECT_NE(format.error().find("no-such-format"), std::string::npos) << format.error();
  auto fine = render_graphviz("digraph { a -> b }");
  ASSERT_TRUE(fine) << fine.error();
  EXPECT_NE(fine->find("<svg"), std::string::npos);
}

TEST(DiagramCli, WritesSvgOrDotWithATrace) {
  auto dir = scratch_dir("diagram-cli");
  auto trace = exchange_trace(dir);
  std::string dot_path = (dir / "states.dot").string();
  {
    CLI::App app;
    register_diagram(app);
    app.parse("diagram --dot -o " + dot_path + " --trace " + trace.string());
    EXPECT_EQ(exit_status(), 0);
    std::string dot = read_file(dot_path);
    EXPECT_EQ(dot.rfind("// RFC 9293", 0), 0u) << dot.substr(0, 80);
    EXPECT_NE(dot.find("<B>×1</B>"), std::string::npos);
  }
  // Drawn in-process by libgvc: no `dot` program needed.
  for (const char* name : {"states.svg", "states.png"}) {
    std::string path = (dir / name).string();
    CLI::App app;
    register_diagram(app);
    testing::internal::CaptureStderr();
    app.parse("diagram -o " + path);
    testing::internal::GetCapturedStderr();
    EXPECT_EQ(exit_status(), 0) << name;
    std::string picture = read_file(path);
    if (std::string(name) == "states.svg")
      EXPECT_NE(picture.find("<svg"), std::string::npos);
    else
      EXPECT_EQ(picture.rfind("\x89PNG", 0), 0u) << picture.substr(0, 16);
  }
  {
    std::string bad = (dir / "bad.jsonl").string();
    write_file(bad, "{oops}\n");
    CLI::App app;
    register_diagram(app);
    testing::internal::CaptureStderr();
    app.parse("diagram --dot --trace " + bad);
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(exit_status(), 2);
    EXPECT_NE(err.find("line 1"), std::string::npos) << err;
  }
  std::filesystem::remove_all(dir);
}

// The diagram is the transition table's drawn rows: each has its line, with its label, on the
// edge between its two states (the RST from a synchronized state on the shared edge); the rows
// the RFC does not draw are not there until a trace takes them.
TEST(StateDiagram, DrawsEveryDrawnRowOfTheTransitionTable) {
  auto d = rfc9293_state_diagram();
  for (const tcp::Transition& t : tcp::kTransitions) {
    std::string text(t.text());
    bool drawn = false;
    for (const auto& e : d.edges) {
      if (e.to != t.to || std::find(e.from.begin(), e.from.end(), t.from) == e.from.end()) continue;
      for (const auto& l : e.lines)
        if (std::find(l.causes.begin(), l.causes.end(), text) != l.causes.end()) drawn = true;
    }
    EXPECT_EQ(drawn, t.drawn != tcp::Drawn::NotDrawn)
        << to_string(t.from) << " -> " << to_string(t.to) << " " << text;
  }
}
