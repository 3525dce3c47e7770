// SPDX-License-Identifier: MIT
// Port-forward specifications as users of podman/docker (-p) and pasta (-t, -u) write them,
// parsed into relay::PortForward values, one per port (ranges expanded). Pure functions; the
// errors name what is wrong in words a user can act on.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "relay/relay_config.hpp"
#include "synack/expected.hpp"

namespace synack::cli {

// The largest number of ports one specification may expand to (a descriptor each).
inline constexpr std::size_t kMaxForwardPorts = 16384;

// -p [HOSTADDR:]HOSTPORT[-END]:PORT[-END][/tcp|/udp] (podman, docker): HOSTADDR is IPv4, or
// IPv6 in brackets ([::1]); default 127.0.0.1, reachable from this host only; 0.0.0.0 or [::]
// for every address. A range on both sides must have the same length; a single guest port
// after a host range is an error (ambiguous). Errors: a message naming the fault.
Expected<std::vector<relay::PortForward>, std::string> parse_publish(std::string_view text);

// pasta's -t / -u: SPEC[,SPEC...], SPEC = [ADDR/]PORT[-END][:GUEST[-END]], the guest ports
// defaulting to the host ports. Default address 127.0.0.1 (pasta binds every address; write
// 0.0.0.0/ or ::/ for that). pasta's "auto", "all", "none" and ~exclusions are refused with
// a message saying so.
Expected<std::vector<relay::PortForward>, std::string> parse_pasta_ports(
    std::string_view text, relay::ForwardProtocol protocol);

// Every forward of a command line: -p specs, then pasta's -t and -u lists, ranges expanded;
// an error names the first malformed spec or a forward given twice.
Expected<std::vector<relay::PortForward>, std::string> parse_forwards(
    const std::vector<std::string>& publish, const std::vector<std::string>& tcp_ports,
    const std::vector<std::string>& udp_ports);

// pasta's -T: SPEC[,SPEC...], SPEC = PORT[-END][:HOSTPORT[-END]]: the ports CMD's loopback
// listens on, each mapped to the host loopback's port (default the same). Errors: a message
// naming the spec (malformed, an address given, a port twice, too many).
Expected<std::map<std::uint16_t, std::uint16_t>, std::string> parse_loopback_forwards(
    const std::vector<std::string>& specs);

// The same protocol, host address and port forwarded twice: "tcp 127.0.0.1:8080 -> :80 is
// given twice". Empty when none.
std::string duplicate_forward(const std::vector<relay::PortForward>& forwards);

}  // namespace synack::cli
