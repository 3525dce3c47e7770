// SPDX-License-Identifier: MIT
// Raw bytes into a live stack with connections open: the stack must drop and count whatever
// is malformed and never crash, hang or grow without bound.
//
// The input is split into packets by a 2-byte length prefix: its low 11 bits are the length
// (mod 2048), bits 11-12 say what becomes of the checksums (issue 11 §6: without repair nearly
// every input stopped at a checksum check and never reached the state machine):
//   0, 3  the IPv4 header checksum and the TCP checksum are recomputed (seeds are type 0)
//   1     the packet goes in as it is (the checksum checks themselves stay covered)
//   2     the IPv4 header checksum is recomputed and the stack is told the transport
//         checksum was verified by the link (ReceiveFlags::checksum_verified, as a TUN says)
// Before the fuzzed packets, a listener is opened and a real handshake with a scripted peer
// has completed, so fuzzed segments can reach LISTEN, SYN-SENT and ESTABLISHED code paths;
// every few packets virtual time advances to run timers.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "synack/stack.hpp"
#include "wire/checksum.hpp"
#include "wire/ip_header.hpp"
#include "wire/packet.hpp"

using namespace synack;

namespace {

std::vector<std::byte> make_packet(const wire::IpAddress& src, std::uint16_t sport,
                                   const wire::IpAddress& dst, std::uint16_t dport,
                                   std::uint32_t seq, std::uint32_t ack, std::uint8_t flags) {
  wire::IpHeader ip;
  ip.src = src;
  ip.dst = dst;
  wire::TcpHeader h;
  h.src_port = sport;
  h.dst_port = dport;
  h.seq = seq;
  h.ack = ack;
  h.flags = flags;
  h.window = 65535;
  std::vector<std::byte> out;
  wire::build_tcp_packet(ip, h, {}, out);
  return out;
}

// Recomputes the IPv4 header checksum (when it is an IPv4 header) and, with `tcp`, the TCP
// checksum, in place. Leaves anything it cannot parse as it is.
void repair_checksums(std::vector<std::byte>& p, bool tcp) {
  if (p.size() >= 20 && (std::to_integer<unsigned>(p[0]) >> 4) == 4) {
    std::size_t ihl = (std::to_integer<std::size_t>(p[0]) & 0xf) * 4;
    if (ihl >= 20 && ihl <= p.size()) {
      p[10] = p[11] = std::byte{0};
      std::uint16_t sum = wire::internet_checksum(std::span(p).first(ihl));
      p[10] = static_cast<std::byte>(sum >> 8);
      p[11] = static_cast<std::byte>(sum & 0xff);
    }
  }
  if (!tcp) return;
  auto ip = wire::parse_ip_header(p);
  if (!ip || ip->protocol != wire::kProtoTcp || ip->payload_length < 20) return;
  auto body = std::span(p).subspan(ip->header_length, ip->payload_length);
  body[16] = body[17] = std::byte{0};
  std::uint16_t sum = wire::tcp_checksum(ip->src, ip->dst, body);
  body[16] = static_cast<std::byte>(sum >> 8);
  body[17] = static_cast<std::byte>(sum & 0xff);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  StackConfig config;
  config.max_connections = 64;
  config.max_syn_queue = 16;
  config.tcp.send_buffer = 4096;
  config.tcp.receive_buffer = 4096;
  auto us = wire::IpAddress::v4(198, 18, 0, 1);
  auto peer = wire::IpAddress::v4(198, 18, 0, 2);
  Stack stack(config, {us});
  Instant now{};
  (void)stack.listen({us, 80}, now);
  (void)stack.connect({peer, 9000}, now);

  // A scripted handshake from the peer to port 80, so an ESTABLISHED connection exists.
  std::vector<std::byte> out;
  stack.receive_packet(make_packet(peer, 1234, us, 80, 1000, 0, wire::tcp_flag::SYN), now);
  std::uint32_t our_isn = 0;
  while (stack.pop_packet(out)) {
    auto p = wire::parse_tcp_packet(out);
    if (p && p->tcp.has(wire::tcp_flag::SYN) && p->tcp.has(wire::tcp_flag::ACK))
      our_isn = p->tcp.seq;
  }
  stack.receive_packet(make_packet(peer, 1234, us, 80, 1001, our_isn + 1, wire::tcp_flag::ACK),
                       now);

  std::size_t offset = 0;
  int packets = 0;
  std::vector<std::byte> packet;
  while (offset + 2 <= size && packets < 256) {
    const std::size_t prefix = static_cast<std::size_t>(data[offset]) << 8 | data[offset + 1];
    std::size_t len = prefix % 2048;
    const std::size_t repair = (prefix >> 11) & 3;
    offset += 2;
    if (len > size - offset) len = size - offset;
    packet.assign(reinterpret_cast<const std::byte*>(data + offset),
                  reinterpret_cast<const std::byte*>(data + offset + len));
    if (repair != 1) repair_checksums(packet, repair != 2);
    stack.receive_packet(packet, now, Stack::ReceiveFlags{.checksum_verified = repair == 2});
    offset += len;
    ++packets;
    if (packets % 8 == 0) {
      now += 250ms;
      stack.on_timer(now);
    }
    while (stack.pop_packet(out)) {
      // Everything the stack sends must itself parse.
      auto p = wire::parse_tcp_packet(out);
      if (!p && p.error() != wire::ParseError::NotTcp) __builtin_trap();
    }
  }
  if (stack.connection_count() > config.max_connections) __builtin_trap();
  return 0;
}
