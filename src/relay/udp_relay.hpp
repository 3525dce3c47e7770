// SPDX-License-Identifier: MIT
// UDP for `synack run`: each (namespace endpoint, destination) pair is a flow with its own
// connected host socket; replies come back from the destination the namespace addressed.
// DNS to the gateway goes to the host's resolver. Flows are bounded in number and expire
// when idle.
#pragma once

#include <map>
#include <utility>

#include "relay/relay_config.hpp"
#include "relay/udp_forward.hpp"
#include "synack/event_loop.hpp"
#include "synack/stack.hpp"

namespace synack::relay {

class UdpRelay {
 public:
  UdpRelay(Stack& stack, os::EventLoop& loop, const RelayConfig& config, RelayStats& stats);
  ~UdpRelay();
  UdpRelay(const UdpRelay&) = delete;
  UdpRelay& operator=(const UdpRelay&) = delete;

  // Drains the stack's datagram queue; answers to UDP port forwards go to `forwarder` first.
  void on_datagrams();
  void set_forwarder(UdpForwarder* forwarder) { forwarder_ = forwarder; }
  void close_all();

 private:
  using Key = std::pair<wire::Endpoint, wire::Endpoint>;  // (namespace, destination seen)
  struct Flow {
    int fd = -1;
    Instant last_used;
    // The start of the last datagram sent, for the ICMP port unreachable that quotes it when
    // the host refuses it (ECONNREFUSED comes on a later call, for the datagram before).
    std::vector<std::byte> last_sent;
  };
  void refused(const Key& key, std::span<const std::byte> datagram);
  // nullopt when the datagram goes nowhere; *denied set when host_destination refused it.
  std::optional<wire::Endpoint> real_destination(const wire::Endpoint& seen, bool* denied);
  Flow* open_flow(const Key& key, const wire::Endpoint& real);
  void on_readable(const Key& key);
  void close_flow(std::map<Key, Flow>::iterator it);
  void expire();

  Stack& stack_;
  os::EventLoop& loop_;
  const RelayConfig& config_;
  RelayStats& stats_;
  std::map<Key, Flow> flows_;
  bool expiry_scheduled_ = false;
  os::EventLoop::TimerId expiry_timer_ = 0;
  std::vector<std::byte> buffer_;
  UdpForwarder* forwarder_ = nullptr;
};

}  // namespace synack::relay
