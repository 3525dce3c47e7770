// SPDX-License-Identifier: MIT
// The user-mode network behind `synack run`: every TCP connection the namespace opens is
// terminated by synack's stack (intercepting) and relayed to a host socket connected to the
// same destination; the namespace's SYN is answered only once the host's connect succeeded
// (refused: RST; unreachable: ICMP), as libslirp does. Port forwards run the other way. UDP
// goes through UdpRelay. Runs inside an EventLoop; one thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "os/accept_rest.hpp"
#include "relay/ping.hpp"
#include "relay/relay_config.hpp"
#include "relay/splice.hpp"
#include "relay/udp_forward.hpp"
#include "relay/udp_relay.hpp"
#include "synack/event_loop.hpp"
#include "synack/stack.hpp"

namespace synack::relay {

class Relay {
 public:
  // Opens the port-forward listeners. Errors: which forward could not listen, and why.
  static Expected<std::unique_ptr<Relay>, std::string> create(Stack& stack, os::EventLoop& loop,
                                                              RelayConfig config);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // The loop's socket-event handler.
  void on_socket_event(const SocketEvent& ev);
  // Resets every relayed connection and closes every host socket (the namespace is gone).
  void shutdown();

  // CMD has exited, but its kernel may still hold data and FINs for the relayed connections
  // (the namespace lives on while its sockets or our TUN hold it): take no new connections
  // (forward listeners closed, pending and later connect requests refused, UDP flows closed)
  // and keep relaying the open ones until they finish on both sides.
  void begin_drain();
  // Every relayed connection has ended, and every stack connection is closed or in TIME-WAIT.
  bool drained() const;
  struct DrainLoss {
    std::uint64_t connections = 0;
    std::uint64_t bytes = 0;  // toward the host, known to synack (see RelayStats)
  };
  // The drain timeout (or a signal): resets what is left and counts it.
  DrainLoss abort_drain();

  RelayStats stats() const;

  // Port forwards, TCP and UDP, given at start or at run time (relay_forwards.cpp): `synack
  // forward`, the slirp4netns API socket. add_forward listens on (TCP) or binds (UDP)
  // forward.host and returns the forward's id (ids count up from 1 for both protocols and are
  // never reused). Errors: a message — the same protocol, host address and port is forwarded
  // already, or overlaps another forward (0.0.0.0 and 127.0.0.1 of one port), the port is in
  // use (bind's EADDRINUSE), the address is not the host's, the relay is draining.
  // remove_forward closes the host socket: a TCP forward's accepted connections live on; a UDP
  // forward's flows end (RelayStats::udp_forward_flows_removed counts them). False: no forward
  // has that id. forwards(): by id, both protocols.
  Expected<std::uint64_t, std::string> add_forward(const PortForward& forward);
  bool remove_forward(std::uint64_t id);
  std::vector<std::pair<std::uint64_t, PortForward>> forwards() const;

 private:
  Relay(Stack& stack, os::EventLoop& loop, RelayConfig config);
  struct Connecting {
    int fd = -1;
    os::EventLoop::TimerId timer = 0;
  };
  void stop_accepting();
  void on_connect_requests();
  void start_connect(const ConnectRequest& request);
  void finish_connect(std::uint64_t request, int error);
  // The host connect of `request` on `fd` ended (error 0: connected); `fd` is not in
  // connecting_ any more (or never was); `watched`: it is in the loop's epoll set.
  void complete_connect(std::uint64_t request, int fd, int error, bool watched);
  void on_forward_ready(std::uint64_t forward_id);
  void add_splice(ConnectionId id, int fd, bool watch_handshake = true);
  void bury(ConnectionId id);
  void sweep();

  Stack& stack_;
  os::EventLoop& loop_;
  RelayConfig config_;
  UdpForwarder udp_forwards_;  // -p .../udp (before udp_, which hands it their answers)
  UdpRelay udp_;
  PingRelay ping_;
  std::unordered_map<ConnectionId, std::unique_ptr<Splice>> splices_;
  std::unordered_map<std::uint64_t, Connecting> connecting_;
  struct Listener {
    int fd = -1;
    PortForward forward;
    // Rests the listener while accept4() finds no descriptors (or memory) for a connection.
    std::unique_ptr<os::AcceptRest<os::EventLoop>> rest;
  };
  std::map<std::uint64_t, Listener> listeners_;  // by forward id
  std::uint64_t next_forward_id_ = 1;
  std::vector<ConnectionId> graveyard_;  // done splices, destroyed outside their callbacks
  bool draining_ = false;
  bool sweep_scheduled_ = false;
  os::EventLoop::TimerId sweep_timer_ = 0;
  RelayStats stats_;
  SpliceStats bytes_;
};

}  // namespace synack::relay
