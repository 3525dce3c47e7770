// SPDX-License-Identifier: MIT
// The helpers of `synack run` that `synack attach` and the slirp4netns front share (defined in
// cmd_run.cpp). Forward specifications are parsed in cli/forward_spec.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string_view>

#include "relay/relay_config.hpp"
#include "wire/ip_address.hpp"

namespace synack::cli {

// 1..65535.
std::optional<std::uint16_t> parse_port(std::string_view text);
// "ADDR:PORT", "[V6]:PORT", or "ADDR" alone (then `default_port`).
std::optional<wire::Endpoint> parse_endpoint(std::string_view text, std::uint16_t default_port);
// The first nameserver of /etc/resolv.conf, port 53.
std::optional<wire::Endpoint> host_resolver();
// --stats: the relay's counters, one per line.
void print_relay_stats(const relay::RelayStats& s, std::ostream& out);

}  // namespace synack::cli
