// SPDX-License-Identifier: MIT
#include "sim/offload_host.hpp"

#include <algorithm>

#include "wire/packet.hpp"

namespace synack::sim {
namespace {

namespace flag = wire::tcp_flag;

constexpr std::size_t kMaxCoalescedPacket = 65535;  // Linux: gro_max_size, an IP packet's bound

// A segment held for coalescing: its first packet's headers, the payload so far.
struct Held {
  wire::IpHeader ip;
  wire::TcpHeader tcp;
  std::vector<std::byte> options;  // the first segment's option bytes, as sent
  std::vector<std::byte> payload;
  std::size_t first_length = 0;  // the first segment's payload: nothing longer joins
  std::size_t header_bytes = 0;  // IP + TCP header of the first
};

bool same_flow(const Held& h, const wire::TcpPacket& p) {
  return h.ip.src == p.ip.src && h.ip.dst == p.ip.dst && h.tcp.src_port == p.tcp.src_port &&
         h.tcp.dst_port == p.tcp.dst_port;
}

// Linux's tcp_gro_receive: these flags end the packet once the segment carrying them joins
// it (or, on a segment of its own, keep it from being held at all).
constexpr std::uint8_t kEndsPacket = flag::URG | flag::PSH | flag::RST | flag::SYN | flag::FIN;

std::span<const std::byte> option_bytes(std::span<const std::byte> packet,
                                        const wire::TcpPacket& p) {
  const std::size_t start = p.ip.header_length + wire::kTcpMinHeader;
  const std::size_t end = p.ip.header_length + static_cast<std::size_t>(p.tcp.data_offset) * 4;
  if (end < start || end > packet.size()) return {};
  return packet.subspan(start, end - start);
}

Packet build(const Held& h) {
  Packet out;
  wire::build_tcp_packet(h.ip, h.tcp, h.payload, out);
  return out;
}

}  // namespace

std::vector<Packet> segment_burst(std::span<const std::byte> packet, std::uint16_t gso_size) {
  std::vector<Packet> pieces;
  auto whole = [&] {
    pieces.emplace_back(packet.begin(), packet.end());
    return pieces;
  };
  if (gso_size == 0) return whole();  // not a burst: nothing to parse
  auto parsed = wire::parse_tcp_packet(packet);
  if (!parsed || parsed->payload.size() <= gso_size) return whole();
  const std::size_t n = parsed->payload.size();
  wire::IpHeader ip = parsed->ip;
  for (std::size_t off = 0; off < n; off += gso_size) {
    const std::size_t len = std::min<std::size_t>(gso_size, n - off);
    wire::TcpHeader tcp = parsed->tcp;
    tcp.seq += static_cast<std::uint32_t>(off);
    // Linux's tcp_gso_segment: CWR on the first segment only, PSH and FIN on the last only.
    if (off > 0) tcp.flags &= static_cast<std::uint8_t>(~flag::CWR);
    if (off + len < n) tcp.flags &= static_cast<std::uint8_t>(~(flag::PSH | flag::FIN));
    pieces.emplace_back();
    wire::build_tcp_packet(ip, tcp, parsed->payload.subspan(off, len), pieces.back());
    ++ip.id;  // each piece its own IPv4 identification, counting up (inet_gso_segment)
  }
  return pieces;
}

std::vector<Packet> coalesce_batch(std::vector<Packet> batch, CoalesceCounters* counters) {
  std::vector<Packet> out;
  std::vector<Held> held;  // one per flow, in the order they were started
  auto emit = [&](Packet p) {
    out.push_back(std::move(p));
    if (counters) ++counters->out;
  };
  auto finish = [&](std::size_t i) {
    emit(build(held[i]));
    held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
  };
  for (Packet& packet : batch) {
    auto parsed = wire::parse_tcp_packet(packet);
    if (!parsed) {
      // Not coalescable (another protocol, a bad checksum): after everything held before it.
      while (!held.empty()) finish(0);
      emit(std::move(packet));
      continue;
    }
    const wire::TcpPacket& p = *parsed;
    const std::span<const std::byte> options = option_bytes(packet, p);
    const std::size_t len = p.payload.size();
    auto it =
        std::find_if(held.begin(), held.end(), [&](const Held& h) { return same_flow(h, p); });
    if (it != held.end()) {
      Held& h = *it;
      const bool joins =
          !(p.tcp.flags & flag::CWR) &&
          ((p.tcp.flags ^ h.tcp.flags) & ~(flag::CWR | flag::PSH | flag::FIN)) == 0 &&
          p.tcp.ack == h.tcp.ack && std::ranges::equal(options, h.options) &&
          p.ip.ttl == h.ip.ttl && p.ip.tos == h.ip.tos &&
          p.ip.dont_fragment == h.ip.dont_fragment && len > 0 && len <= h.first_length &&
          h.tcp.seq + static_cast<std::uint32_t>(h.payload.size()) == p.tcp.seq &&
          h.header_bytes + h.payload.size() + len <= kMaxCoalescedPacket;
      const std::size_t index = static_cast<std::size_t>(it - held.begin());
      if (joins) {
        h.payload.insert(h.payload.end(), p.payload.begin(), p.payload.end());
        h.tcp.flags |= static_cast<std::uint8_t>(p.tcp.flags & (flag::PSH | flag::FIN));
        if (counters) ++counters->merged;
        if (len < h.first_length || (p.tcp.flags & kEndsPacket)) finish(index);
        continue;
      }
      finish(index);  // the flow's held packet goes up first, then this one is considered
    }
    if (len == 0 || (p.tcp.flags & kEndsPacket)) {
      emit(std::move(packet));
      continue;
    }
    Held h;
    h.ip = p.ip;
    h.tcp = p.tcp;
    h.options.assign(options.begin(), options.end());
    h.payload.assign(p.payload.begin(), p.payload.end());
    h.first_length = len;
    h.header_bytes = p.ip.header_length + static_cast<std::size_t>(p.tcp.data_offset) * 4;
    held.push_back(std::move(h));
  }
  while (!held.empty()) finish(0);
  return out;
}

void OffloadHost::receive_packet(std::span<const std::byte> packet, Instant now) {
  if (options_.coalescing && in_batch_) {
    batch_.emplace_back(packet.begin(), packet.end());
    return;
  }
  stack_.receive_packet(packet, now);
}

void OffloadHost::begin_batch() {
  in_batch_ = true;
  if (!options_.coalescing) stack_.begin_batch();
}

void OffloadHost::end_batch(Instant now) {
  in_batch_ = false;
  if (options_.coalescing) {
    std::vector<Packet> packets = coalesce_batch(std::move(batch_), &coalesced_);
    batch_.clear();
    stack_.begin_batch();
    for (const Packet& p : packets) stack_.receive_packet(p, now);
  }
  stack_.end_batch(now);
}

bool OffloadHost::pop_packet(std::vector<std::byte>& out) {
  if (pieces_.empty()) {
    std::uint16_t gso = 0;
    if (!stack_.pop_packet(burst_, &gso)) return false;
    if (!options_.segmentation || gso == 0) {
      out.swap(burst_);
      return true;
    }
    std::vector<Packet> cut = segment_burst(burst_, gso);
    if (cut.size() > 1) ++bursts_cut_;
    for (Packet& piece : cut) pieces_.push_back(std::move(piece));
  }
  out = std::move(pieces_.front());
  pieces_.pop_front();
  return true;
}

}  // namespace synack::sim
