// SPDX-License-Identifier: MIT
// ICMP echo beyond the gateway for `synack run`: the stack hands over echo requests to other
// addresses (StackConfig::intercept_echo); each (namespace address, destination, identifier)
// gets an unprivileged ping socket on the host (SOCK_DGRAM, IPPROTO_ICMP / IPPROTO_ICMPV6),
// which the kernel allows to the groups in net.ipv4.ping_group_range (it covers ICMPv6 too).
// Replies go back as the destination's. Where the host forbids ping sockets, the request is
// counted (relay_ping_unavailable) and the user told once why. Flows are bounded and expire.
#pragma once

#include <map>
#include <tuple>
#include <vector>

#include "relay/relay_config.hpp"
#include "synack/event_loop.hpp"
#include "synack/stack.hpp"

namespace synack::relay {

class PingRelay {
 public:
  PingRelay(Stack& stack, os::EventLoop& loop, const RelayConfig& config, RelayStats& stats);
  ~PingRelay();
  PingRelay(const PingRelay&) = delete;
  PingRelay& operator=(const PingRelay&) = delete;

  // Drains the stack's echo-request queue.
  void on_echo_requests();
  void close_all();

 private:
  using Key = std::tuple<wire::IpAddress, wire::IpAddress, std::uint16_t>;  // guest, dest, id
  struct Flow {
    int fd = -1;
    Instant last_used;
  };
  Flow* open_flow(const Key& key);
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
  bool told_unavailable_ = false;
  std::vector<std::byte> buffer_;
};

}  // namespace synack::relay
