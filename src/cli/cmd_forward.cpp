// SPDX-License-Identifier: MIT
// `synack forward add|remove|list --pid N`: port forwards of a running `synack run`,
// `synack attach` or slirp4netns front, changed over its control socket.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "control/control_socket.hpp"

namespace synack::cli {
namespace {

struct ForwardArgs {
  long pid = 0;
  std::string spec;
  bool udp = false;
  std::uint64_t id = 0;
  bool json = false;
};

// Sends `request` to --pid's control socket; prints the answer. 0, or 1 with a message.
int forward_request(const ForwardArgs& args, const std::string& request) {
  auto endpoints = control::find_control_sockets(args.pid);
  if (endpoints.empty()) {
    std::cerr << "synack forward: no control socket for pid " << args.pid
              << " (is it a running synack run / attach?)\n";
    return 1;
  }
  auto text = control::query_control_socket(endpoints.front().path, request);
  if (!text) {
    std::cerr << "synack forward: pid " << args.pid << ": " << text.error() << "\n";
    return 1;
  }
  auto answer = nlohmann::json::parse(*text, nullptr, false);
  if (answer.is_discarded() || !answer.is_object()) {
    std::cerr << "synack forward: pid " << args.pid << " answered something else: " << *text;
    return 1;
  }
  if (auto e = answer.find("error"); e != answer.end()) {
    std::cerr << "synack forward: " << (e->is_string() ? e->get<std::string>() : e->dump()) << "\n";
    return 1;
  }
  if (args.json) {
    std::cout << answer.dump() << "\n";
    return 0;
  }
  auto line = [](const nlohmann::json& f) {
    return "forward " + std::to_string(f.value("id", 0)) + ": " + f.value("proto", "tcp") + " " +
           f.value("host", "?") + " -> port " + std::to_string(f.value("guest_port", 0));
  };
  if (auto list = answer.find("forwards"); list != answer.end() && list->is_array()) {
    for (const auto& f : *list) std::cout << line(f) << "\n";
  } else if (answer.contains("removed")) {
    std::cout << "forward " << answer["removed"].dump() << " removed\n";
  } else {
    std::cout << line(answer) << "\n";
  }
  return 0;
}

}  // namespace

void register_forward(CLI::App& app) {
  auto args = std::make_shared<ForwardArgs>();
  auto* cmd = app.add_subcommand(
      "forward", "add, remove or list the port forwards of a running synack run or attach");
  cmd->require_subcommand(1);
  auto* add = cmd->add_subcommand("add", "forward a host port into the namespace");
  add->add_option("spec", args->spec, "[HOSTADDR:]HOSTPORT[-END]:PORT[-END][/tcp|/udp], as -p")
      ->required();
  add->add_flag("-u,--udp", args->udp, "a UDP forward (as SPEC/udp)");
  auto* remove = cmd->add_subcommand(
      "remove", "close a forward (TCP: its connections live on; UDP: its flows end)");
  remove->add_option("id", args->id, "the forward's id (synack forward list)")->required();
  auto* list =
      cmd->add_subcommand("list", "the forwards, one per line: ID: PROTO HOST -> port PORT");
  for (auto* sub : {add, remove, list}) {
    sub->add_option("--pid", args->pid, "the synack process (synack ss lists them)")->required();
    sub->add_flag("--json", args->json, "print the answer as JSON");
  }
  add->callback([args] {
    std::string spec = args->spec;
    if (args->udp) {
      const auto slash = spec.rfind('/');
      if (slash == std::string::npos) {
        spec += "/udp";
      } else if (spec.substr(slash + 1) != "udp") {
        std::cerr << "synack forward add: -u and " << spec << " disagree\n";
        exit_status() = 1;
        return;
      }
    }
    exit_status() = forward_request(*args, "forward add " + spec);
  });
  remove->callback([args] {
    exit_status() = forward_request(*args, "forward remove " + std::to_string(args->id));
  });
  list->callback([args] { exit_status() = forward_request(*args, "forward list"); });
}

}  // namespace synack::cli
