// SPDX-License-Identifier: MIT
// DNS for the namespace: the gateway (and, with --cidr, the resolver address beside it, as
// slirp4netns's 10.0.2.3) answers on port 53 over UDP and TCP by relaying to the host's
// resolver (RelayConfig::dns_upstream). RFC 1035 §4.2 / RFC 7766 §5: a resolver serves TCP
// as well as UDP; truncated answers (TC) are retried over TCP and must reach the same place.
#pragma once

#include <optional>

#include "relay/relay_config.hpp"

namespace synack::relay {

inline constexpr std::uint16_t kDnsPort = 53;

// The namespace's resolver addresses: the gateway's, and dns_addresses.
bool is_resolver_address(const RelayConfig& config, const wire::IpAddress& addr);

// Where a connection or datagram to `seen` goes when it is DNS to the namespace's resolver:
// dns_upstream; nullopt when it is not (or no upstream is known).
std::optional<wire::Endpoint> dns_destination(const RelayConfig& config,
                                              const wire::Endpoint& seen);

}  // namespace synack::relay
