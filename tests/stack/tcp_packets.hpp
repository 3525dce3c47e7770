// SPDX-License-Identifier: MIT
// What the stack's tests that hand it packets share: a TCP segment in an IP packet, as a peer
// (or a forger) would send it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "synack/address.hpp"
#include "wire/packet.hpp"

namespace synack::tcp_packets {

// The options a segment carries: none unless given. `syn_mss` only on a SYN; a timestamp
// option with TSecr 0.
struct Options {
  std::optional<std::uint16_t> syn_mss;
  std::optional<std::uint32_t> tsval;
};

// From `from` to `to`, window 65535, checksums correct.
inline std::vector<std::byte> tcp_packet(const wire::Endpoint& from, const wire::Endpoint& to,
                                         std::uint8_t flags, std::uint32_t seq,
                                         std::uint32_t ack = 0,
                                         std::span<const std::byte> payload = {},
                                         Options options = {}) {
  wire::IpHeader ip;
  ip.src = from.addr;
  ip.dst = to.addr;
  wire::TcpHeader h;
  h.src_port = from.port;
  h.dst_port = to.port;
  h.seq = seq;
  h.ack = ack;
  h.flags = flags;
  h.window = 65535;
  if ((flags & wire::tcp_flag::SYN) && options.syn_mss) h.options.mss = *options.syn_mss;
  if (options.tsval) h.options.timestamps = wire::Timestamps{*options.tsval, 0};
  std::vector<std::byte> out;
  wire::build_tcp_packet(ip, h, payload, out);
  return out;
}

}  // namespace synack::tcp_packets
