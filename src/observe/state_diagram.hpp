// SPDX-License-Identifier: MIT
// RFC 9293's state diagram (§3.3.2, Figure 5) as a Graphviz graph: the eleven states, every
// transition labelled "event / action" in the words the stack records as a transition's cause,
// plus the transitions §3.10.7 adds to the figure (the RST paths, SYN-RECEIVED back to LISTEN,
// FIN-WAIT-1 straight to TIME-WAIT on a FIN that acknowledges our FIN).
//
// Given a trace (`synack sim ... --trace FILE`), each edge says how often it was taken and the
// edges never taken are drawn grey and dashed; transitions the trace holds that the figure
// lacks (ABORT, timeouts, ICMP) are added where they happened. `synack diagram` draws it.
#pragma once

#include <compare>
#include <cstdint>
#include <istream>
#include <map>
#include <string>
#include <vector>

#include "synack/expected.hpp"
#include "synack/state.hpp"

namespace synack::observe {

// One transition as the trace records it: from, to and its cause ("rcv SYN / snd SYN,ACK").
struct TransitionKey {
  State from = State::Closed;
  State to = State::Closed;
  std::string cause;
  auto operator<=>(const TransitionKey&) const = default;
};
using TransitionCounts = std::map<TransitionKey, std::uint64_t>;

// Reads the "transition" lines of a JSON-lines trace (observe/json_trace.cpp) and counts them;
// lines of other types are skipped. Errors: a line that is not a JSON object, or a transition
// without from/to/cause or with a state name RFC 9293 does not have ("line 3: ...").
Expected<TransitionCounts, std::string> read_transition_trace(std::istream& in);

enum class EdgeKind : std::uint8_t {
  Figure5,   // drawn in RFC 9293 Figure 5
  Rfc3107,   // defined by the event processing of §3.10.7, not in the figure
  Observed,  // not drawn by the RFC; added because a trace took it (ABORT, timeouts, ...)
};

// One "event / action" written on an edge, with the causes the stack records for it.
struct EdgeLine {
  std::string label;
  std::vector<std::string> causes;
  std::uint64_t taken = 0;
  EdgeKind kind = EdgeKind::Figure5;  // a line may differ from its edge (RST beside CLOSE)
};

struct DiagramEdge {
  std::vector<State> from;  // several for the edge leaving "any synchronized state"
  State to = State::Closed;
  EdgeKind kind = EdgeKind::Figure5;
  std::vector<EdgeLine> lines;
  std::uint64_t taken() const;
};

struct StateDiagram {
  std::vector<DiagramEdge> edges;
  bool counted = false;           // count_transitions() was called: show counts, grey the untaken
  std::uint64_t transitions = 0;  // how many the trace held
  std::string title;
};

// The figure and §3.10.7's additions, nothing counted.
StateDiagram rfc9293_state_diagram();

// Counts `counts` onto the diagram's edges; a transition no edge describes gets a line on the
// edge between its two states, or a new edge (EdgeKind::Observed).
void count_transitions(StateDiagram& diagram, const TransitionCounts& counts);

// Graphviz DOT for the diagram.
std::string to_dot(const StateDiagram& diagram);

}  // namespace synack::observe
