// SPDX-License-Identifier: MIT
// Small helpers over RelayConfig's types.
#include "relay/relay_config.hpp"

namespace synack::relay {

std::string describe(const PortForward& forward) {
  return std::string(forward.protocol == ForwardProtocol::Udp ? "udp " : "tcp ") +
         forward.host.to_string() + " -> :" + std::to_string(forward.guest_port);
}

}  // namespace synack::relay
