// SPDX-License-Identifier: MIT
// DNS to the namespace's resolver, over UDP and TCP, to the host's.
#include "relay/dns.hpp"

#include <algorithm>

namespace synack::relay {

bool is_resolver_address(const RelayConfig& config, const wire::IpAddress& addr) {
  return addr == config.gateway || (config.gateway6 && addr == *config.gateway6) ||
         std::find(config.dns_addresses.begin(), config.dns_addresses.end(), addr) !=
             config.dns_addresses.end();
}

std::optional<wire::Endpoint> dns_destination(const RelayConfig& config,
                                              const wire::Endpoint& seen) {
  if (seen.port != kDnsPort || !config.dns_upstream) return std::nullopt;
  if (!is_resolver_address(config, seen.addr)) return std::nullopt;
  return config.dns_upstream;
}

}  // namespace synack::relay
