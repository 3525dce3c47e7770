// SPDX-License-Identifier: MIT
// The "forward ..." requests of the control socket, answered with nlohmann::json.
#include "cli/forward_control.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

#include "cli/forward_spec.hpp"

namespace synack::cli {
namespace {

using nlohmann::json;

json describe(std::uint64_t id, const relay::PortForward& f) {
  return {{"id", id},
          {"proto", f.protocol == relay::ForwardProtocol::Udp ? "udp" : "tcp"},
          {"host", f.host.to_string()},
          {"guest_port", f.guest_port}};
}

std::string error(const std::string& message) { return json{{"error", message}}.dump() + "\n"; }

}  // namespace

control::ControlServer::RequestHandler forward_request_handler(relay::Relay& relay) {
  return [&relay](std::string_view request) -> std::optional<std::string> {
    constexpr std::string_view kPrefix = "forward";
    if (request.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
    std::string_view rest = request.substr(kPrefix.size());
    auto word = [&rest] {
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      auto end = rest.find(' ');
      std::string_view w = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
      return w;
    };
    std::string_view verb = word();
    std::string_view argument = word();
    if (!word().empty()) return error("forward: too many arguments");
    if (verb == "list" && argument.empty()) {
      json list = json::array();
      for (const auto& [id, f] : relay.forwards()) list.push_back(describe(id, f));
      return json{{"forwards", list}}.dump() + "\n";
    }
    if (verb == "add" && !argument.empty()) {
      auto specs = parse_publish(argument);
      if (!specs) return error(specs.error());
      // A range adds one forward per port, all or none. SPEC/udp: UDP forwards.
      json added = json::array();
      std::vector<std::uint64_t> ids;
      for (const auto& f : *specs) {
        auto id = relay.add_forward(f);
        if (!id) {
          for (auto undo : ids) relay.remove_forward(undo);
          return error(id.error());
        }
        ids.push_back(*id);
        added.push_back(describe(*id, f));
      }
      return (added.size() == 1 ? added[0] : json{{"forwards", added}}).dump() + "\n";
    }
    if (verb == "remove" && !argument.empty()) {
      std::uint64_t id = 0;
      auto [end, ec] = std::from_chars(argument.data(), argument.data() + argument.size(), id);
      if (ec != std::errc{} || end != argument.data() + argument.size())
        return error("forward remove: not an id: " + std::string(argument));
      if (!relay.remove_forward(id)) return error("no forward with id " + std::to_string(id));
      return json{{"removed", id}}.dump() + "\n";
    }
    return error("expected: forward add SPEC | forward remove ID | forward list");
  };
}

}  // namespace synack::cli
