// SPDX-License-Identifier: MIT
// The one check of relayed destinations (RFC 6890 special-purpose addresses).
#include "relay/destination.hpp"

#include <algorithm>

#include "relay/sockaddr.hpp"

namespace synack::relay {

std::variant<wire::Endpoint, Denial> host_destination(const RelayConfig& config,
                                                      const wire::Endpoint& seen) {
  const bool to_gateway =
      seen.addr == config.gateway || (config.gateway6 && seen.addr == *config.gateway6);
  if (to_gateway) {
    if (!config.allow_host_loopback) return Denial::HostLoopback;
    return wire::Endpoint{loopback_of(seen.addr), seen.port};
  }
  // The resolver address beside the gateway (--cidr) is ours, not a host of the host's
  // network: only DNS reaches it (relay/dns.hpp), nothing else goes anywhere.
  if (std::find(config.dns_addresses.begin(), config.dns_addresses.end(), seen.addr) !=
      config.dns_addresses.end())
    return Denial::Martian;
  switch (wire::classify(seen.addr)) {
    case wire::AddressClass::Unicast:
      return seen;
    case wire::AddressClass::Loopback:
    case wire::AddressClass::Unspecified:
      return Denial::HostLoopback;
    default:
      return Denial::Martian;
  }
}

void note_gateway_denied(const RelayConfig& config, RelayStats& stats, const wire::Endpoint& seen,
                         const char* what) {
  const bool to_gateway =
      seen.addr == config.gateway || (config.gateway6 && seen.addr == *config.gateway6);
  if (!to_gateway || config.allow_host_loopback) return;
  if (stats.gateway_loopback_denied++ > 0 || !config.on_notice) return;
  config.on_notice(std::string(what) + " to the gateway " + seen.to_string() +
                   " (the host's loopback) was refused: host loopback is not reachable unless "
                   "--allow-host-loopback is given (told once)");
}

}  // namespace synack::relay
