// SPDX-License-Identifier: MIT
// `synack ss` and `synack stats`: the connections and counters of every running
// `synack serve` / `synack connect`, read through their control sockets (control_socket.hpp).
#include <iostream>
#include <memory>
#include <optional>

#include "cli/commands.hpp"
#include "control/control_socket.hpp"
#include "control/status_format.hpp"

namespace synack::cli {
using namespace synack::control;
namespace {

struct StatusArgs {
  std::optional<long> pid;
  bool json = false;
  bool all = false;
};

// Asks every process (or --pid's) `request`; the answers, parsed, in pid order. With --json,
// prints each answer's lines as they come. Exit status 1 when no process answered.
int query_all(const StatusArgs& args, std::string_view request, const char* who,
              std::vector<std::vector<StatusLine>>& answers) {
  auto endpoints = find_control_sockets(args.pid);
  if (endpoints.empty()) {
    std::string where;
    for (const auto& dir : control_directories()) where += " " + dir;
    if (args.pid)
      std::cerr << "synack " << who << ": no control socket for pid " << *args.pid << " (looked in"
                << where << ")\n";
    else
      std::cerr << "synack " << who << ": no running synack serve/connect found (looked in" << where
                << ")\n";
    return 1;
  }
  int answered = 0;
  for (const auto& ep : endpoints) {
    auto text = query_control_socket(ep.path, request);
    if (!text) {
      // A process that exits between the scan and the query is not an error worth more
      // than a note.
      std::cerr << "synack " << who << ": pid " << ep.pid << " (" << ep.path
                << "): " << text.error() << "\n";
      continue;
    }
    ++answered;
    if (args.json)
      std::cout << *text;
    else
      answers.push_back(parse_status_lines(*text));
  }
  return answered ? 0 : 1;
}

void add_common(CLI::App* cmd, StatusArgs& args) {
  cmd->add_option("--pid", args.pid, "only the synack process with this pid");
  cmd->add_flag("--json", args.json, "JSON lines as the processes send them");
}

}  // namespace

void register_status(CLI::App& app) {
  auto ss_args = std::make_shared<StatusArgs>();
  auto* ss =
      app.add_subcommand("ss", "list the TCP connections of running synack processes, like ss -ti");
  add_common(ss, *ss_args);
  ss->footer(
      "Asks every running `synack serve` and `synack connect` through its control socket\n"
      "(/run/synack/PID.sock, else $XDG_RUNTIME_DIR/synack/ or /tmp/synack-UID/).\n"
      "Per connection: State Recv-Q Send-Q Local Peer Process, then cc, options (sack ts\n"
      "wscale:snd,rcv), rto and rtt:srtt/rttvar in ms, mss, cwnd and ssthresh in segments,\n"
      "bytes, windows and retrans:total/rto-expirations/fast-retransmits.\n"
      "Exit status: 0, or 1 when no process answered.");
  ss->callback([ss_args] {
    std::vector<std::vector<StatusLine>> answers;
    int status = query_all(*ss_args, "ss", "ss", answers);
    if (!ss_args->json && status == 0) std::cout << format_connections_text(answers);
    exit_status() = status;
  });

  auto stats_args = std::make_shared<StatusArgs>();
  auto* stats =
      app.add_subcommand("stats", "print the counters of running synack processes, like nstat");
  add_common(stats, *stats_args);
  stats->add_flag("-a,--all", stats_args->all, "also the counters that are zero");
  stats->footer(
      "One block per process: '#pid N synack COMMAND', then name, value and description of\n"
      "each non-zero counter (all of them with -a). --json prints every counter.\n"
      "Exit status: 0, or 1 when no process answered.");
  stats->callback([stats_args] {
    std::vector<std::vector<StatusLine>> answers;
    int status = query_all(*stats_args, "stats", "stats", answers);
    if (!stats_args->json && status == 0)
      std::cout << format_counters_text(answers, stats_args->all);
    exit_status() = status;
  });
}

}  // namespace synack::cli
