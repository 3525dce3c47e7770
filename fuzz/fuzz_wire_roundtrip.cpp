// SPDX-License-Identifier: MIT
// libFuzzer: parse -> build -> parse round trip of IP+TCP packets.
//
// Any input that parses must rebuild into a packet that parses to the same values (the
// IPv4 options and unknown TCP options we skip are not values, and SACK blocks that do not
// fit beside our option layout are left off as documented on emitted_sack_blocks()), and
// building again from that must give the same bytes: our output is a fixed point.
//
// Random mutations almost never keep the checksums right, so each input is also tried
// with its IPv4 header and TCP checksums repaired; that lets the fuzzer reach the option
// and header code past the checksum checks.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "wire/checksum.hpp"
#include "wire/packet.hpp"

namespace {

using namespace synack::wire;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

TcpOptions expected_after_emit(TcpOptions o) {
  const std::size_t kept = o.emitted_sack_blocks();
  for (std::size_t i = kept; i < kMaxSackBlocks; ++i) o.sack[i] = SackBlock{};
  o.sack_count = static_cast<std::uint8_t>(kept);
  return o;
}

constexpr std::size_t kIpv4ChecksumOffset = 10;  // RFC 791 §3.1
constexpr std::size_t kTcpChecksumOffset = 16;   // RFC 9293 §3.1

void store_u16(std::span<std::byte> b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::byte>(v >> 8);
  b[at + 1] = static_cast<std::byte>(v & 0xff);
}

// Rewrites the IPv4 header checksum and the TCP checksum so they are correct, where the
// lengths allow finding them.
void repair_checksums(std::vector<std::byte>& packet) {
  const std::span<std::byte> bytes{packet};
  auto ip = parse_ip_header(bytes);
  if (!ip && ip.error() == ParseError::BadIpv4HeaderChecksum) {
    const std::size_t ihl = (static_cast<unsigned>(bytes[0]) & 0x0f) * 4u;
    store_u16(bytes, kIpv4ChecksumOffset, 0);
    store_u16(bytes, kIpv4ChecksumOffset, internet_checksum(bytes.first(ihl)));
    ip = parse_ip_header(bytes);
  }
  if (!ip || ip->protocol != kProtoTcp) return;
  const auto segment = bytes.subspan(ip->header_length, ip->payload_length);
  if (segment.size() < kTcpChecksumOffset + 2) return;
  store_u16(segment, kTcpChecksumOffset, 0);
  store_u16(segment, kTcpChecksumOffset, tcp_checksum(ip->src, ip->dst, segment));
}

void round_trip(std::span<const std::byte> input) {
  const auto first = parse_tcp_packet(input);
  if (!first) return;

  // Our layout can take a few more option bytes than a packed original (e.g. timestamps
  // and one SACK block: 20 bytes as sent by some, 24 by us); skip inputs whose rebuilt
  // length would not fit the IP length field.
  const std::size_t segment = first->tcp.header_size() + first->payload.size();
  if (first->ip.is_v4() ? kIpv4MinHeader + segment > 0xffff : segment > 0xffff) return;

  std::vector<std::byte> built;
  build_tcp_packet(first->ip, first->tcp, first->payload, built);
  const auto second = parse_tcp_packet(built);
  check(second.has_value());

  const IpHeader& a = first->ip;
  const IpHeader& b = second->ip;
  check(a.src == b.src && a.dst == b.dst);
  check(b.protocol == kProtoTcp);
  check(a.ttl == b.ttl && a.tos == b.tos && a.id == b.id);
  check(a.dont_fragment == b.dont_fragment && a.flow_label == b.flow_label);
  check(b.header_length == b.emitted_header_size());

  const TcpHeader& x = first->tcp;
  const TcpHeader& y = second->tcp;
  check(x.src_port == y.src_port && x.dst_port == y.dst_port);
  check(x.seq == y.seq && x.ack == y.ack);
  check(x.flags == y.flags && x.window == y.window && x.urgent == y.urgent);
  check(y.data_offset * 4u == y.header_size());
  check(y.options == expected_after_emit(x.options));

  check(std::equal(first->payload.begin(), first->payload.end(), second->payload.begin(),
                   second->payload.end()));

  std::vector<std::byte> rebuilt;
  build_tcp_packet(second->ip, second->tcp, second->payload, rebuilt);
  check(rebuilt == built);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = std::as_bytes(std::span(data, size));
  round_trip(input);
  std::vector<std::byte> repaired(input.begin(), input.end());
  repair_checksums(repaired);
  round_trip(repaired);
  return 0;
}
