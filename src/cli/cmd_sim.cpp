// `synack demo` and `synack sim SCENARIO`: scripted conversations between two synack stacks
// on the simulated network, drawn as a ladder in the terminal.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/json_trace.hpp"
#include "cli/scenarios.hpp"

namespace synack::cli {

int& exit_status() {
  static int status = 0;
  return status;
}

namespace {

struct SimArgs {
  std::string scenario;
  std::uint64_t seed = 1;
  double loss = 0;
  double delay_ms = 1;
  std::string pcap;
  std::string trace;
  bool trace_segments = false;
  bool ascii = false;
  bool no_color = false;
  bool list = false;
  int width = 0;
};

int run_named(const SimArgs& args) {
  const Scenario* scenario = find_scenario(args.scenario);
  if (!scenario) {
    std::cerr << "synack sim: no scenario named '" << args.scenario
              << "' (synack sim --list shows them)\n";
    return 2;
  }
  SimOptions options;
  options.seed = args.seed;
  options.link.loss = args.loss;
  options.link.delay = std::chrono::microseconds(static_cast<std::int64_t>(args.delay_ms * 1000));
  if (!args.pcap.empty()) options.pcap = args.pcap;
  std::unique_ptr<JsonTraceWriter> trace;
  if (!args.trace.empty()) {
    trace = std::make_unique<JsonTraceWriter>(args.trace, args.trace_segments);
    if (!trace->ok()) {
      std::cerr << "synack sim: cannot write " << args.trace << "\n";
      return 2;
    }
    options.extra_trace = trace.get();
  }
  ScenarioResult result;
  try {
    result = run_scenario(*scenario, options);
  } catch (const std::exception& e) {
    std::cerr << "synack sim: " << e.what() << "\n";
    return 2;
  }
  TextRenderOptions render;
  render.unicode = !args.ascii;
  render.color = !args.no_color && isatty(STDOUT_FILENO);
  if (args.width > 0) render.width = args.width;
  std::cout << render_text(result.ladder, render) << "\n";
  std::cout << (result.ok ? "ok: " : "FAILED: ") << result.summary << "\n";
  if (!args.pcap.empty()) std::cout << "capture written to " << args.pcap << "\n";
  return result.ok ? 0 : 1;
}

void add_common(CLI::App* cmd, SimArgs& args) {
  cmd->add_option("--seed", args.seed, "seed for the network's faults and the stacks' ISNs");
  cmd->add_option("--loss", args.loss, "probability each packet is lost (0..1)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--delay", args.delay_ms, "one-way delay in milliseconds (default 1)");
  cmd->add_option("--pcap", args.pcap, "write every packet to this pcap file");
  cmd->add_option("--trace", args.trace, "write state transitions as JSON lines to FILE");
  cmd->add_flag("--trace-segments", args.trace_segments, "with --trace, also every segment");
  cmd->add_flag("--ascii", args.ascii, "draw with ASCII only");
  cmd->add_flag("--no-color", args.no_color, "no ANSI colours");
  cmd->add_option("--width", args.width, "width of the ladder in columns");
}

}  // namespace

void register_demo(CLI::App& app) {
  auto args = std::make_shared<SimArgs>();
  auto* cmd = app.add_subcommand(
      "demo", "watch a whole TCP connection between two synack stacks: handshake, data, close");
  add_common(cmd, *args);
  cmd->callback([args] {
    args->scenario = "exchange";
    std::cout << "synack demo: a client and a server stack on a simulated network (1 ms each "
                 "way).\nThe client opens a connection, sends a line, the server answers, both "
                 "close.\nTimes are virtual: the 60 s of TIME-WAIT pass in an instant.\n\n";
    exit_status() = run_named(*args);
  });
}

void register_sim(CLI::App& app) {
  auto args = std::make_shared<SimArgs>();
  auto* cmd = app.add_subcommand("sim", "run a named TCP scenario on the simulated network");
  cmd->add_option("scenario", args->scenario, "scenario name (see --list)");
  cmd->add_flag("--list", args->list, "list the scenarios");
  add_common(cmd, *args);
  cmd->callback([args] {
    if (args->list || args->scenario.empty()) {
      for (const auto& s : all_scenarios())
        std::printf("  %-20s %s\n", s.name.c_str(), s.description.c_str());
      exit_status() = args->list ? 0 : 2;
      return;
    }
    exit_status() = run_named(*args);
  });
}

}  // namespace synack::cli
