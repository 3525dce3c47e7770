// DNS to the namespace's resolver, over UDP and TCP, to the host's.
#include "relay/dns.hpp"

namespace synack::relay {

bool is_resolver_address(const RelayConfig& config, const wire::IpAddress& addr) {
  return addr == config.gateway || (config.gateway6 && addr == *config.gateway6) ||
         (config.dns_address && addr == *config.dns_address);
}

std::optional<wire::Endpoint> dns_destination(const RelayConfig& config,
                                              const wire::Endpoint& seen) {
  if (seen.port != kDnsPort || !config.dns_upstream) return std::nullopt;
  if (!is_resolver_address(config, seen.addr)) return std::nullopt;
  return config.dns_upstream;
}

}  // namespace synack::relay
