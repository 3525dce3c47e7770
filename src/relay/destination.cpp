// The one check of relayed destinations (RFC 6890 special-purpose addresses).
#include "relay/destination.hpp"

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

}  // namespace synack::relay
