// SPDX-License-Identifier: MIT
// `synack diagram`: RFC 9293's state diagram, drawn by Graphviz's library (libgvc), optionally with
// the transitions a trace took counted on its edges.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "observe/graphviz.hpp"
#include "observe/state_diagram.hpp"

namespace synack::cli {
using namespace synack::observe;

namespace {

struct DiagramArgs {
  std::string output;  // empty: stdout
  std::string trace;
  bool dot = false;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int run_diagram(const DiagramArgs& args) {
  StateDiagram diagram = rfc9293_state_diagram();
  if (!args.trace.empty()) {
    std::ifstream in(args.trace);
    if (!in) {
      std::cerr << "synack diagram: cannot read " << args.trace << "\n";
      return 2;
    }
    auto counts = read_transition_trace(in);
    if (!counts) {
      std::cerr << "synack diagram: " << args.trace << ": " << counts.error() << "\n";
      return 2;
    }
    count_transitions(diagram, *counts);
    diagram.title +=
        " — transitions taken in " + std::filesystem::path(args.trace).filename().string();
  }
  std::string dot = to_dot(diagram);
  std::string content;
  if (args.dot) {
    content = dot;
  } else {
    // The picture's format follows the file name: .png and .pdf, else SVG.
    std::string format = ends_with(args.output, ".png")   ? "png"
                         : ends_with(args.output, ".pdf") ? "pdf"
                                                          : "svg";
    auto rendered = render_graphviz(dot, format);
    if (!rendered) {
      std::cerr << "synack diagram: " << rendered.error() << "\n";
      return 2;
    }
    content = std::move(*rendered);
  }
  if (args.output.empty() || args.output == "-") {
    std::cout << content;
    return 0;
  }
  std::ofstream out(args.output, std::ios::binary);
  out << content;
  out.close();
  if (!out) {
    std::cerr << "synack diagram: cannot write " << args.output << "\n";
    return 2;
  }
  std::cerr << "diagram written to " << args.output << "\n";
  return 0;
}

}  // namespace

void register_diagram(CLI::App& app) {
  auto args = std::make_shared<DiagramArgs>();
  auto* cmd = app.add_subcommand(
      "diagram", "draw RFC 9293's state diagram (Graphviz), with a trace's transitions counted");
  cmd->add_option("-o,--output", args->output,
                  "write the picture here (.svg, .png or .pdf; default: SVG on stdout)");
  cmd->add_option("--trace", args->trace,
                  "JSON-lines trace (synack sim ... --trace FILE): count each edge taken, grey "
                  "the others")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--dot", args->dot, "print the Graphviz DOT instead of the picture");
  cmd->callback([args] { exit_status() = run_diagram(*args); });
}

}  // namespace synack::cli
