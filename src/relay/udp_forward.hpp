// SPDX-License-Identifier: MIT
// UDP port forwards (-p HOSTPORT:PORT/udp, or added at run time through the Relay): a host
// socket bound to the forward's address; each host peer that sends to it gets a flow, seen in the
// namespace as the gateway and a port of its own, sending to the guest's PORT. The guest's answers
// to that gateway port go back to the peer from the forward's socket. Flows are bounded in number
// (the least recently used makes room) and expire when idle, as UdpRelay's.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "relay/relay_config.hpp"
#include "synack/event_loop.hpp"
#include "synack/stack.hpp"

namespace synack::relay {

class UdpForwarder {
 public:
  UdpForwarder(Stack& stack, os::EventLoop& loop, const RelayConfig& config, RelayStats& stats);
  ~UdpForwarder();
  UdpForwarder(const UdpForwarder&) = delete;
  UdpForwarder& operator=(const UdpForwarder&) = delete;

  // Binds the forward's host socket, known as `id` (the Relay's forward id, unique among its
  // TCP and UDP forwards). Errors: which step, and why (bind's EADDRINUSE: the port is in use,
  // by another program or by another forward overlapping it).
  Expected<void, std::string> add(std::uint64_t id, const PortForward& forward);
  // Closes forward `id`'s host socket and ends its flows (at most max_udp_flows of them; a
  // guest's later answer to one is no longer claimed). The number of flows ended, or nullopt
  // when no UDP forward has that id.
  std::optional<std::size_t> remove(std::uint64_t id);
  // The open forwards, by id.
  std::vector<std::pair<std::uint64_t, PortForward>> forwards() const;
  // The first open forward (by id) that `match` accepts; nullopt when none does.
  template <typename Match>
  std::optional<std::pair<std::uint64_t, PortForward>> find(Match match) const {
    for (const auto& [id, socket] : sockets_)
      if (match(socket.forward)) return std::pair{id, socket.forward};
    return std::nullopt;
  }
  std::size_t flows() const { return flows_.size(); }
  std::size_t size() const { return sockets_.size(); }  // open forwards
  // A datagram from the namespace that answers a flow (to the gateway and a flow's port, from
  // the guest's forwarded port) goes to the flow's host peer: true. Anything else: false,
  // for UdpRelay.
  bool claim(const Datagram& d);
  // Closes every socket and flow (CMD exited, or shutdown).
  void close_all();

 private:
  struct Socket {
    int fd = -1;
    PortForward forward;
  };
  struct Flow {
    std::uint64_t socket = 0;  // the forward's id, a key of sockets_
    wire::Endpoint peer;       // the host peer
    wire::Endpoint inside;     // the guest's endpoint (guest address, forwarded port)
    wire::Endpoint gateway;    // the flow's endpoint as the namespace sees it
    // For a socket bound to every address (0.0.0.0, [::]): the address the peer sent to,
    // which answers must come from (a peer's connected socket takes nothing else).
    std::optional<wire::IpAddress> host_local;
    Instant last_used;
  };
  void on_readable(std::uint64_t socket);
  ssize_t send_to_peer(const Flow& flow, std::span<const std::byte> payload);
  Flow* flow_for(std::uint64_t socket, const wire::Endpoint& peer);
  void close_flow(std::uint16_t port);
  void expire();

  Stack& stack_;
  os::EventLoop& loop_;
  const RelayConfig& config_;
  RelayStats& stats_;
  std::map<std::uint64_t, Socket> sockets_;  // by forward id
  std::map<std::uint16_t, Flow> flows_;      // by gateway port
  std::map<std::pair<std::uint64_t, wire::Endpoint>, std::uint16_t> by_peer_;
  std::uint16_t next_port_ = 0;
  bool expiry_scheduled_ = false;
  os::EventLoop::TimerId expiry_timer_ = 0;
  std::vector<std::byte> buffer_;
};

}  // namespace synack::relay
