// SPDX-License-Identifier: MIT
// Packets for the SYN cookie tests: a scripted peer's SYNs and ACKs, and what the stack sent.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "synack/stack.hpp"
#include "wire/packet.hpp"

namespace synack::cookie_test {

struct Peer {
  wire::Endpoint from;
  wire::Endpoint to;
};

inline std::vector<std::byte> tcp_packet(const Peer& p, SeqNum seq, SeqNum ack, std::uint8_t flags,
                                         const wire::TcpOptions& options = {},
                                         std::string_view payload = {},
                                         std::uint16_t window = 65535) {
  wire::IpHeader ip;
  ip.src = p.from.addr;
  ip.dst = p.to.addr;
  wire::TcpHeader h;
  h.src_port = p.from.port;
  h.dst_port = p.to.port;
  h.seq = seq.raw();
  h.ack = ack.raw();
  h.flags = flags;
  h.window = window;
  h.options = options;
  std::vector<std::byte> out;
  wire::build_tcp_packet(ip, h, std::as_bytes(std::span(payload.data(), payload.size())), out);
  return out;
}

// Every TCP packet the stack has queued, parsed (the bytes are kept alive alongside).
struct Sent {
  wire::TcpHeader tcp;
  wire::Endpoint dst;
  std::vector<std::byte> payload;
};
inline std::vector<Sent> drain(Stack& s) {
  std::vector<Sent> out;
  std::vector<std::byte> buf;
  while (s.pop_packet(buf)) {
    auto p = wire::parse_tcp_packet(buf);
    if (!p) continue;
    out.push_back(Sent{p->tcp, wire::Endpoint{p->ip.dst, p->tcp.dst_port},
                       std::vector<std::byte>(p->payload.begin(), p->payload.end())});
  }
  return out;
}

}  // namespace synack::cookie_test
