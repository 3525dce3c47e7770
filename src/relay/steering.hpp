// SPDX-License-Identifier: MIT
// `synack run --queues N`: N stacks, one per queue of a multi-queue TUN, each on a thread of
// its own (cli/run_lanes.cpp). The kernel keeps a flow on the queue that last wrote a packet
// of it, or else picks one by the flow's hash (os::TunConfig::queues), so a flow the namespace
// opens stays with the stack that answered its first packet. Three kinds of packet can still
// reach the wrong stack, and this is how each finds its own:
// - TCP: a segment that matches nothing in its stack is offered to the next stack round the
//   ring (Stack::set_stray_handler), and answered (RST, RFC 9293 §3.10.7.1) only by the last
//   one asked. A port forward's connection (opened by the first stack) after 3 s of silence,
//   when the kernel has forgotten its queue, is the common case.
// - ICMP: an error from the namespace goes to a queue chosen by its addresses, whatever flow
//   it quotes; one that quotes no connection of its stack goes round the ring the same way.
// - UDP: a datagram from a port a UDP forward sends to belongs to the forward's flows on the
//   first stack (queue 0); anywhere else it would open a new flow.
// Internal (not installed).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "relay/relay_config.hpp"

namespace synack::relay {

// The namespace's ports that forwards send to, per protocol: read by every queue's thread
// for each UDP datagram, written by the first when a forward is added. Ports are never
// removed (a removed forward's port only keeps sending that port's datagrams to queue 0,
// where they are handled as anywhere). Lock-free.
class ForwardPorts {
 public:
  void add(ForwardProtocol protocol, std::uint16_t port);
  bool contains(ForwardProtocol protocol, std::uint16_t port) const;

 private:
  using Bits = std::array<std::atomic<std::uint64_t>, 65536 / 64>;
  Bits& bits(ForwardProtocol p) { return p == ForwardProtocol::Udp ? udp_ : tcp_; }
  const Bits& bits(ForwardProtocol p) const { return p == ForwardProtocol::Udp ? udp_ : tcp_; }
  Bits tcp_{};
  Bits udp_{};
};

// The UDP source port of an IP packet from the namespace (IPv4 without fragmentation, or IPv6
// whose next header is UDP); nullopt for anything else or anything too short. Cannot fail.
std::optional<std::uint16_t> udp_source_port(std::span<const std::byte> packet);

}  // namespace synack::relay
