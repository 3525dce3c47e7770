// SPDX-License-Identifier: MIT
// Where a connection or datagram from the namespace may go on the host: decided by what the
// destination *is* (wire::classify), never by comparing it with one string or address. The
// TCP relay and the UDP relay both ask here.
#pragma once

#include <variant>

#include "relay/relay_config.hpp"
#include "wire/address_class.hpp"

namespace synack::relay {

enum class Denial : std::uint8_t {
  HostLoopback,  // the gateway (= the host) without --allow-host-loopback, or any loopback form
  Martian,       // unspecified, multicast, broadcast, reserved, link-local beyond the gateway
};

// The host endpoint to connect or send to for `seen`, the destination the namespace used;
// or why not. The gateway's addresses reach the host's loopback only with
// allow_host_loopback. Every other special-purpose destination is refused, whatever the
// flag: loopback in any form (127/8, ::1, ::ffff:127.0.0.1, ::127.0.0.1, ::ffff:0:127.0.0.1,
// 64:ff9b::127.0.0.1, 2002:7f00:1::), unspecified (which connect() turns into the local
// host), "this network", multicast, broadcast, reserved and link-local. The refusal is the
// same whether or not a host socket listens there: nothing is tried on the host.
std::variant<wire::Endpoint, Denial> host_destination(const RelayConfig& config,
                                                      const wire::Endpoint& seen);

// After a refusal: counts one to the gateway refused for want of --allow-host-loopback and,
// the first time, tells the user through config.on_notice ("a connection" / "a datagram").
void note_gateway_denied(const RelayConfig& config, RelayStats& stats, const wire::Endpoint& seen,
                         const char* what);

}  // namespace synack::relay
